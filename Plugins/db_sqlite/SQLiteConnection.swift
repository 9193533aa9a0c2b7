// SQLiteConnection: what connect() returns — a pool of sqlite3 handles on one database, shared by every thread.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CSQLite
import SwitchyardABI

/// One `sy_db_conn`: a pool of SQLite connections to one database file, safe to use from any number of threads.
///
/// Every call takes an idle handle (opening a new one, up to `maxHandles`, when none is idle), runs on it and puts it
/// back, so concurrent readers run in parallel (WAL) and concurrent writers queue on SQLite's write lock, each waiting
/// up to `busyTimeoutMs` (sqlite3_busy_timeout) before SY_DB_E_BUSY. When `maxHandles` are all in use, a caller waits
/// for one, within the same bound.
///
/// A transaction pins its handle to the calling thread: every call that thread makes on this connection until the
/// transaction ends runs on that handle, i.e. inside the transaction; calls from other threads do not.
///
/// The file is checked before every call that takes a handle: when the path names another file than the one the
/// handles were opened on (replaced by `mv`, or deleted and created again), the old handles are closed and new ones
/// opened on the file that is there now; when the path names no file, the call fails and says so. A reload therefore
/// always reads the current file, or fails.
///
/// `:memory:` has a single handle (each SQLite connection would otherwise see its own empty database), so its callers
/// take turns.
final class SQLiteConnection: @unchecked Sendable {
    let url: DatabaseURL
    let busyTimeoutMs: Int32
    let maxHandles: Int
    /// The driver instance that opened it: its log.
    let driver: DriverSettings

    // Guarded by `mutex`.
    private var idle: [Handle] = []
    private var opened = 0
    private var pins: [UInt: Pin] = [:]
    /// (device, inode) of the file the handles are open on; handles of an older `generation` are closed when given back.
    private var fileIdentity: FileIdentity?
    private var generation = 0
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let available: UnsafeMutablePointer<pthread_cond_t>

    /// A transaction in progress on one thread: its handle and how many transaction() calls are nested (savepoints).
    final class Pin {
        let handle: Handle
        var depth = 0
        init(_ handle: Handle) { self.handle = handle }
    }

    /// Opens the database (creating the file, and its directory, when missing) with one handle, switching a file
    /// database to WAL journaling. When the file did not exist, the `initSQL` files are run on it (see runInitSQL).
    init(url: DatabaseURL, busyTimeoutMs: Int32, maxHandles: Int, initSQL: [String] = [],
         driver: DriverSettings) throws(DBError) {
        self.url = url
        self.driver = driver
        self.busyTimeoutMs = max(0, busyTimeoutMs)
        self.maxHandles = url == .memory ? 1 : max(1, maxHandles)
        mutex = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        available = .allocate(capacity: 1)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        #if !canImport(Darwin)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(available, &attr)
        pthread_condattr_destroy(&attr)

        var created = false
        if case .file(let path) = url {
            try DatabaseURL.makeParentDirectory(of: path)
            var st = stat()
            created = stat(path, &st) != 0 && errno == ENOENT
        }
        let first = try openHandle(first: true)
        if created, !initSQL.isEmpty, case .file(let path) = url {
            do {
                try Self.runInitSQL(initSQL, on: first, path: path, driver: driver)
            } catch {
                // Leave no half-provisioned file behind (the failed transaction was rolled back; unlinking an open
                // file is fine): the next start creates and provisions it again.
                for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
                throw error
            }
        }
        idle.append(first)
        opened = 1
        if case .file(let path) = url { fileIdentity = FileIdentity(path: path) }
    }

    /// Which file a path names right now.
    struct FileIdentity: Equatable {
        let device: UInt64
        let inode: UInt64
        init?(path: String) {
            var st = stat()
            guard stat(path, &st) == 0 else { return nil }
            device = UInt64(st.st_dev)
            inode = UInt64(st.st_ino)
        }
    }

