// The OpenSIPS `statistics` module as a Switchyard plugin: script-defined statistics on top of the core's
// statistics registry (host stat_register/stat_update/stat_get), read over MI with get_statistics as "group:name".
//
//   modparam("statistics", "variable", "name" | "group:name" [+ "/no_reset"])   declared at init, start at 0
//   modparam("statistics", "stat_groups", "g1, g2")                               groups usable as "g:name"
//   update_stat(name, value)   reset_stat(name)   stat_iter_init(group, iter)   stat_iter_next(name, val, iter)
//   $stat(name) read; $stat(name) = 0 resets
//
// See README.md next to this file for the exact semantics and the differences from OpenSIPS.
//
// No global state: the host table and the module's tables live in the objects below, reached from the C exports through
// the kit's retained boxes.
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
    guard let host = PluginHost(raw, module: StatisticsModule.name) else { return nil } // another ABI major: refuse
    return StatisticsModule(host: host).build().pointer // allocated once, never freed
}

final class StatisticsModule: Sendable {
    static let name = "statistics"
    static let version = "1.0.0"

    /// Where OpenSIPS 3.x allows its functions: every route but error_route.
    static let routes = RouteMask.all.subtracting(.error)

    let host: PluginHost
    let table = StatTable()
    /// Per script-worker caches of resolved names (see workerCache), by worker rank.
    let caches: [OnceSlot<NameCache>] = (0..<256).map { _ in OnceSlot() }
    let iterators = StatIterators()

    init(host: PluginHost) {
        self.host = host
    }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "script access to the statistics manager")

        // modparam("statistics", "variable", "active_calls/no_reset")
        m.param("variable", [.str, .repeatable]) { [table] value in
            guard let spec = value.stringValue else { throw PluginError("expected a string") }
            try table.declare(spec)
        }
        // modparam("statistics", "stat_groups", "method, packet, response")
        m.param("stat_groups", [.str, .repeatable]) { [table] value in
            guard let list = value.stringValue else { throw PluginError("expected a string") }
            try table.declareGroups(list)
        }

        // update_stat("name" | "group:name", value)
        m.function("update_stat", params: [.str, .int], routes: Self.routes) { [self] call in
            updateStat(call)
        }
        // reset_stat("name" | "group:name")
        m.function("reset_stat", params: [.str], routes: Self.routes) { [self] call in
            resetStat(call)
        }
        // stat_iter_init("group", "iter")
        m.function("stat_iter_init", params: [.str, .str], routes: Self.routes) { [self] call in
            iterInit(call)
        }
        // stat_iter_next($var(name), $var(value), "iter")
        m.function("stat_iter_next", params: [.var, .var, .str], routes: Self.routes) { [self] call in
            iterNext(call)
        }

        // $stat(name), $stat(group:name), $stat(packets:$var(type)); `$stat(x) = 0` resets
        m.pseudoVariable("stat", parse: { [self] inner in
            try parseName(inner)
        }, get: { [self] ctx, name in
            getStat(ctx, name)
        }, set: { [self] ctx, name, _, value in
            setStat(ctx, name, value)
        })

        m.onInit { [self] in
            try table.registerDeclared(host)
        }
        return m.build()
    }

    // MARK: Functions

    /// 1 on success (an update by 0 does nothing and succeeds); -1 for an undeclared group or an invalid name.
    func updateStat(_ call: FunctionCall) -> Int32 {
        let delta = call.int(1)
        if delta == 0 { return 1 } // OpenSIPS: "update with 0 value makes no sense"
        let name = call.string(0)
        let cache = workerCache(call)
        if let e = cache?.entries[name] {
            host.statUpdate(e.stat, delta)
            return 1
        }
        switch table.obtain(name, host: host) {
        case .success(let entry):
            if let cache, cache.entries.count < 4096 { cache.entries[name] = entry }
            host.statUpdate(entry.stat, delta)
            return 1
        case .failure(let error):
            host.log(.err, "update_stat: \(error)")
            return -1
        }
    }

    /// This worker's name → entry cache, or nil off the script workers. A name, once it resolves, always resolves to
    /// the same entry (entries are never removed or re-pointed), so the cache needs no invalidation; being the
    /// worker's own, it needs no lock either — the shared table's lock, taken twice per event by every worker, was
    /// a contention point of the event scenario.
    private func workerCache(_ call: FunctionCall) -> NameCache? {
        guard let w = call.worker, w >= 0, Int(w) < caches.count else { return nil }
        let slot = caches[Int(w)]
        if let c = slot.load() { return c }
        return slot.storeIfNil(NameCache())
    }

    /// 1 on success (a `/no_reset` statistic is left alone, still 1); -1 for an undeclared group or an invalid name.
    func resetStat(_ call: FunctionCall) -> Int32 {
        switch table.obtain(call.string(0), host: host) {
        case .success(let entry):
            table.reset(entry, host: host)
            return 1
        case .failure(let error):
            host.log(.err, "reset_stat: \(error)")
            return -1
        }
    }

    /// 1, or -1 for a group that was not declared.
    func iterInit(_ call: FunctionCall) -> Int32 {
        let group = call.string(0)
        guard let entries = table.entries(inGroup: group) else {
            host.log(.err, "stat_iter_init: unknown group \(group) (\(StatTable.unknownGroupMessage(group)))")
            return -1
        }
        iterators.start(call.string(1), over: entries)
        return 1
    }

    /// 1 after writing the next statistic's name and value; -1 at the end (or an unknown iterator, or a variable that
    /// refuses the value).
    func iterNext(_ call: FunctionCall) -> Int32 {
        let iter = call.string(2)
        guard let entry = iterators.next(iter) else { return -1 }
        guard call.set(0, .string(entry.name)) else {
            host.log(.err, "stat_iter_next: failed to set the name variable for stat '\(entry.name)'")
            return -1
        }
        let value = host.statGet(entry.stat)
        guard call.set(1, .int(value)) else {
            host.log(.err, "stat_iter_next: failed to set the value variable for stat '\(entry.name)' (\(value))")
            return -1
        }
        return 1
    }

    // MARK: $stat

    /// Startup: the name's variables are resolved; a literal "group:name" must use a declared group.
    func parseName(_ inner: String) throws(PluginError) -> StatName {
        let name = try StatName.parse(inner, host: host)
        if let literal = name.literal {
            let (group, bare) = StatTable.split(Substring(literal))
            guard !bare.isEmpty, !bare.contains(":"), group.map({ !$0.isEmpty }) ?? true else {
                throw PluginError("invalid statistic name '\(literal)'")
            }
            if let group, !table.isKnownGroup(group) { throw PluginError(StatTable.unknownGroupMessage(group)) }
        }
        return name
    }

    /// The value, or NULL when the statistic does not exist (it is not created by a read).
    func getStat(_ ctx: SYContext, _ name: StatName) -> SYValue {
        guard let text = name.evaluate(ctx, host: host) else {
            host.log(.err, "$stat: failed to evaluate the statistic name")
            return .null
        }
        switch table.resolve(text) {
        case .found(let entry):
            return .int(host.statGet(entry.stat))
        case .missing:
            return .null
        case .unknownGroup(let group):
            host.log(.err, "$stat(\(text)): \(StatTable.unknownGroupMessage(group))")
            return .null
        case .invalid:
            host.log(.err, "$stat(\(text)): invalid statistic name")
            return .null
        }
    }

    /// Any assignment resets the statistic (creating it if needed); a non-zero value is warned about, as in OpenSIPS.
    func setStat(_ ctx: SYContext, _ name: StatName, _ value: SYValue) -> Bool {
        guard let text = name.evaluate(ctx, host: host) else {
            host.log(.err, "$stat: failed to evaluate the statistic name")
            return false
        }
        switch table.obtain(text, host: host) {
        case .success(let entry):
            if !Self.isZero(value) { host.log(.warn, "$stat(\(text)): non-zero value - setting value to 0") }
            table.reset(entry, host: host)
            return true
        case .failure(let error):
            host.log(.err, "$stat(\(text)): \(error)")
            return false
        }
    }

    static func isZero(_ value: SYValue) -> Bool {
        switch value {
        case .null: return true
        case .int(let i): return i == 0
        case .string(let s): return Int64(s.trimmingBlanks()) == 0
        }
    }
}

