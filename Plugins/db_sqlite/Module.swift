// The `db_sqlite` module: the SQLite driver of the DB API (switchyard_db.h), published as "db:sqlite" so a module
// given `sqlite:///path/file.db` (host->db_bind) gets it.
//
//   modparam("db_sqlite", "busy_timeout", 5000)     ms a call waits for a locked database before SY_DB_E_BUSY
//   modparam("db_sqlite", "max_connections", 16)    SQLite handles per connect() (concurrent calls on it)
//   modparam("db_sqlite", "init_sql", "schema.sql") SQL file(s) run on a database file that connect() creates
//   modparam("db_sqlite", "alloc_limit", 10)        OpenSIPS's; accepted, no effect (load_extension, exec_pragma refused)
//
//   sqlite:///abs/path.db   sqlite://relative/path.db (to the working directory)   sqlite://:memory:
//
// No script functions, pseudo-variables or MI commands (no raw SQL over MI). See README.md next to this file.
//
// Files: DriverAPI.swift (the C table), SQLiteConnection.swift (pool, statements, transactions), Handle.swift (one
// sqlite3 handle and its statement cache), SQLText.swift (SQL of select/insert/update/delete), DatabaseURL.swift,
// DBError.swift (SQLite result codes → sy_db_error_code).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CSQLite
import SwitchyardABI
import SwitchyardPluginKit

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: SQLiteModule.name) else { return nil } // another ABI major: refuse
    return SQLiteModule(host: host).build().pointer // allocated once, never freed
}

final class SQLiteModule: Sendable {
    static let name = "db_sqlite"
    static let version = "1.0.0"
    /// The name host->db_bind looks up for sqlite:// URLs.
    static let apiName = "db:" + DatabaseURL.scheme

    let host: PluginHost
    /// This instance's settings: the `module` of its table.
    let driver: DriverSettings
    /// Published as "db:sqlite" (never freed: consumers keep the pointer).
    let table: CTablePointer<sy_db_api>

    init(host: PluginHost) {
        self.host = host
        driver = DriverSettings(host: host)
        table = CTablePointer(DriverAPITable.make(for: driver))
    }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "SQLite driver for the DB API (sqlite:// URLs)")

        // modparam("db_sqlite", "busy_timeout", 5000)
        m.param("busy_timeout", .int) { [driver] value in
            guard let ms = value.intValue, ms >= 0, ms <= Int64(Int32.max) else {
                throw PluginError("expected a number of milliseconds >= 0")
            }
            driver.busyTimeoutMs.store(Int32(ms), ordering: .relaxed)
        }
        // modparam("db_sqlite", "max_connections", 16)
        m.param("max_connections", .int) { [driver] value in
            guard let n = value.intValue, n >= 1, n <= 1024 else { throw PluginError("expected a number from 1 to 1024") }
            driver.maxConnections.store(Int32(n), ordering: .relaxed)
        }

        // modparam("db_sqlite", "init_sql", "schema.sql")   repeatable: run on every database file connect creates
        m.param("init_sql", [.str, .repeatable]) { [driver] value in
            guard let path = value.stringValue, !path.isEmpty else { throw PluginError("expected the path of an SQL file") }
            guard let abs = DatabaseURL.absolute(path) else { throw PluginError("cannot resolve '\(path)': no working directory") }
            guard access(abs, R_OK) == 0 else {
                throw PluginError("cannot read '\(abs)': \(String(cString: strerror(errno)))")
            }
            driver.initSQL.withLock { $0.append(abs) }
        }

        // OpenSIPS's alloc_limit sizes its row buffers; rows are streamed here, so it is accepted with no effect (an
        // OpenSIPS config starts). load_extension and exec_pragma would change what queries do: refused, saying so.
        m.param("alloc_limit", .int) { [host] value in
            guard value.intValue != nil else { throw PluginError("expected a number") }
            host.log(.notice, "alloc_limit: no effect (rows are streamed, never counted or buffered)")
        }
        for name in ["load_extension", "exec_pragma"] {
            m.param(name, [.str, .repeatable]) { _ in
                throw PluginError("\(name) is not supported by this driver (it sets its own pragmas and loads no extensions)")
            }
        }

        m.onInit { [host, driver, table] in
            guard sqlite3_libversion_number() >= 3_029_000 else {
                throw PluginError("libsqlite3 \(String(cString: sqlite3_libversion())) is too old: 3.29 or newer is needed")
            }
            guard sqlite3_threadsafe() != 0 else {
                throw PluginError("libsqlite3 was built without thread support (SQLITE_THREADSAFE=0)")
            }
            guard host.apiPublish(Self.apiName, UnsafeRawPointer(table.pointer)) else {
                throw PluginError("cannot publish the '\(Self.apiName)' API (another SQLite driver loaded?)")
            }
            handlelessConnect.publish(driver)
            host.log(.info, "SQLite \(String(cString: sqlite3_libversion())), busy_timeout "
                     + "\(driver.busyTimeoutMs.load(ordering: .relaxed)) ms, max_connections "
                     + "\(driver.maxConnections.load(ordering: .relaxed))")
        }
        m.onDestroy { [driver] in
            let open = driver.open.load(ordering: .relaxed)
            if open > 0 { driver.log(.dbg, "\(open) connection(s) still open at shutdown") }
        }
        return m.build()
    }
}