    /// Before taking a handle (the mutex held): the handles follow the file the path names now.
    private func followFileLocked() throws(DBError) {
        guard case .file(let path) = url else { return }
        guard let now = FileIdentity(path: path) else {
            throw DBError(SY_DB_E_CONNECT, "database file \(path) is missing: \(String(cString: strerror(errno)))")
        }
        guard now != fileIdentity else { return }
        let hadOne = fileIdentity != nil
        fileIdentity = now
        generation += 1
        opened -= idle.count
        idle.removeAll() // closes them; handles in use are closed when given back
        if hadOne { driver.log(.notice, "\(path) was replaced: reopening it") }
    }

    /// Runs each `init_sql` file (in order) on a freshly created database. The files may hold any SQL, their own
    /// transactions included; on a failure the caller deletes the new file, which is the rollback.
    private static func runInitSQL(_ files: [String], on handle: Handle, path: String, driver: DriverSettings) throws(DBError) {
        for file in files {
            guard let sql = readTextFile(file) else {
                let reason = String(cString: strerror(errno))
                throw DBError(SY_DB_E_CONNECT, "init_sql: cannot read \(file): \(reason)")
            }
            var msg: UnsafeMutablePointer<CChar>? = nil
            let rc = sqlite3_exec(handle.db, sql, nil, nil, &msg)
            if rc != SQLITE_OK {
                let text = msg.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
                sqlite3_free(msg)
                throw DBError(SY_DB_E_CONNECT, "init_sql \(file) failed on new database \(path): \(text)")
            }
        }
        driver.log(.notice, "created database \(path) and ran init_sql \(files.joined(separator: ", "))")
    }

