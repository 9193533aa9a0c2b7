// The `db_mysql` module: the MariaDB/MySQL driver of the DB API (switchyard_db.h), through the system libmariadb,
// published as "db:mysql" so a module given `mysql://user:pass@host[:port]/database` (host->db_bind) gets it.
//
//   modparam("db_mysql", "timeout_interval", 2)        s: connect, read and write timeout of every query
//   modparam("db_mysql", "max_db_queries", 2)          attempts of a call whose connection was lost
//   modparam("db_mysql", "max_db_retries", 3)          reconnects allowed per call (0: never reconnect)
//   modparam("db_mysql", "exec_query_threshold", 0)    µs: log calls slower than this
//   modparam("db_mysql", "ps_max_col_size", 1024)      accepted for OpenSIPS configs; values are never truncated
//   modparam("db_mysql", "use_tls", 0)                 TLS is not supported (1 stops startup)
//   event_route[E_MYSQL_CONNECTION]                    $param(url) (password masked), $param(status) connected|disconnected
//
// Files: MySQLSession.swift (one libmariadb connection and its prepared statements), Settings.swift (modparams);
// pooling, reconnection, SQL text and the C table are SwitchyardSQL's. See README.md next to this file.
import CMariaDB
import SwitchyardABI
import SwitchyardPluginKit
import SwitchyardSQL

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: MySQLModule.name) else { return nil } // another ABI major: refuse
    return MySQLModule(host: host).build().pointer // allocated once, never freed
}

/// The driver instance of the latest start-up, for the 1.0 connect (no handle: see HandlelessEntry).
let handlelessConnect = HandlelessEntry<MySQLSettings>()

final class MySQLModule: Sendable {
    static let name = "db_mysql"
    static let version = "1.0.0"
    static let apiName = "db:mysql"
    static let connectionEvent = "E_MYSQL_CONNECTION"

    let host: PluginHost
    /// This instance's modparams: the `module` of its table.
    let settings: MySQLSettings
    /// Published as "db:mysql" (never freed: consumers keep the pointer).
    let table: CTablePointer<sy_db_api>

    init(host: PluginHost) {
        self.host = host
        settings = MySQLSettings(host: host)
        table = CTablePointer(SQLDriverTable.make(module: settings, connect: { url, err in
            guard let s = handlelessConnect.instance else { return nil }
            return mysqlConnect(s, url, err)
        }, moduleConnect: { m, url, err in
            guard let m else { return nil }
            return mysqlConnect(Unmanaged<MySQLSettings>.fromOpaque(UnsafeRawPointer(m)).takeUnretainedValue(), url, err)
        }))
    }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "MariaDB/MySQL driver for the DB API (mysql:// URLs)")
        m.param("timeout_interval", .int) { [host, settings] v in
            guard let n = v.intValue else { throw PluginError("expected seconds") }
            // Any value starts, as in OpenSIPS; 0 is the client library's "no timeout". The warning and taking a
            // negative value as 0 are ours (OpenSIPS's unsigned parameter wraps it).
            if n <= 0 { host.log(.warn, "timeout_interval \(n): no timeout, a server that stops answering blocks a worker until the system gives up") }
            settings.timeoutSeconds.store(Int32(max(0, min(n, Int64(Int32.max)))), ordering: .relaxed)
        }
        m.sqlDriverParams(settings.shared, module: Self.name, host: host)
        m.param("max_db_retries", .int) { [host, settings] v in
            guard let n = v.intValue else { throw PluginError("expected a number") }
            if n < 0 { host.log(.warn, "max_db_retries \(n) < 0: using 3") }
            settings.maxRetries.store(n < 0 ? 3 : Int32(min(n, 100)), ordering: .relaxed)
        }
        m.param("ps_max_col_size", .int) { v in
            guard v.intValue != nil else { throw PluginError("expected a number of bytes") }
        }
        m.event(Self.connectionEvent)
        m.onInit { [host, settings, table] in
            guard mysql_server_init(0, nil, nil) == 0 else { throw PluginError("mysql_library_init failed") }
            try settings.shared.registerStatistics() // before publish: every connect() finds them
            try SQLDriverTable.publish(table.pointer, as: Self.apiName, host: host)
            handlelessConnect.publish(settings)
            host.log(.info, "libmariadb \(String(cString: mysql_get_client_info())), timeout_interval "
                     + "\(settings.timeoutSeconds.load(ordering: .relaxed)) s, max_db_queries \(settings.attempts)")
        }
        return m.build()
    }
}

private func mysqlConnect(_ settings: MySQLSettings, _ url: UnsafePointer<CChar>?,
                          _ err: UnsafeMutablePointer<sy_db_error>?) -> OpaquePointer? {
    let options = MySQLSession.Options(timeoutSeconds: UInt32(settings.timeoutSeconds.load(ordering: .relaxed)),
                                       shared: settings.shared)
    return SQLDriverTable.connect(url, err, schemes: ["mysql"], dialect: .mysql, urlParams: false, shared: settings.shared,
                                  settings: settings.driverSettings) { url throws(SQLError) in
        try MySQLSession(url: url, options: options)
    }
}