/// stat_iter_init/stat_iter_next cursors. OpenSIPS keeps them per process; here per script worker thread, keyed by the
/// thread and the iterator's name, so workers iterating "iter" at the same time do not disturb each other.
final class StatIterators: Sendable {
    private struct Key: Hashable {
        let thread: UInt
        let name: String
    }

    private struct Cursor {
        var entries: [StatEntry]
        var position: Int
    }

    private let cursors = Mutex([Key: Cursor]())

    /// Re-initialises `name` on the calling thread over a snapshot of the group's statistics (values are read live).
    func start(_ name: String, over entries: [StatEntry]) {
        let key = Key(thread: Self.currentThread, name: name)
        cursors.withLock { $0[key] = Cursor(entries: entries, position: 0) }
    }

    /// The next statistic of `name` on the calling thread, or nil at the end / for an iterator never initialised.
    func next(_ name: String) -> StatEntry? {
        let key = Key(thread: Self.currentThread, name: name)
        return cursors.withLock { c -> StatEntry? in
            guard var cursor = c[key], cursor.position < cursor.entries.count else { return nil }
            let entry = cursor.entries[cursor.position]
            cursor.position += 1
            c[key] = cursor
            return entry
        }
    }

    private static var currentThread: UInt {
        #if canImport(Darwin)
        UInt(bitPattern: pthread_self())
        #else
        UInt(pthread_self())
        #endif
    }
}

/// A worker's own resolved statistic names: used only from that worker's thread.
final class NameCache: @unchecked Sendable {
    var entries: [String: StatEntry] = [:]
}

