// DBError: an sy_db_error_code with its one-line message, built from SQLite result codes, written into sy_db_error.
import CSQLite
import SwitchyardABI

/// A failed driver call: the `enum sy_db_error_code` to return and the one-line message for `sy_db_error`.
struct DBError: Error, Sendable, CustomStringConvertible {
    let code: Int32
    let message: String

    init(_ code: sy_db_error_code, _ message: String) {
        self.code = code.rawValue
        self.message = message
    }

    var description: String { message }

    static func badArg(_ message: String) -> DBError { DBError(SY_DB_E_BAD_ARG, message) }
    static func other(_ message: String) -> DBError { DBError(SY_DB_E_OTHER, message) }
    static func busy(_ message: String) -> DBError { DBError(SY_DB_E_BUSY, message) }

    /// Maps the result of a failed sqlite3_* call on `db` (its extended code `rc`) to a driver error. The message is
    /// SQLite's own (`no such table: x`, `UNIQUE constraint failed: t.c`, `database is locked` ...); `context` names
    /// what was being done (e.g. the table) and `path` the database, so the caller's log line says where it happened.
    static func sqlite(_ rc: Int32, _ db: OpaquePointer?, context: String, path: String, busyTimeoutMs: Int32) -> DBError {
        let text = db.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
        let primary = rc & 0xFF
        let code: sy_db_error_code
        var message = context.isEmpty ? text : "\(context): \(text)"
        switch primary {
        case SQLITE_BUSY, SQLITE_LOCKED:
            code = SY_DB_E_BUSY
            message += " (waited \(busyTimeoutMs) ms; \(path))"
        case SQLITE_CONSTRAINT, SQLITE_MISMATCH:
            code = SY_DB_E_CONSTRAINT
        case SQLITE_RANGE, SQLITE_TOOBIG:
            code = SY_DB_E_BAD_ARG
        case SQLITE_CANTOPEN, SQLITE_NOTADB, SQLITE_PERM, SQLITE_AUTH:
            code = SY_DB_E_CONNECT
            message += " (\(path))"
        case SQLITE_ERROR where isMissingObject(text):
            code = SY_DB_E_NO_TABLE
        default:
            code = SY_DB_E_OTHER
        }
        return DBError(code, message)
    }

    /// SQLite reports a missing table or column as a plain SQLITE_ERROR; these are its wordings.
    static func isMissingObject(_ text: String) -> Bool {
        text.hasPrefix("no such table") || text.hasPrefix("no such column") || text.contains(" has no column named ")
    }

    /// Fills `err` (may be NULL) with this error: code and message, one line, truncated at a UTF-8 boundary.
    func write(to err: UnsafeMutablePointer<sy_db_error>?) {
        guard let err else { return }
        err.pointee.code = code
        err.pointee.reserved = 0
        DBError.copyMessage(message, into: err)
    }

    /// Marks `err` (may be NULL) as "no error": code SY_DB_OK, empty message.
    static func clear(_ err: UnsafeMutablePointer<sy_db_error>?) {
        guard let err else { return }
        err.pointee.code = SY_DB_OK.rawValue
        err.pointee.reserved = 0
        withUnsafeMutableBytes(of: &err.pointee.message) { $0[0] = 0 }
    }

    private static func copyMessage(_ message: String, into err: UnsafeMutablePointer<sy_db_error>) {
        // One line: control characters (SQLite quotes SQL text in some messages) become spaces.
        var bytes = message.utf8.map { $0 < 0x20 || $0 == 0x7F ? UInt8(ascii: " ") : $0 }
        withUnsafeMutableBytes(of: &err.pointee.message) { buf in
            let capacity = buf.count - 1
            if bytes.count > capacity {
                var n = capacity
                while n > 0 && (bytes[n] & 0xC0) == 0x80 { n -= 1 } // do not cut a multi-byte character
                bytes.removeSubrange(n...)
            }
            for (i, b) in bytes.enumerated() { buf[i] = b }
            buf[bytes.count] = 0
        }
    }
}

extension sy_db_error_code {
    /// The C value as the API functions return it (negative for errors).
    var code: Int32 { rawValue }
}
