// cache_local (alias cachedb_local): the in-memory backend of the core cache functions, as a Switchyard plugin.
//
// The core owns cache_store / cache_fetch / cache_remove / cache_add / cache_sub / cache_counter_fetch / cache_insert
// and the MI commands cache_store / cache_fetch / cache_remove; it reaches this module through the sy_cachedb_api table
// published as "cachedb:local" (switchyard_cachedb.h). This module adds what works on collections directly:
//
//   modparam("cachedb_local", "cache_collections", "name[/r][=log2size]; ...")   `default` always exists
//   modparam("cachedb_local", "cachedb_url", "local[:group]://[/collection]")     repeatable; none → "local" = default
//   modparam("cachedb_local", "cache_clean_period", 600)                          expired-entry sweep, seconds
//   modparam("cachedb_local", "exec_threshold", 0)                                log operations slower than N µs
//   cache_remove_chunk([collection,] glob)                                        MI: cache_remove_chunk, cache_fetch_chunk
//
// See README.md next to this file for the exact semantics and the differences from OpenSIPS.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: CacheLocalModule.name) else { return nil } // another ABI major: refuse
    let module = CacheLocalModule(host: host)
    // Published now rather than in init(): `switchyard -c` runs the fixups (which bind literal cache ids and open
    // their groups) without init(). open() builds the collections from the modparams on first use. Each instance
    // publishes its own table, whose `module` is the instance (cachedb API 1.2).
    _ = host.apiPublish(CacheLocalModule.apiName, UnsafeRawPointer(module.table.pointer))
    module.claim()
    return module.build().pointer // allocated once, never freed
}

/// The module the 1.0 `open` of the table works for (no handle: see HandlelessEntry). Claimed by the entry function,
/// by each modparam line and by init(): the module the core configures and initialises wins over one whose entry
/// function was only called to read its aliases (the loader does that when it looks for a module by alias).
private let handlelessOpen = HandlelessEntry<CacheLocalModule>()

extension CacheLocalModule {
    /// A sy_cachedb_api table, built once, never freed; its `module` is set by the instance it belongs to (own(_:)).
    static func makeTable() -> UnsafePointer<sy_cachedb_api> {
        var api = sy_cachedb_api()
        api.header = sy_table_header(abi_major: UInt32(SY_CACHEDB_MAJOR), abi_minor: UInt32(SY_CACHEDB_MINOR),
                                     struct_size: UInt32(MemoryLayout<sy_cachedb_api>.stride), reserved: 0)
        api.module_open = { m, group, err, errlen in
            guard let m else { return nil }
            return cacheOpen(Unmanaged<CacheLocalModule>.fromOpaque(UnsafeRawPointer(m)).takeUnretainedValue(), group, err, errlen)
        }
        api.open = { group, err, errlen in cacheOpen(handlelessOpen.instance, group, err, errlen) }
        api.store = { conn, key, value, expire in
            withCollection(conn) { $0.store(key.bytes, value.bytes, expire: expire) }
        }
        api.insert = { conn, key, value, expire in
            withCollection(conn) { $0.insert(key.bytes, value.bytes, expire: expire) }
        }
        api.fetch = { conn, key, sink, sinkArg in
            withCollection(conn) { c in
                c.fetch(key.bytes) { value in
                    sink?(sinkArg, value.baseAddress?.assumingMemoryBound(to: CChar.self), value.count)
                }
            }
        }
        api.remove = { conn, key in withCollection(conn) { $0.remove(key.bytes) } }
        api.add = { conn, key, delta, expire, newValue in
            withCollection(conn) { c in
                var n: Int64 = 0
                let rc = c.add(key.bytes, delta: delta, expire: expire, newValue: &n)
                if rc == CacheResult.ok { newValue?.pointee = n }
                return rc
            }
        }
        api.counter_fetch = { conn, key, value in
            withCollection(conn) { c in
                var n: Int64 = 0
                let rc = c.counterFetch(key.bytes, value: &n)
                if rc == CacheResult.ok { value?.pointee = n }
                return rc
            }
        }
        // Not allocate/initialize: a shorter sy_cachedb_api of an older plugin in the process would cut the copy (CTable).
        return CTable.keep(&api, size: MemoryLayout<sy_cachedb_api>.stride, alignment: MemoryLayout<sy_cachedb_api>.alignment)
            .assumingMemoryBound(to: sy_cachedb_api.self)
    }
}

/// A connection is the collection object itself (kept alive by the module's topology for the life of the process).
/// No retain/release per call: all workers using one collection would otherwise contend on its reference count.
@inline(__always)
private func withCollection(_ conn: OpaquePointer?, _ body: (Collection) -> Int32) -> Int32 {
    guard let conn else { return CacheResult.error }
    return Unmanaged<Collection>.fromOpaque(UnsafeRawPointer(conn))._withUnsafeGuaranteedRef(body)
}

