// MySQLSession: one libmariadb connection, its prepared statements (cached by SQL text) and the conversion of values
// between sy_db_value and MYSQL_BIND.
#if canImport(Glibc)
import Glibc
#endif
import CMariaDB
import SwitchyardABI
import SwitchyardSQL

/// Client error codes after which the connection is gone (and the call is retried on a fresh one), as OpenSIPS
/// lists them: server gone, lost, commands out of sync, the server's interaction timeout, unknown statement handler.
private let lostCodes: Set<UInt32> = [2006, 2013, 2014, 4031, 1243, 2002, 2003, 2055]

/// How far a lost connection reaches (SQLError.Reach): server gone (2006), cannot connect (2002, 2003) mean the
/// server is gone; lost during a query (2013, 2055) is also what a read timeout gives, so it is checked with a ping
/// of another session; out of sync (2014), closed for inactivity (4031) and an unknown statement (1243) are this
/// session's only.
private func reach(_ code: UInt32) -> SQLError.Reach {
    switch code {
    case 2006, 2002, 2003: return .server
    case 2013, 2055: return .unsure
    default: return .session
    }
}

final class MySQLSession: SQLSession {
    struct Options {
        var timeoutSeconds: UInt32
        /// The driver instance's logging.
        var shared: SQLDriverShared
    }

    private let shared: SQLDriverShared

    private var db: UnsafeMutablePointer<MYSQL>?
    /// Prepared statements by SQL text, at most maxStatements (each one counts against the server's
    /// max_prepared_stmt_count, shared by every proxy using the server), the least recently used evicted first.
    private var statements: [String: UnsafeMutablePointer<MYSQL_STMT>] = [:]
    /// The cached texts, least recently used first.
    private var recent: [String] = []
    /// Statements whose execution or row delivery is in progress: a row callback may query again on this session
    /// (inside a transaction), and must neither reuse nor evict a statement still being fetched.
    private var busy: Set<UnsafeMutablePointer<MYSQL_STMT>> = []
    private static let maxStatements = 32