    /// The whole file as text; nil (errno set) when it cannot be read.
    static func readTextFile(_ path: String) -> String? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n > 0 { bytes.append(contentsOf: buf[0..<n]) }
            if n < buf.count {
                if ferror(f) != 0 { return nil }
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    deinit {
        idle.removeAll() // closes the handles
        pthread_cond_destroy(available)
        available.deallocate()
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Handles in use right now (close() checks that no call is in flight).
    var busyHandles: Int {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return opened - idle.count
    }

    // MARK: Handles

    private func openHandle(first: Bool) throws(DBError) -> Handle {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(url.display, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let e = DBError.sqlite(rc, db, context: "cannot open database", path: url.display, busyTimeoutMs: busyTimeoutMs)
            sqlite3_close_v2(db)
            throw DBError(SY_DB_E_CONNECT, e.message.hasSuffix(")") ? e.message : "\(e.message) (\(url.display))")
        }
        let handle = Handle(db: db)
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMs)
        // A "quoted" name that matches no column must be an error (SY_DB_E_NO_TABLE), not SQLite's legacy fallback
        // to a string literal: identifiers are double-quoted here.
        _ = sy_sqlite3_db_config_int(db, SQLITE_DBCONFIG_DQS_DML, 0)
        do {
            try execute("PRAGMA foreign_keys = ON", on: handle)
            if first, case .file = url {
                // WAL: readers never block the writer nor each other; persistent in the file once set. Reading the
                // mode reads the file header, so a file that is not a database fails here, at connect time.
                try execute("PRAGMA journal_mode = WAL", on: handle)
            }
        } catch {
            if error.code == SY_DB_E_BUSY.rawValue {
                // Locked by another process beyond busy_timeout: the file is a database; WAL can wait for later.
                driver.log(.warn, "\(url.display): could not switch to WAL journaling now (\(error.message))")
                return handle
            }
            throw DBError(SY_DB_E_CONNECT, error.message.contains(url.display) ? error.message : "\(error.message) (\(url.display))")
        }
        return handle
    }

    /// A handle for the calling thread: its transaction's, or an idle one, or a new one; waits (bounded) at the limit.
    func acquire() throws(DBError) -> (handle: Handle, pinned: Bool) {
        let me = currentThreadKey()
        pthread_mutex_lock(mutex)
        if let pin = pins[me] {
            pthread_mutex_unlock(mutex)
            return (pin.handle, true)
        }
        var deadline = timespec()
        var haveDeadline = false
        while true {
            do { try followFileLocked() } catch {
                pthread_mutex_unlock(mutex)
                throw error
            }
            if let h = idle.popLast() {
                pthread_mutex_unlock(mutex)
                return (h, false)
            }
            if opened < maxHandles {
                opened += 1
                let gen = generation
                // The first handle on a file checks that it is a database (and sets WAL), as at connect time.
                let first = opened == 1
                pthread_mutex_unlock(mutex)
                do {
                    let h = try openHandle(first: first)
                    h.generation = gen
                    return (h, false)
                } catch {
                    pthread_mutex_lock(mutex)
                    opened -= 1
                    pthread_cond_signal(available)
                    pthread_mutex_unlock(mutex)
                    throw error
                }
            }
            if !haveDeadline {
                deadline = Self.deadline(afterMs: busyTimeoutMs)
                haveDeadline = true
            }
            if pthread_cond_timedwait(available, mutex, &deadline) == ETIMEDOUT && idle.isEmpty && opened >= maxHandles {
                pthread_mutex_unlock(mutex)
                throw DBError.busy("all \(maxHandles) connections to \(url.display) are in use (waited \(busyTimeoutMs) ms)")
            }
        }
    }

    /// Gives a handle back after a call (a pinned one stays with its transaction).
    func release(_ handle: Handle, pinned: Bool) {
        if pinned { return }
        if handle.inTransaction {
            // Someone ran BEGIN through raw_query: do not let the next caller inherit the open transaction.
            driver.log(.warn, "\(url.display): a transaction was left open outside transaction(); rolled back")
            try? execute("ROLLBACK", on: handle)
        }
        pthread_mutex_lock(mutex)
        if handle.generation == generation { idle.append(handle) } else { opened -= 1 } // of a replaced file: closed
        pthread_cond_signal(available)
        pthread_mutex_unlock(mutex)
    }

    /// Runs `body` with a handle for the calling thread.
    func withHandle<R>(_ body: (Handle, _ pinned: Bool) throws(DBError) -> R) throws(DBError) -> R {
        let (h, pinned) = try acquire()
        defer { release(h, pinned: pinned) }
        return try body(h, pinned)
    }

    private static func deadline(afterMs ms: Int32) -> timespec {
        var ts = timespec()
        #if canImport(Darwin)
        clock_gettime(CLOCK_REALTIME, &ts)
        #else
        clock_gettime(CLOCK_MONOTONIC, &ts)
        #endif
        let ns = Int(ts.tv_nsec) + Int(ms % 1000) * 1_000_000
        ts.tv_sec += Int(ms / 1000) + ns / 1_000_000_000
        ts.tv_nsec = ns % 1_000_000_000
        return ts
    }

    // MARK: Errors

    func error(_ rc: Int32, _ handle: Handle?, context: String) -> DBError {
        DBError.sqlite(rc, handle?.db, context: context, path: url.display, busyTimeoutMs: busyTimeoutMs)
    }

    // MARK: Running statements

    /// Runs one statement of fixed SQL (no parameters, rows ignored), e.g. BEGIN IMMEDIATE.
    func execute(_ sql: String, on handle: Handle) throws(DBError) {
        let stmt = try handle.take(sql, errorContext: sql, connection: self)
        defer { handle.giveBack(sql, stmt) }
        var rc: Int32
        repeat { rc = sqlite3_step(stmt) } while rc == SQLITE_ROW
        guard rc == SQLITE_DONE else { throw error(rc, handle, context: sql) }
    }

    /// Runs `sql` (one statement, cached) with `params` bound to its placeholders in order. Rows go to `row`;
    /// returns the rows delivered for a statement with a result, else the rows it changed.
    func run(_ sql: String, params: [UnsafePointer<sy_db_value>], row: sy_db_row_fn?, arg: UnsafeMutableRawPointer?,
             context: String) throws(DBError) -> Int64 {
        try withHandle { (handle, _) throws(DBError) -> Int64 in
            let stmt = try handle.take(sql, errorContext: context, connection: self)
            defer { handle.giveBack(sql, stmt) }
            let expected = Int(sqlite3_bind_parameter_count(stmt))
            guard expected == params.count else {
                throw DBError.badArg("\(context): the SQL has \(expected) placeholders, \(params.count) parameters given")
            }
            for (i, p) in params.enumerated() { try bind(p, to: stmt, at: Int32(i + 1), context: context) }
            var stopped = false
            return try step(stmt, on: handle, row: row, arg: arg, stopped: &stopped, context: context)
        }
    }

    /// Steps a bound statement to the end (or until the row callback asks to stop).
    func step(_ stmt: OpaquePointer, on handle: Handle, row: sy_db_row_fn?, arg: UnsafeMutableRawPointer?,
              stopped: inout Bool, context: String) throws(DBError) -> Int64 {
        let ncols = Int(sqlite3_column_count(stmt))
        let totalBefore = sqlite3_total_changes(handle.db)
        var rows: Int64 = 0
        var values = [sy_db_value](repeating: sy_db_value(), count: max(ncols, 1))
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_ROW {
                rows += 1
                guard let row, !stopped else { continue }
                for c in 0..<ncols { Self.read(stmt, column: Int32(c), into: &values[c]) }
                let stop = values.withUnsafeBufferPointer { row(arg, $0.baseAddress, UInt32(ncols)) }
                if stop != 0 {
                    stopped = true
                    break
                }
            } else if rc == SQLITE_DONE {
                break
            } else {
                throw error(rc, handle, context: context)
            }
        }
        if ncols > 0 { return rows }
        // sqlite3_changes keeps the count of the last INSERT/UPDATE/DELETE: only trust it if this one changed rows.
        return sqlite3_total_changes(handle.db) == totalBefore ? 0 : Int64(sqlite3_changes(handle.db))
    }