private func cacheOpen(_ module: CacheLocalModule?, _ group: UnsafePointer<CChar>?, _ err: UnsafeMutablePointer<CChar>?,
                       _ errlen: Int) -> OpaquePointer? {
    guard let module else {
        writeError("cachedb_local is not loaded", into: err, capacity: errlen)
        return nil
    }
    switch module.connection(group: group.map { String(cString: $0) }) {
    case .success(let c):
        return OpaquePointer(Unmanaged.passUnretained(c).toOpaque())
    case .failure(let e):
        writeError(e.message, into: err, capacity: errlen)
        return nil
    }
}

/// Copies `message` into a C error buffer, truncated (at a UTF-8 boundary) and NUL-terminated.
private func writeError(_ message: String, into buffer: UnsafeMutablePointer<CChar>?, capacity: Int) {
    guard let buffer, capacity > 0 else { return }
    var bytes = Array(message.utf8)
    if bytes.count > capacity - 1 {
        var n = capacity - 1
        while n > 0 && (bytes[n] & 0xC0) == 0x80 { n -= 1 }
        bytes.removeSubrange(n...)
    }
    for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
    buffer[bytes.count] = 0
}

// MARK: - The module

final class CacheLocalModule: Sendable {
    static let name = "cache_local"
    static let alias = "cachedb_local"
    static let version = "1.0.0"
    static let apiName = "cachedb:local"

    enum Setup: Sendable {
        /// Collecting modparam lines.
        case configuring(CacheConfig)
        /// Collections built, groups bound: the configuration is frozen.
        case ready(CacheTopology)
        case failed(String)
    }

    let host: PluginHost
    private let setup = Mutex(Setup.configuring(CacheConfig()))
    private let cleaner = Mutex<SYTimer?>(nil)
    /// This instance's table, published as "cachedb:local" (never freed).
    let table: CTablePointer<sy_cachedb_api>

    init(host: PluginHost) {
        self.host = host
        table = CTablePointer(Self.makeTable())
        // The table's `module` is this instance, retained as long as the table (forever): module_open reaches it
        // through that handle. Written once here, before the table is published.
        UnsafeMutableRawPointer(mutating: table.pointer).storeBytes(
            of: OpaquePointer(Unmanaged.passRetained(self).toOpaque()),
            toByteOffset: MemoryLayout<sy_cachedb_api>.offset(of: \.module)!, as: OpaquePointer?.self)
    }

