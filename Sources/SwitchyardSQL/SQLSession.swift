// SQLSession: one client connection to the server, as a driver implements it (libmariadb handle, libpq PGconn), with
// its prepared-statement cache. A session is used by one thread at a time: SQLConnection hands it out exclusively.
import SwitchyardABI

public protocol SQLSession: AnyObject {
    /// Runs one statement, prepared once per session and cached by its text, with `params` bound. Rows go to `row`
    /// (which may stop early by returning non-zero). Returns rows delivered for a query, rows affected otherwise.
    /// A driver delivers rows only once the whole result has arrived, so a lost connection never leaves a caller
    /// with half a result (the call is then retried on a fresh session).
    func execute(_ sql: String, _ params: [sy_db_value], row: sy_db_row_fn?,
                 arg: UnsafeMutableRawPointer?) throws(SQLError) -> Int64

    /// Runs a script of `;`-separated statements without parameters (a schema file); returns rows affected in all.
    func executeScript(_ sql: String) throws(SQLError) -> Int64

    /// Closes the client connection (the session is not used afterwards).
    func close()

    /// Whether the server still answers on this session (one round trip); asked after an error of reach `.unsure`.
    func ping() -> Bool
}

extension SQLSession {
    /// A driver whose errors are never `.unsure` needs no ping.
    public func ping() -> Bool { true }
}
