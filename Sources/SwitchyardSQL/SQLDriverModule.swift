// What the SQL server drivers (db_mysql, db_postgres) do alike as modules: the modparams they share, the per-instance
// object connect() reads them from, connect() itself and publishing the table. Each driver's Module.swift keeps what
// differs: its own modparams, its client library's setup and its session type.
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

/// The shared modparams and the host of one driver instance (one per entry-function call, i.e. per server that loads
/// the plugin). Modparams write it before init; connect() reads it, found through the table's module handle.
public final class SQLDriverShared: Sendable {
    /// max_db_queries: attempts of a call whose connection was lost.
    public let maxQueries = Atomic<Int32>(2)
    /// exec_query_threshold (µs): calls slower than this are logged; 0 = off.
    public let slowMicros = Atomic<Int64>(0)
    private let host: PluginHost
    /// sql:sql_total_queries and sql:sql_slow_queries, registered at init before the table is published (shared by
    /// every SQL driver: the core finds a counter registered again). Read once per connect(), not per call.
    private let stats = Mutex<(total: SYStat, slow: SYStat)?>(nil)

    public init(host: PluginHost) { self.host = host }

    /// Registers the core's `sql` statistics (from the driver's init, before it publishes its table).
    public func registerStatistics() throws(PluginError) {
        guard let total = host.statRegister("sql_total_queries", group: "sql"),
              let slow = host.statRegister("sql_slow_queries", group: "sql") else {
            throw PluginError("cannot register the sql statistics")
        }
        stats.withLock { $0 = (total, slow) }
    }

    public func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        host.log(level, message())
    }

    public func raiseEvent(_ name: String, _ params: [(String, SYValue)]) {
        _ = host.raiseEvent(name, params)
    }

    /// The settings of a new connection: max_db_queries attempts, the slow-call threshold, logging through the host.
    public func driverSettings(maxAttempts: Int? = nil) -> SQLDriverSettings {
        var s = SQLDriverSettings(maxAttempts: maxAttempts ?? Int(maxQueries.load(ordering: .relaxed)),
                                  slowQueryMicros: slowMicros.load(ordering: .relaxed)) { [self] level, text in log(level, text) }
        if let counters = stats.withLock({ $0 }) {
            s.onQuery = { [host] slow in
                host.statUpdate(counters.total)
                if slow { host.statUpdate(counters.slow) }
            }
        }
        return s
    }
}

extension ModuleExportsBuilder {
    /// The modparams every SQL driver takes as OpenSIPS's do: max_db_queries (below 1: 2, as OpenSIPS),
    /// exec_query_threshold and use_tls (only 0: TLS is not supported).
    public mutating func sqlDriverParams(_ shared: SQLDriverShared, module: String, host: PluginHost) {
        param("max_db_queries", .int) { v in
            guard let n = v.intValue else { throw PluginError("expected a number") }
            if n < 1 { host.log(.warn, "max_db_queries \(n) < 1: using 2") }
            shared.maxQueries.store(n < 1 ? 2 : Int32(min(n, 100)), ordering: .relaxed)
        }
        param("exec_query_threshold", .int) { v in
            guard let n = v.intValue, n >= 0 else { throw PluginError("expected microseconds >= 0") }
            shared.slowMicros.store(n, ordering: .relaxed)
        }
        param("use_tls", .int) { v in
            guard let n = v.intValue else { throw PluginError("expected 0 or 1") }
            if n != 0 { throw PluginError("TLS connections are not supported by this build of \(module)") }
        }
    }
}

extension SQLDriverTable {
    /// Publishes a driver's table under `apiName` ("db:mysql"), or throws naming the likely cause.
    public static func publish(_ table: UnsafePointer<sy_db_api>, as apiName: String, host: PluginHost) throws(PluginError) {
        guard host.apiPublish(apiName, UnsafeRawPointer(table)) else {
            throw PluginError("cannot publish the '\(apiName)' API (another driver of that scheme loaded?)")
        }
    }

    /// The body of a driver's connect(): parses the URL, checks its scheme, opens a pooled connection whose sessions
    /// `open` makes. On failure: one log line (password masked), `err` filled, nil.
    /// - Parameter urlParams: false when the driver takes no `?key=value` parameters (each one is warned about).
    public static func connect(_ url: UnsafePointer<CChar>?, _ err: UnsafeMutablePointer<sy_db_error>?,
                               schemes: [String], dialect: SQLDialect, urlParams: Bool, shared: SQLDriverShared,
                               settings: SQLDriverSettings,
                               open: @escaping @Sendable (SQLURL) throws(SQLError) -> SQLSession) -> OpaquePointer? {
        do throws(SQLError) {
            guard let url else { throw SQLError(.badArg, "NULL database URL") }
            let parsed = try SQLURL.parse(String(cString: url))
            guard schemes.contains(parsed.scheme) else { throw SQLError(.badArg, "\(parsed.masked): not a \(schemes[0]):// URL") }
            if !urlParams {
                for (k, _) in parsed.paramPairs { shared.log(.warn, "\(parsed.masked): unknown URL parameter '\(k)' ignored") }
            }
            let conn = try SQLConnection(url: parsed, dialect: dialect, settings: settings) { () throws(SQLError) -> SQLSession in
                try open(parsed)
            }
            shared.log(.dbg, "connected to \(parsed.masked)")
            SQLError.clear(err)
            return handle(conn)
        } catch {
            let shown = url.map { SQLURL.maskPassword(String(cString: $0)) } ?? "(none)"
            shared.log(.err, error.kind == .connect ? "cannot connect to \(shown): \(error.message)" : error.message)
            error.write(to: err)
            return nil
        }
    }
}