    /// Connects to `url`: a wrong password or an unreachable server throws SQLError(.connect) naming the URL masked.
    init(url: SQLURL, options: Options) throws(SQLError) {
        shared = options.shared
        guard let m = mysql_init(nil) else { throw SQLError(.connect, "\(url.masked): mysql_init failed (out of memory)") }
        var timeout = options.timeoutSeconds
        var off: my_bool = 0
        mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout)
        mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout)
        mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout)
        mysql_options(m, MYSQL_OPT_RECONNECT, &off) // reconnecting is ours: prepared statements die with the session
        _ = "utf8mb4".withCString { mysql_options(m, MYSQL_SET_CHARSET_NAME, $0) }
        let flags = UInt(CLIENT_MULTI_STATEMENTS) | UInt(CLIENT_REMEMBER_OPTIONS)
        // libmariadb reads "localhost" (and an empty host) as its Unix socket; unix(/path) names another one.
        let ok = mysql_real_connect(m, url.host.isEmpty ? nil : url.host, url.user, url.password, url.database,
                                    UInt32(url.port ?? 0), url.socket, flags)
        guard ok != nil else {
            let msg = String(cString: mysql_error(m))
            // At connect time a lost connection (2013) or no answer means the server is not there.
            let code = mysql_errno(m)
            mysql_close(m)
            throw SQLError(.connect, msg, reach: [2002, 2003, 2006, 2013, 2055].contains(code) ? .server : .session)
        }
        db = m
    }

    func close() {
        for (_, st) in statements { mysql_stmt_close(st) }
        statements = [:]
        recent = []
        if let db { mysql_close(db) }
        db = nil
    }

    deinit { close() }

    func ping() -> Bool {
        guard let db else { return false }
        return mysql_ping(db) == 0
    }

    private func error(_ code: UInt32, _ text: String, _ sql: String) -> SQLError {
        let kind: SQLError.Kind
        switch Int32(code) {
        case 1062, 1451, 1452, 1048, 1216, 1217, 1557, 1586: kind = .constraint
        case 1146, 1054, 1049: kind = .noTable
        case 1205, 1213: kind = .busy
        case 1045, 1044: kind = .connect
        default: kind = lostCodes.contains(code) ? .connect : .other
        }
        return SQLError(kind, "\(text) (\(sql.prefix(120)))", lost: lostCodes.contains(code), reach: reach(code))
    }

    /// A prepared statement for `sql` and whether it is the cached one (else the caller closes it after use): the
    /// cached one when it is free; a fresh one, cached when there is room, otherwise (`cache` false: a statement
    /// without parameters, run once, e.g. a raw query, is never cached).
    private func statement(_ sql: String, cache: Bool) throws(SQLError) -> (UnsafeMutablePointer<MYSQL_STMT>, Bool) {
        if cache, let st = statements[sql], !busy.contains(st) {
            if let i = recent.firstIndex(of: sql) { recent.remove(at: i) }
            recent.append(sql)
            return (st, true)
        }
        guard let db else { throw SQLError(.connect, "connection closed", lost: true) }
        guard let st = mysql_stmt_init(db) else { throw SQLError(.other, "mysql_stmt_init failed") }
        let rc = sql.withCString { mysql_stmt_prepare(st, $0, UInt(strlen($0))) }
        if rc != 0 {
            let e = error(mysql_stmt_errno(st), String(cString: mysql_stmt_error(st)), sql)
            mysql_stmt_close(st)
            throw e
        }
        // Results are stored whole on the client, with each column's longest value measured: buffers fit, nothing is
        // truncated.
        var on: my_bool = 1
        mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &on)
        guard cache, statements[sql] == nil else { return (st, false) }
        while statements.count >= Self.maxStatements {
            // The least recently used statement not being fetched; none free: this one is not cached.
            guard let i = recent.firstIndex(where: { statements[$0].map { !busy.contains($0) } ?? true }) else { return (st, false) }
            let old = recent.remove(at: i)
            if let o = statements.removeValue(forKey: old) { mysql_stmt_close(o) }
        }
        statements[sql] = st
        recent.append(sql)
        return (st, true)
    }

    func execute(_ sql: String, _ params: [sy_db_value], row: sy_db_row_fn?,
                 arg: UnsafeMutableRawPointer?) throws(SQLError) -> Int64 {
        let (st, cached) = try statement(sql, cache: !params.isEmpty)
        busy.insert(st)
        defer {
            busy.remove(st)
            if !cached { mysql_stmt_close(st) }
        }
        // A lost connection keeps its statements in the cache: close() closes them with the session.
        func fail() -> SQLError { error(mysql_stmt_errno(st), String(cString: mysql_stmt_error(st)), sql) }
        let expected = Int(mysql_stmt_param_count(st))
        guard expected == params.count else {
            throw SQLError(.badArg, "\(expected) placeholder(s) but \(params.count) parameter(s) (\(sql.prefix(120)))")
        }
        // Parameters: numbers in owned storage, strings pointing at the caller's bytes (valid during the call).
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: max(params.count, 1))
        let numbers = UnsafeMutablePointer<Int64>.allocate(capacity: max(params.count, 1))
        let doubles = UnsafeMutablePointer<Double>.allocate(capacity: max(params.count, 1))
        let lengths = UnsafeMutablePointer<UInt>.allocate(capacity: max(params.count, 1))
        defer { numbers.deallocate(); doubles.deallocate(); lengths.deallocate() }
        for (i, v) in params.enumerated() {
            switch v.type {
            case Int32(SY_DB_INT.rawValue):
                numbers[i] = v.i
                binds[i].buffer_type = MYSQL_TYPE_LONGLONG
                binds[i].buffer = UnsafeMutableRawPointer(numbers + i)
            case Int32(SY_DB_DOUBLE.rawValue):
                doubles[i] = v.d
                binds[i].buffer_type = MYSQL_TYPE_DOUBLE
                binds[i].buffer = UnsafeMutableRawPointer(doubles + i)
            case Int32(SY_DB_STR.rawValue), Int32(SY_DB_BLOB.rawValue):
                binds[i].buffer_type = v.type == Int32(SY_DB_STR.rawValue) ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB
                binds[i].buffer = v.s.s.map { UnsafeMutableRawPointer(mutating: $0) } ?? UnsafeMutableRawPointer(numbers + i) // empty: any valid address
                lengths[i] = UInt(v.s.len)
                binds[i].buffer_length = UInt(v.s.len)
                binds[i].length = lengths + i
            default:
                binds[i].buffer_type = MYSQL_TYPE_NULL
            }
        }
        if !params.isEmpty, mysql_stmt_bind_param(st, &binds) != 0 { throw fail() }
        if mysql_stmt_execute(st) != 0 { throw fail() }
        let ncols = Int(mysql_stmt_field_count(st))
        guard ncols > 0 else { return Int64(mysql_stmt_affected_rows(st)) }
        if mysql_stmt_store_result(st) != 0 { throw fail() }
        defer { mysql_stmt_free_result(st) }
        return try deliver(st, ncols: ncols, row: row, arg: arg, sql: sql)
    }

    /// Binds result buffers sized from the stored result and streams the rows to `row`.
    private func deliver(_ st: UnsafeMutablePointer<MYSQL_STMT>, ncols: Int, row: sy_db_row_fn?,
                         arg: UnsafeMutableRawPointer?, sql: String) throws(SQLError) -> Int64 {
        guard let meta = mysql_stmt_result_metadata(st) else { throw SQLError(.other, "no result metadata (\(sql.prefix(120)))") }
        defer { mysql_free_result(meta) }
        guard let fields = mysql_fetch_fields(meta) else { throw SQLError(.other, "no result fields") }
        enum Kind { case int, double, text, blob }
        var kinds: [Kind] = []
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: ncols)
        let lengths = UnsafeMutablePointer<UInt>.allocate(capacity: ncols)
        let nulls = UnsafeMutablePointer<my_bool>.allocate(capacity: ncols)
        var buffers: [UnsafeMutableRawPointer] = []
        defer {
            lengths.deallocate(); nulls.deallocate()
            for b in buffers { b.deallocate() }
        }
        for i in 0..<ncols {
            let f = fields[i]
            let kind: Kind
            switch f.type {
            case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_LONG, MYSQL_TYPE_INT24, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_YEAR,
                 MYSQL_TYPE_BIT:
                kind = f.type == MYSQL_TYPE_BIT ? .blob : .int
            case MYSQL_TYPE_FLOAT, MYSQL_TYPE_DOUBLE: kind = .double
            case MYSQL_TYPE_TINY_BLOB, MYSQL_TYPE_BLOB, MYSQL_TYPE_MEDIUM_BLOB, MYSQL_TYPE_LONG_BLOB,
                 MYSQL_TYPE_STRING, MYSQL_TYPE_VAR_STRING, MYSQL_TYPE_VARCHAR:
                kind = f.charsetnr == 63 ? .blob : .text // charset 63 = binary
            default: kind = .text
            }
            kinds.append(kind)
            let size: Int
            switch kind {
            case .int: binds[i].buffer_type = MYSQL_TYPE_LONGLONG; size = 8
                binds[i].is_unsigned = (f.flags & UInt32(UNSIGNED_FLAG)) != 0 ? 1 : 0
            case .double: binds[i].buffer_type = MYSQL_TYPE_DOUBLE; size = 8
            case .text: binds[i].buffer_type = MYSQL_TYPE_STRING; size = max(Int(f.max_length), 1) + 1
            case .blob: binds[i].buffer_type = MYSQL_TYPE_BLOB; size = max(Int(f.max_length), 1)
            }
            let b = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
            buffers.append(b)
            binds[i].buffer = b
            binds[i].buffer_length = UInt(size)
            binds[i].length = lengths + i
            binds[i].is_null = nulls + i
        }
        if mysql_stmt_bind_result(st, &binds) != 0 {
            throw error(mysql_stmt_errno(st), String(cString: mysql_stmt_error(st)), sql)
        }
        var values = [sy_db_value](repeating: sy_db_value(), count: ncols)
        var delivered: Int64 = 0
        var truncationLogged = false
        while true {
            let rc = mysql_stmt_fetch(st)
            if rc == MYSQL_NO_DATA { break }
            if rc == 1 { throw error(mysql_stmt_errno(st), String(cString: mysql_stmt_error(st)), sql) }
            if rc == MYSQL_DATA_TRUNCATED {
                // The buffers are sized from the stored result's longest values, so this should not happen; if it
                // does, the value's reported length is its full length: only the buffer's bytes are there.
                for i in 0..<ncols where lengths[i] > binds[i].buffer_length { lengths[i] = binds[i].buffer_length }
                if !truncationLogged {
                    truncationLogged = true
                    shared.log(.warn, "a value longer than its buffer was truncated (\(sql.prefix(120)))")
                }
            }
            for i in 0..<ncols {
                var v = sy_db_value()
                if nulls[i] != 0 {
                    v.type = Int32(SY_DB_NULL.rawValue)
                } else {
                    switch kinds[i] {
                    case .int:
                        v.type = Int32(SY_DB_INT.rawValue)
                        v.i = buffers[i].load(as: Int64.self) // an UNSIGNED BIGINT above Int64.max wraps: none in the schemas
                    case .double:
                        v.type = Int32(SY_DB_DOUBLE.rawValue)
                        v.d = buffers[i].load(as: Double.self)
                    case .text, .blob:
                        v.type = Int32(kinds[i] == .text ? SY_DB_STR.rawValue : SY_DB_BLOB.rawValue)
                        v.s = sy_str(s: buffers[i].assumingMemoryBound(to: CChar.self), len: Int(lengths[i]))
                    }
                }
                values[i] = v
            }
            delivered += 1
            guard let row else { continue }
            if values.withUnsafeBufferPointer({ row(arg, $0.baseAddress, UInt32(ncols)) }) != 0 { break }
        }
        return delivered
    }

    func executeScript(_ sql: String) throws(SQLError) -> Int64 {
        guard let db else { throw SQLError(.connect, "connection closed", lost: true) }
        let rc = sql.withCString { mysql_real_query(db, $0, UInt(strlen($0))) }
        var total: Int64 = 0
        if rc != 0 { throw error(mysql_errno(db), String(cString: mysql_error(db)), sql) }
        while true {
            if let res = mysql_store_result(db) { mysql_free_result(res) } else {
                let n = mysql_affected_rows(db)
                if n != UInt64.max { total += Int64(n) }
            }
            let next = mysql_next_result(db)
            if next == -1 { break }
            if next > 0 { throw error(mysql_errno(db), String(cString: mysql_error(db)), sql) }
        }
        return total
    }
}