    /// Makes this module the one the 1.0 `open` serves.
    func claim() {
        handlelessOpen.publish(self)
    }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "in-memory key-value cache backend (cachedb:local) with collections")
        m.aliases = [Self.alias]

        // modparam("cachedb_local", "cache_collections", "default=12; calls/r; limits = 5")
        m.param("cache_collections", [.str, .repeatable]) { [self] value in
            guard let list = value.stringValue else { throw PluginError("expected a string") }
            try configure { (c) throws(PluginError) in try c.addCollections(list) }
        }
        // modparam("cachedb_local", "cachedb_url", "local:grp:///limits")
        m.param("cachedb_url", [.str, .repeatable]) { [self] value in
            guard let url = value.stringValue else { throw PluginError("expected a string") }
            try configure { (c) throws(PluginError) in try c.addURL(url) }
        }
        // modparam("cachedb_local", "cache_clean_period", 60)
        m.param("cache_clean_period", .int) { [self] value in
            guard let n = value.intValue, n > 0 else {
                throw PluginError("wrong parameter cache_clean_period - need a positive value")
            }
            try configure { c in c.cleanPeriod = Int(clamping: n) }
        }
        // modparam("cachedb_local", "exec_threshold", 20000)
        m.param("exec_threshold", .int) { [self] value in
            guard let n = value.intValue, n >= 0 else { throw PluginError("exec_threshold must be 0 (off) or a number of microseconds") }
            try configure { c in c.execThreshold = Int(clamping: n) }
        }

        // cache_remove_chunk("glob") / cache_remove_chunk("collection", "glob")
        m.function("cache_remove_chunk", params: [.str, [.str, .optional]]) { [self] call in
            let (name, glob) = call.isPresent(1)
                ? (call.string(0), call.string(1)) : (CacheConfig.defaultCollection, call.string(0))
            guard let c = collection(named: name) else {
                host.log(.err, "cache_remove_chunk: collection <\(name)> not defined")
                return -1
            }
            let n = c.removeMatching(glob)
            host.log(.dbg, "cache_remove_chunk: removed \(n) key(s) matching [\(glob)] from <\(name)>")
            return 1
        }

        // cache_remove_chunk glob=... [collection=...]
        m.miCommand("cache_remove_chunk", help: "remove the keys of a collection (default: 'default') matching a glob",
                    recipes: [["glob"], ["glob", "collection"]]) { [self] req in
            guard let glob = req.string("glob").value else {
                return .error(code: -32602, message: "Invalid params", data: "glob must be a string")
            }
            let name = req.string("collection").value ?? CacheConfig.defaultCollection
            guard let c = collection(named: name) else {
                return .error(code: 500, message: "collection <\(name)> not defined")
            }
            c.removeMatching(glob)
            return .ok
        }
        // cache_fetch_chunk glob=... [collection=...] → {"keys":[{"name":..,"value":..}, ...]}
        m.miCommand("cache_fetch_chunk", help: "list the keys and values of a collection (default: 'default') matching a glob",
                    recipes: [["glob"], ["glob", "collection"]]) { [self] req in
            guard let glob = req.string("glob").value else {
                return .error(code: -32602, message: "Invalid params", data: "glob must be a string")
            }
            let name = req.string("collection").value ?? CacheConfig.defaultCollection
            guard let c = collection(named: name) else {
                return .error(code: -32602, message: "Invalid params", data: "collection <\(name)> not defined")
            }
            let entries = c.entriesMatching(glob).sorted { $0.key.lexicographicallyPrecedes($1.key) }
            req.addObject()
            req.addArray("keys")
            for e in entries {
                req.addObject()
                req.add("name", bytes: e.key)
                req.add("value", bytes: e.value)
                req.end()
            }
            return .built
        }

        m.onInit { [self] in try start() }
        m.onDestroy { [self] in stop() }
        return m.build()
    }

    // MARK: Lifecycle

    /// init(): freeze the configuration, start the cleaner.
    func start() throws {
        claim()
        let topology = try self.topology().get()
        let size = UInt32(MemoryLayout<sy_cachedb_api>.stride)
        let bound = (try? host.apiBind(Self.apiName, major: UInt32(SY_CACHEDB_MAJOR), minSize: size))
            ?? (host.apiPublish(Self.apiName, UnsafeRawPointer(table.pointer)) ? UnsafeRawPointer(table.pointer) : nil)
        guard bound == UnsafeRawPointer(table.pointer) else {
            throw PluginError("the API name '\(Self.apiName)' is taken by another module")
        }
        let periodMs = UInt32(min(topology.cleanPeriod, Int(UInt32.max / 1000)) * 1000)
        let collections = topology.collections
        let host = self.host
        guard let timer = host.timerAdd("cachedb_local-expire", intervalMs: periodMs, {
            for c in collections {
                let n = c.sweepExpired()
                if n > 0 { host.log(.dbg, "removed \(n) expired entries from collection <\(c.name)>") }
            }
        }) else { throw PluginError("cannot register the expiry timer") }
        cleaner.withLock { $0 = timer }
        let names = topology.collections.map { "\($0.name) (\($0.shards.count) shards)" }.joined(separator: ", ")
        let groups = (topology.noGroup.map { ["local → \($0.name)"] } ?? [])
            + topology.groups.keys.sorted().map { "local:\($0) → \(topology.groups[$0]!.name)" }
        host.log(.info, "collections: \(names); connections: \(groups.joined(separator: ", ")); clean period \(topology.cleanPeriod) s")
    }

    /// destroy(): stop the cleaner and free every entry.
    func stop() {
        if let t = cleaner.withLock({ t -> SYTimer? in defer { t = nil }; return t }) { host.timerRemove(t) }
        if case .success(let topology) = topology() {
            for c in topology.collections { c.removeAll() }
        }
    }

    // MARK: Configuration

    private func configure(_ change: (inout CacheConfig) throws(PluginError) -> Void) throws(PluginError) {
        claim()
        try setup.withLock { (s) throws(PluginError) in
            guard case .configuring(var c) = s else {
                throw PluginError("the module is already initialised: modparam lines must come before startup")
            }
            try change(&c)
            s = .configuring(c)
        }
    }

    /// The topology, built from the modparams on first use (init, or an open() during fixups if earlier).
    func topology() -> Result<CacheTopology, PluginError> {
        setup.withLock { s -> Result<CacheTopology, PluginError> in
            switch s {
            case .ready(let t):
                return .success(t)
            case .failed(let message):
                return .failure(PluginError(message))
            case .configuring(let config):
                do throws(PluginError) {
                    let t = try CacheTopology.build(config, host: host)
                    s = .ready(t)
                    return .success(t)
                } catch {
                    s = .failed(error.message)
                    return .failure(error)
                }
            }
        }
    }

    func collection(named name: String) -> Collection? {
        guard case .success(let t) = topology() else { return nil }
        return t.collection(named: name)
    }

    /// The collection a cachedb group uses: nil group = "local", else "local:<group>".
    func connection(group: String?) -> Result<Collection, PluginError> {
        let t: CacheTopology
        switch topology() {
        case .success(let topology): t = topology
        case .failure(let e): return .failure(e)
        }
        guard let group else {
            if let c = t.noGroup { return .success(c) }
            return .failure(PluginError("no cachedb_url without a group (\"local://...\") is defined, only groups: \(t.groups.keys.sorted().joined(separator: ", "))"))
        }
        if let c = t.groups[group] { return .success(c) }
        return .failure(PluginError("group '\(group)' is not defined: add modparam(\"cachedb_local\", \"cachedb_url\", \"local:\(group):///<collection>\")"))
    }
}
