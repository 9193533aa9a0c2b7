// The `cachedb_redis` module: a Redis backend of the core cache functions (cache_store, cache_fetch, cache_remove,
// cache_add, cache_sub, cache_counter_fetch, cache_raw_query and Switchyard's atomic cache_insert), through hiredis,
// published as "cachedb:redis" (switchyard_cachedb.h). Scripts name it "redis" or "redis:GROUP".
//
//   modparam("cachedb_redis", "cachedb_url", "redis:group://[:password@]host[:port][,host2...][/db]")  repeatable
//   modparam("cachedb_redis", "connect_timeout", 5000)   ms (0: blocking connect)
//   modparam("cachedb_redis", "query_timeout", 5000)     ms per command (0: none)
//   modparam("cachedb_redis", "shutdown_on_error", 0)    1: a URL that cannot be reached at startup stops startup
//   modparam("cachedb_redis", "use_tls", 0)              TLS is not supported (1 stops startup)
//   modparam("cachedb_redis", "ftsearch_*", ...)         accepted, no effect (no column-oriented API)
//
// Files: RedisURL.swift (URL grammar), RedisPool.swift (connections, reconnect, failover), Commands.swift (the cache
// operations as Redis commands). See README.md next to this file.
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: RedisModule.name) else { return nil } // another ABI major: refuse
    let module = RedisModule(host: host)
    // Published now rather than in init(): `switchyard -c` runs the fixups (which open literal cache ids) without
    // init(), as cache_local does. Each instance publishes its own table, whose `module` is the instance.
    _ = host.apiPublish(RedisModule.apiName, UnsafeRawPointer(module.table.pointer))
    handlelessOpen.publish(module)
    return module.build().pointer // allocated once, never freed
}

/// The module whose URLs the 1.0 `open` serves (no handle: see HandlelessEntry). The latest loaded wins; connections
/// already opened keep their pools.
let handlelessOpen = HandlelessEntry<RedisModule>()

struct RedisConfig: Sendable {
    var urls: [RedisURL] = []
    var timeouts = RedisTimeouts(connectMs: 5000, queryMs: 5000)
    var shutdownOnError = false
}

final class RedisModule: Sendable {
    static let name = "cachedb_redis"
    static let version = "1.0.0"
    static let apiName = "cachedb:redis"

    let host: PluginHost
    let config = Mutex(RedisConfig())
    /// One pool per cachedb_url, built on first open().
    private let pools = Mutex<[Int: RedisPool]>([:])
    /// This instance's table, published as "cachedb:redis" (never freed).
    let table: CTablePointer<sy_cachedb_api>

    init(host: PluginHost) {
        self.host = host
        table = CTablePointer(makeRedisTable())
        // The table's `module` is this instance, retained as long as the table (forever): module_open reaches it
        // through that handle. Written once here, before the table is published.
        UnsafeMutableRawPointer(mutating: table.pointer).storeBytes(
            of: OpaquePointer(Unmanaged.passRetained(self).toOpaque()),
            toByteOffset: MemoryLayout<sy_cachedb_api>.offset(of: \.module)!, as: OpaquePointer?.self)
    }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "Redis backend of the cache functions (redis:// URLs)")
        m.param("cachedb_url", [.str, .repeatable]) { [self] v in
            guard let text = v.stringValue else { throw PluginError("expected a redis:// URL") }
            switch RedisURL.parse(text) {
            case .success(let url): config.withLock { $0.urls.append(url) }
            case .failure(let e): throw PluginError(e.message)
            }
        }
        m.param("connect_timeout", .int) { [self] v in
            guard let n = v.intValue, n >= 0, n <= 3_600_000 else { throw PluginError("expected milliseconds >= 0") }
            if n == 0 { host.log(.warn, "connect_timeout 0: connects block until the system gives up") }
            config.withLock { $0.timeouts.connectMs = Int(n) }
        }
        m.param("query_timeout", .int) { [self] v in
            guard let n = v.intValue, n >= 0, n <= 3_600_000 else { throw PluginError("expected milliseconds >= 0") }
            config.withLock { $0.timeouts.queryMs = Int(n) }
        }
        m.param("shutdown_on_error", .int) { [self] v in
            guard let n = v.intValue else { throw PluginError("expected 0 or 1") }
            config.withLock { $0.shutdownOnError = n != 0 }
        }
        m.param("use_tls", .int) { v in
            guard let n = v.intValue else { throw PluginError("expected 0 or 1") }
            if n != 0 { throw PluginError("TLS is not supported: the system hiredis is built without it") }
        }
        // OpenSIPS's column-oriented API (RedisJSON/RediSearch, used by usrloc federation) is not implemented: its
        // four parameters are accepted, so an OpenSIPS config starts, and said to have no effect.
        for name in ["ftsearch_index_name", "ftsearch_json_prefix"] {
            m.param(name, .str) { [host] v in
                guard v.stringValue != nil else { throw PluginError("expected a string") }
                host.log(.notice, "\(name): no effect (the column-oriented API is not implemented)")
            }
        }
        for name in ["ftsearch_max_results", "ftsearch_json_mset_expire"] {
            m.param(name, .int) { [host] v in
                guard let n = v.intValue, n >= 0 else { throw PluginError("expected a number >= 0") }
                host.log(.notice, "\(name): no effect (the column-oriented API is not implemented)")
            }
        }
        m.onInit { [self] in
            handlelessOpen.publish(self)
            let cfg = config.withLock { $0 }
            if cfg.urls.isEmpty { host.log(.warn, "no cachedb_url: cache_*(\"redis\", ...) calls will fail") }
            // Every URL is tried once now, so a typo shows at startup; it stops startup only with shutdown_on_error.
            for i in cfg.urls.indices {
                let p = pool(i)
                switch p.connect() {
                case .success: host.log(.info, "\(p.url.masked): connected")
                case .failure(let e):
                    if cfg.shutdownOnError { throw PluginError(e.message) }
                    host.log(.err, "\(e.message) (will retry on first use)")
                }
            }
        }
        m.onDestroy { [self] in pools.withLock { $0 = [:] } }
        return m.build()
    }

    func pool(_ index: Int) -> RedisPool {
        pools.withLock { p in
            if let existing = p[index] { return existing }
            let cfg = config.withLock { $0 }
            let made = RedisPool(url: cfg.urls[index], timeouts: cfg.timeouts) { [host] level, text in host.log(level, text) }
            p[index] = made
            return made
        }
    }

    /// The pool for a script's group: no group → the last URL without one; a group → the first URL with it.
    func open(group: String?) -> Result<RedisPool, PluginErrorText> {
        let urls = config.withLock { $0.urls }
        let index = group == nil ? urls.lastIndex { $0.group == nil } : urls.firstIndex { $0.group == group }
        guard let index else {
            if let group {
                return .failure(PluginErrorText("group '\(group)' is not defined: add modparam(\"cachedb_redis\", \"cachedb_url\", \"redis:\(group)://host:port/\")"))
            }
            return .failure(PluginErrorText("no cachedb_url without a group (\"redis://host:port/\") is defined"))
        }
        return .success(pool(index))
    }
}