    /// Binds one caller value (SQLITE_STATIC: the caller's bytes outlive the statement's use; bindings are cleared
    /// before the statement goes back to the cache).
    func bind(_ v: UnsafePointer<sy_db_value>, to stmt: OpaquePointer, at index: Int32, context: String) throws(DBError) {
        let value = v.pointee
        let rc: Int32
        switch value.type {
        case Int32(SY_DB_NULL.rawValue):
            rc = sqlite3_bind_null(stmt, index)
        case Int32(SY_DB_INT.rawValue):
            rc = sqlite3_bind_int64(stmt, index, value.i)
        case Int32(SY_DB_DOUBLE.rawValue):
            rc = sqlite3_bind_double(stmt, index, value.d)
        case Int32(SY_DB_STR.rawValue):
            if value.s.len == 0 {
                rc = sqlite3_bind_text(stmt, index, "", 0, sqliteTransient)
            } else {
                guard let s = value.s.s else { throw DBError.badArg("\(context): parameter \(index): NULL string pointer with length \(value.s.len)") }
                rc = sqlite3_bind_text64(stmt, index, s, UInt64(value.s.len), nil, UInt8(SQLITE_UTF8))
            }
        case Int32(SY_DB_BLOB.rawValue):
            if value.s.len == 0 {
                rc = sqlite3_bind_zeroblob(stmt, index, 0)
            } else {
                guard let s = value.s.s else { throw DBError.badArg("\(context): parameter \(index): NULL blob pointer with length \(value.s.len)") }
                rc = sqlite3_bind_blob64(stmt, index, s, UInt64(value.s.len), nil)
            }
        default:
            throw DBError.badArg("\(context): parameter \(index): unknown value type \(value.type)")
        }
        guard rc == SQLITE_OK else { throw error(rc, nil, context: "\(context): parameter \(index)") }
    }

