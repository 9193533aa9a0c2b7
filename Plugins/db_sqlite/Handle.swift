// Handle: one sqlite3 connection with its prepared-statement cache, used by one thread at a time (the pool's rule).
import CSQLite
import SwitchyardABI

/// SQLITE_TRANSIENT (the header's `((sqlite3_destructor_type)-1)`, which Swift does not import): SQLite copies the bytes.
let sqliteTransient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One open `sqlite3 *`. Never used by two threads at once: the pool hands it to one caller at a time (or pins it to
/// the thread running a transaction), which is why it may be opened with SQLITE_OPEN_NOMUTEX.
final class Handle: @unchecked Sendable {
    let db: OpaquePointer
    /// Prepared statements by SQL text. A statement is taken out while it runs, so a nested call on the same handle
    /// (a row callback querying inside a transaction) prepares its own copy instead of resetting one in use.
    private var cache: [String: OpaquePointer] = [:]
    static let cacheLimit = 64
    /// The pool's file generation this handle was opened in (see SQLiteConnection.followFileLocked).
    var generation = 0

    init(db: OpaquePointer) {
        self.db = db
    }

    deinit {
        for (_, stmt) in cache { sqlite3_finalize(stmt) }
        sqlite3_close_v2(db)
    }

    /// A prepared statement for `sql` (one statement), from the cache or newly prepared. Give it back with `giveBack`.
    func take(_ sql: String, errorContext: String, connection: SQLiteConnection) throws(DBError) -> OpaquePointer {
        if let stmt = cached(sql) { return stmt }
        var stmt: OpaquePointer?
        var copy = sql
        let rc = copy.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { chars in
                sqlite3_prepare_v3(db, chars.baseAddress, Int32(chars.count), UInt32(SQLITE_PREPARE_PERSISTENT), &stmt, nil)
            }
        }
        guard rc == SQLITE_OK, let stmt else {
            sqlite3_finalize(stmt)
            throw connection.error(rc, self, context: errorContext)
        }
        return stmt
    }

    /// The cached statement for `sql`, taken out of the cache (nil if none).
    func cached(_ sql: String) -> OpaquePointer? {
        cache.removeValue(forKey: sql)
    }

    /// Resets `stmt` (dropping its bindings, which point at the caller's memory) and keeps it for the next call.
    func giveBack(_ sql: String, _ stmt: OpaquePointer) {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        if cache[sql] == nil && cache.count < Self.cacheLimit {
            cache[sql] = stmt
        } else {
            sqlite3_finalize(stmt)
        }
    }

    /// True while an explicit transaction is open on this connection.
    var inTransaction: Bool { sqlite3_get_autocommit(db) == 0 }
}
