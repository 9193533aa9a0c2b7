// The `db_postgres` module: the PostgreSQL driver of the DB API (switchyard_db.h), through the system libpq,
// published as "db:postgres" so a module given `postgres://user:pass@host[:port]/database` (host->db_bind) gets it.
//
//   modparam("db_postgres", "timeout", 5)              s: libpq connect_timeout (0: none)
//   modparam("db_postgres", "query_timeout", 10000)    ms: the server's statement_timeout per session (0: none)
//   modparam("db_postgres", "max_db_queries", 2)       attempts of a call whose connection was lost
//   modparam("db_postgres", "exec_query_threshold", 0) µs: log calls slower than this
//   modparam("db_postgres", "use_tls", 0)              TLS is not supported (1 stops startup)
//
// Files: PGSession.swift (one libpq connection and its prepared statements), Settings.swift (modparams); pooling,
// reconnection, SQL text and the C table are SwitchyardSQL's. See README.md next to this file.
import CPostgres
import SwitchyardABI
import SwitchyardPluginKit
import SwitchyardSQL

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: PostgresModule.name) else { return nil } // another ABI major: refuse
    return PostgresModule(host: host).build().pointer // allocated once, never freed
}

/// The driver instance of the latest start-up, for the 1.0 connect (no handle: see HandlelessEntry).
let handlelessConnect = HandlelessEntry<PostgresSettings>()

final class PostgresModule: Sendable {
    static let name = "db_postgres"
    static let version = "1.0.0"
    static let apiName = "db:postgres"

    let host: PluginHost
    /// This instance's modparams: the `module` of its table.
    let settings: PostgresSettings
    /// Published as "db:postgres" (never freed: consumers keep the pointer).
    let table: CTablePointer<sy_db_api>

    init(host: PluginHost) {
        self.host = host
        settings = PostgresSettings(host: host)
        table = CTablePointer(SQLDriverTable.make(module: settings, connect: { url, err in
            guard let s = handlelessConnect.instance else { return nil }
            return postgresConnect(s, url, err)
        }, moduleConnect: { m, url, err in
            guard let m else { return nil }
            return postgresConnect(Unmanaged<PostgresSettings>.fromOpaque(UnsafeRawPointer(m)).takeUnretainedValue(), url, err)
        }))
    }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "PostgreSQL driver for the DB API (postgres:// URLs)")
        m.param("timeout", .int) { [settings] v in
            guard let n = v.intValue else { throw PluginError("expected seconds") }
            settings.connectTimeout.store(Int32(max(0, min(n, Int64(Int32.max)))), ordering: .relaxed)
        }
        m.param("query_timeout", .int) { [settings] v in
            guard let n = v.intValue, n >= 0, n <= Int64(Int32.max) else { throw PluginError("expected milliseconds >= 0") }
            settings.statementTimeoutMs.store(Int32(n), ordering: .relaxed)
        }
        m.sqlDriverParams(settings.shared, module: Self.name, host: host)
        m.onInit { [host, settings, table] in
            guard PQisthreadsafe() != 0 else { throw PluginError("libpq was built without thread safety") }
            try settings.shared.registerStatistics() // before publish: every connect() finds them
            try SQLDriverTable.publish(table.pointer, as: Self.apiName, host: host)
            handlelessConnect.publish(settings)
            host.log(.info, "libpq \(PQlibVersion()), timeout \(settings.connectTimeout.load(ordering: .relaxed)) s, "
                     + "query_timeout \(settings.statementTimeoutMs.load(ordering: .relaxed)) ms, max_db_queries "
                     + "\(settings.shared.maxQueries.load(ordering: .relaxed))")
        }
        return m.build()
    }
}

private func postgresConnect(_ settings: PostgresSettings, _ url: UnsafePointer<CChar>?,
                             _ err: UnsafeMutablePointer<sy_db_error>?) -> OpaquePointer? {
    let options = PGSession.Options(connectTimeout: settings.connectTimeout.load(ordering: .relaxed),
                                    statementTimeoutMs: settings.statementTimeoutMs.load(ordering: .relaxed))
    // URL parameters are libpq connection keywords (PGSession passes them on).
    return SQLDriverTable.connect(url, err, schemes: ["postgres", "postgresql"], dialect: .postgres, urlParams: true,
                                  shared: settings.shared, settings: settings.shared.driverSettings()) { url throws(SQLError) in
        try PGSession(url: url, options: options)
    }
}