    /// One column of the current row as a sy_db_value borrowing SQLite's memory (valid until the next step).
    static func read(_ stmt: OpaquePointer, column c: Int32, into v: inout sy_db_value) {
        v = sy_db_value()
        switch sqlite3_column_type(stmt, c) {
        case SQLITE_INTEGER:
            v.type = Int32(SY_DB_INT.rawValue)
            v.i = sqlite3_column_int64(stmt, c)
        case SQLITE_FLOAT:
            v.type = Int32(SY_DB_DOUBLE.rawValue)
            v.d = sqlite3_column_double(stmt, c)
        case SQLITE_TEXT:
            v.type = Int32(SY_DB_STR.rawValue)
            let p = sqlite3_column_text(stmt, c) // before _bytes, as SQLite asks
            v.s = sy_str(s: UnsafeRawPointer(p)?.assumingMemoryBound(to: CChar.self), len: Int(sqlite3_column_bytes(stmt, c)))
        case SQLITE_BLOB:
            v.type = Int32(SY_DB_BLOB.rawValue)
            let p = sqlite3_column_blob(stmt, c)
            v.s = sy_str(s: p?.assumingMemoryBound(to: CChar.self), len: Int(sqlite3_column_bytes(stmt, c)))
        default:
            v.type = Int32(SY_DB_NULL.rawValue)
        }
    }

    // MARK: raw_query

    /// Any SQL: one statement with `?` placeholders bound to `params` (cached), or — with no parameters — a script of
    /// several `;`-separated statements run in order (schema files). Returns rows delivered plus rows changed.
    func rawQuery(_ sql: sy_str, params: UnsafeBufferPointer<sy_db_value>, row: sy_db_row_fn?,
                  arg: UnsafeMutableRawPointer?) throws(DBError) -> Int64 {
        guard sql.len > 0, let base = sql.s else { throw DBError.badArg("raw_query: empty SQL") }
        let text = String(decoding: UnsafeRawBufferPointer(start: base, count: sql.len), as: UTF8.self)
        let pointers = (0..<params.count).map { params.baseAddress! + $0 }
        return try withHandle { (handle, _) throws(DBError) -> Int64 in
            let end = base + sql.len
            var stmt = handle.cached(text) // only single statements are ever cached
            var tail: UnsafePointer<CChar>? = nil
            if stmt == nil {
                let rc = sqlite3_prepare_v3(handle.db, base, Int32(clamping: sql.len), UInt32(SQLITE_PREPARE_PERSISTENT),
                                            &stmt, &tail)
                guard rc == SQLITE_OK else {
                    sqlite3_finalize(stmt)
                    throw error(rc, handle, context: "raw_query")
                }
            }
            guard let first = stmt else { return 0 } // only spaces and comments
            guard Self.hasMoreSQL(handle: handle, from: tail, to: end) else {
                defer { handle.giveBack(text, first) }
                let expected = Int(sqlite3_bind_parameter_count(first))
                guard expected == params.count else {
                    throw DBError.badArg("raw_query: the SQL has \(expected) placeholders, \(params.count) parameters given")
                }
                for (i, p) in pointers.enumerated() { try bind(p, to: first, at: Int32(i + 1), context: "raw_query") }
                var stopped = false
                return try step(first, on: handle, row: row, arg: arg, stopped: &stopped, context: "raw_query")
            }
            // A script: run each statement in turn (not cached); rows of every statement go to the callback.
            guard params.isEmpty else {
                sqlite3_finalize(first)
                throw DBError.badArg("raw_query: parameters are only accepted with a single SQL statement")
            }
            var total: Int64 = 0
            var stopped = false
            var current: OpaquePointer? = first
            var next = tail
            var number = 1
            while let s = current {
                defer { sqlite3_finalize(s) }
                if sqlite3_bind_parameter_count(s) > 0 {
                    throw DBError.badArg("raw_query: statement \(number) of the script has placeholders but no parameters are given")
                }
                total += try step(s, on: handle, row: row, arg: arg, stopped: &stopped, context: "raw_query statement \(number)")
                current = nil
                guard let from = next, from < end else { break }
                var after: UnsafePointer<CChar>?
                let rc = sqlite3_prepare_v3(handle.db, from, Int32(clamping: end - from), 0, &current, &after)
                guard rc == SQLITE_OK else {
                    sqlite3_finalize(current)
                    throw error(rc, handle, context: "raw_query statement \(number + 1)")
                }
                next = after
                number += 1
            }
            return total
        }
    }

    /// True if the text between `from` and `end` holds another statement (not just spaces, `;` and comments).
    private static func hasMoreSQL(handle: Handle, from: UnsafePointer<CChar>?, to end: UnsafePointer<CChar>) -> Bool {
        guard let from, from < end else { return false }
        var p = from
        while p < end, [UInt8(ascii: " "), 9, 10, 13, UInt8(ascii: ";")].contains(UInt8(bitPattern: p.pointee)) { p += 1 }
        if p == end { return false }
        var probe: OpaquePointer?
        let rc = sqlite3_prepare_v3(handle.db, p, Int32(clamping: end - p), 0, &probe, nil)
        sqlite3_finalize(probe)
        return rc != SQLITE_OK || probe != nil
    }

    // MARK: Transactions

    /// Runs `fn(arg, c)` in a transaction (BEGIN IMMEDIATE ... COMMIT / ROLLBACK), or in a savepoint when the calling
    /// thread is already inside one on this connection. Returns 0 when committed.
    func transaction(_ fn: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?) -> Int32,
                     arg: UnsafeMutableRawPointer?, conn: OpaquePointer?) throws(DBError) -> Int32 {
        let me = currentThreadKey()
        pthread_mutex_lock(mutex)
        let existing = pins[me]
        pthread_mutex_unlock(mutex)

        if let pin = existing {
            pin.depth += 1
            defer { pin.depth -= 1 }
            let name = "sy_tx_\(pin.depth)"
            try execute("SAVEPOINT \(name)", on: pin.handle)
            let rc = fn(arg, conn)
            if rc == 0 {
                do {
                    try execute("RELEASE \(name)", on: pin.handle)
                } catch {
                    try? execute("ROLLBACK TO \(name)", on: pin.handle)
                    try? execute("RELEASE \(name)", on: pin.handle)
                    throw error
                }
                return 0
            }
            if pin.handle.inTransaction {
                try? execute("ROLLBACK TO \(name)", on: pin.handle)
                try? execute("RELEASE \(name)", on: pin.handle)
            }
            throw Self.rolledBack(rc)
        }

        let (handle, _) = try acquire()
        do {
            try execute("BEGIN IMMEDIATE", on: handle)
        } catch {
            release(handle, pinned: false)
            throw error
        }
        let pin = Pin(handle)
        pin.depth = 1
        pthread_mutex_lock(mutex)
        pins[me] = pin
        pthread_mutex_unlock(mutex)
        defer {
            pthread_mutex_lock(mutex)
            pins[me] = nil
            pthread_mutex_unlock(mutex)
            release(handle, pinned: false)
        }

        let rc = fn(arg, conn)
        guard rc == 0 else {
            if handle.inTransaction { try? execute("ROLLBACK", on: handle) }
            throw Self.rolledBack(rc)
        }
        guard handle.inTransaction else {
            throw DBError.other("transaction: SQLite rolled the transaction back after an error inside it")
        }
        do {
            try execute("COMMIT", on: handle)
        } catch {
            if handle.inTransaction { try? execute("ROLLBACK", on: handle) }
            throw DBError(sy_db_error_code(rawValue: error.code), "transaction: commit failed, rolled back: \(error.message)")
        }
        return 0
    }

    private static func rolledBack(_ rc: Int32) -> DBError {
        let code = rc < 0 && rc >= SY_DB_E_OTHER.rawValue ? sy_db_error_code(rawValue: rc) : SY_DB_E_OTHER
        return DBError(code, "transaction rolled back: the transaction function returned \(rc)")
    }
}

/// A key for the calling thread (pthread_t as an integer).
func currentThreadKey() -> UInt {
    #if canImport(Darwin)
    return UInt(bitPattern: pthread_self())
    #else
    return UInt(pthread_self())
    #endif
}
