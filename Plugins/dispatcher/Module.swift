// The OpenSIPS `dispatcher` module as a Switchyard plugin: destination sets loaded from SQL, selection algorithms,
// failover lists in AVPs, probing, states with E_DISPATCHER_STATUS and persistence, MI, partitions, and weights
// driven by FreeSWITCH heartbeats through the freeswitch module's API. See README.md next to this file.
//
// Data: each partition's sets are loaded into an immutable PartitionData swapped whole by ds_reload (a failed reload
// keeps the old one); per-destination run-time state (flags, weight, counters) lives in atomics read without a lock.
import SwitchyardABI
import DispatcherSelection
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: DispatcherModule.name) else { return nil }
    return DispatcherModule(host: host).build().pointer
}

/// Everything resolved at init; immutable afterwards.
final class Runtime: Sendable {
    let cfg: DSConfig
    let parts: [Partition]
    let byName: [String: Partition]
    let defaultPart: Partition
    let du: SYVar, ru: SYVar, fs: SYVar?
    let fu: SYVar?, tu: SYVar?, ci: SYVar?
    let hashParts: [HashPart]?
    let setidPvar: SYVar?
    let fsBinder: FSBinder?
    let rng: Mutex<Xoshiro>

    init(cfg: DSConfig, parts: [Partition], defaultName: String, host: PluginHost, fsBinder: FSBinder?) throws(PluginError) {
        self.cfg = cfg
        self.parts = parts
        var m: [String: Partition] = [:]
        for p in parts { m[p.cfg.name] = p }
        byName = m
        guard let d = m[defaultName] ?? parts.first else { throw PluginError("no partition to load") }
        defaultPart = d
        du = try host.varParse("$du")
        ru = try host.varParse("$ru")
        fs = try? host.varParse("$fs")
        fu = try? host.varParse("$fu")
        tu = try? host.varParse("$tu")
        ci = try? host.varParse("$ci")
        hashParts = try cfg.hashPvar.map { s throws(PluginError) in try HashPart.parse(s, host: host) }
        setidPvar = try cfg.setidPvar.map { s throws(PluginError) in try host.varParse(s) }
        self.fsBinder = fsBinder
        rng = Mutex(Xoshiro(seed: cfg.randomSeed))
    }

    /// The partition a script argument names (the default one when omitted).
    func partition(_ call: FunctionCall, _ index: Int) -> Partition? {
        guard call.isPresent(index) else { return defaultPart }
        let n = call.string(index).trimmingSpaces()
        return n.isEmpty ? defaultPart : byName[n]
    }
}

/// A piece of hash_pvar: literal text or a variable.
enum HashPart: Sendable {
    case text(String)
    case variable(SYVar)

    /// Splits a format such as "$fU@$fd" into literals and variables ($name, $name(...), $(...)).
    static func parse(_ s: String, host: PluginHost) throws(PluginError) -> [HashPart] {
        var out: [HashPart] = []
        let c = Array(s)
        var i = 0
        var lit = ""
        while i < c.count {
            guard c[i] == "$", i + 1 < c.count else { lit.append(c[i]); i += 1; continue }
            var j = i + 1
            if c[j] == "(" {
                var depth = 0
                while j < c.count { if c[j] == "(" { depth += 1 } else if c[j] == ")" { depth -= 1; if depth == 0 { j += 1; break } }; j += 1 }
            } else {
                while j < c.count, c[j].isLetter || c[j].isNumber || c[j] == "_" { j += 1 }
                if j < c.count, c[j] == "(" {
                    var depth = 0
                    while j < c.count { if c[j] == "(" { depth += 1 } else if c[j] == ")" { depth -= 1; if depth == 0 { j += 1; break } }; j += 1 }
                }
            }
            if !lit.isEmpty { out.append(.text(lit)); lit = "" }
            out.append(.variable(try host.varParse(String(c[i..<j]))))
            i = j
        }
        if !lit.isEmpty { out.append(.text(lit)) }
        return out
    }
}

/// A small fast generator for algorithm 6 (seedable for tests).
struct Xoshiro: Sendable {
    var s: (UInt64, UInt64, UInt64, UInt64)
    init(seed: UInt64) {
        var x = seed == 0 ? UInt64.random(in: 1...UInt64.max) : seed
        func next() -> UInt64 { x &+= 0x9E3779B97F4A7C15; var z = x; z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9; z = (z ^ (z >> 27)) &* 0x94D049BB133111EB; return z ^ (z >> 31) }
        s = (next(), next(), next(), next())
    }
    mutating func next() -> UInt64 {
        let r = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3; s.2 ^= t; s.3 = (s.3 << 45) | (s.3 >> 19)
        return r
    }
}

final class DispatcherModule: Sendable {
    static let name = "dispatcher"
    static let version = "1.0.0"
    static let event = "E_DISPATCHER_STATUS"

    let host: PluginHost
    let config = Mutex(DSConfig())
    let runtime = Mutex<Runtime?>(nil)
    let timers = Mutex<[SYTimer]>([])
    /// Warnings said once (algorithm 10, probes that cannot be sent).
    let warned = Mutex<Set<String>>([])
    /// Destinations with a probe in flight (Probing.swift).
    let inFlight = InFlight()
    /// tm's API when tm is loaded: probes are then its local requests (TMProbe.swift).
    let tm = Mutex<TMBinding?>(nil)
    /// Destination states as statistics (Metrics.swift).
    let metrics: DestinationMetrics

    init(host: PluginHost) { self.host = host; metrics = DestinationMetrics(host: host) }

    var rt: Runtime? { runtime.withLock { $0 } }
    var tmBinding: TMBinding? { tm.withLock { $0 } }

    func warnOnce(_ key: String, _ text: @autoclosure () -> String) {
        if warned.withLock({ $0.insert(key).inserted }) { host.log(.warn, text()) }
    }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "destination sets: selection, failover, probing, FreeSWITCH-driven weights")
        m.dependencyOnAnyDatabase()
        m.dependency(on: "freeswitch", .soft)
        m.dependency(on: "tm", .soft) // probes as tm local requests when loaded
        declareParams(&m)
        declareFunctions(&m)
        declareMI(&m)
        m.event(Self.event)
        m.onInit { [self] in try initialize() }
        m.onDestroy { [self] in shutdown() }
        return m.build()
    }

    private func declareParams(_ m: inout ModuleExportsBuilder) {
        func str(_ name: String, _ set: @escaping @Sendable (inout DSConfig, String) throws -> Void) {
            m.param(name, .str) { [self] v in
                guard let s = v.stringValue else { throw PluginError("expected a string") }
                try config.withLock { try set(&$0, s.trimmingSpaces()) }
            }
        }
        func int(_ name: String, _ set: @escaping @Sendable (inout DSConfig, Int64) throws -> Void) {
            m.param(name, [.int, .str]) { [self] v in
                guard let i = v.intValue ?? v.stringValue.flatMap({ Int64($0.trimmingSpaces()) }) else {
                    throw PluginError("expected an integer")
                }
                try config.withLock { try set(&$0, i) }
            }
        }
        str("db_url") { $0.dbURL = $1 }
        str("table_name") { $0.table = $1 }
        str("setid_col") { $0.cols.setid = $1 }
        str("destination_col") { $0.cols.destination = $1 }
        str("socket_col") { $0.cols.socket = $1 }
        str("state_col") { $0.cols.state = $1 }
        str("weight_col") { $0.cols.weight = $1 }
        str("priority_col") { $0.cols.priority = $1 }
        str("attrs_col") { $0.cols.attrs = $1 }
        str("description_col") { $0.cols.description = $1 }
        str("probe_mode_col") { $0.cols.probeMode = $1 }
        str("dst_avp") { $0.dstAVP = $1 }
        str("grp_avp") { $0.grpAVP = $1 }
        str("cnt_avp") { $0.cntAVP = $1 }
        str("sock_avp") { $0.sockAVP = $1 }
        str("attrs_avp") { $0.attrsAVP = $1 }
        str("script_attrs_avp") { $0.scriptAttrsAVP = $1 }
        str("algo_route") { $0.algoRoute = $1 }
        str("hash_pvar") { $0.hashPvar = $1 }
        str("setid_pvar") { $0.setidPvar = $1 }
        str("pvar_algo_pattern") { $0.pvarAlgoPattern = $1 }
        str("ds_ping_method") { $0.pingMethod = $1 }
        str("ds_ping_from") { $0.pingFrom = $1 }
        int("ds_ping_interval") { c, v in
            guard v >= 0 else { throw PluginError("ds_ping_interval must be >= 0") }
            c.pingInterval = v
        }
        int("ds_ping_maxfwd") { $0.pingMaxfwd = $1 }
        str("ds_probing_sock") { $0.probingSock = $1 }
        for name in ["ds_probing_threshold", "ds_probing_threshhold"] {
            int(name) { c, v in
                guard v >= 1 else { throw PluginError("\(name) must be >= 1") }
                c.probingThreshold = v
            }
        }
        int("ds_probing_mode") { c, v in
            guard v == 0 || v == 1 else { throw PluginError("ds_probing_mode must be 0 or 1") }
            c.probingMode = v
        }
        str("ds_probing_list") { c, s in
            var ids: Set<Int> = []
            for p in s.split(separator: ",") {
                guard let i = Int(p.trimmingSpaces()) else { throw PluginError("ds_probing_list: '\(p)' is not a set id") }
                ids.insert(i)
            }
            c.probingList = ids
        }
        str("options_reply_codes") { c, s in
            var codes: [Int] = []
            for p in s.split(separator: ",") {
                let t = p.trimmingSpaces()
                guard let code = Int(t), (100...699).contains(code) else { throw PluginError("options_reply_codes: bad code '\(t)'") }
                codes.append(code)
            }
            c.optionsReplyCodes = codes
        }
        int("persistent_state") { $0.persistentState = $1 != 0 }
        int("fetch_freeswitch_stats") { $0.fetchFreeswitchStats = $1 != 0 }
        int("max_freeswitch_weight") { c, v in
            guard v >= 0 && v <= 65535 else { throw PluginError("max_freeswitch_weight must be 0..65535") }
            c.maxFreeswitchWeight = v
        }
        // Switchyard additions.
        int("freeswitch_lost_weight") { c, v in
            guard v >= -1 && v <= 65535 else { throw PluginError("freeswitch_lost_weight must be -1..65535") }
            c.freeswitchLostWeight = v
        }
        int("ds_ping_timeout") { c, v in
            guard v >= 0 && v <= 600_000 else { throw PluginError("ds_ping_timeout must be 0..600000 ms") }
            c.pingTimeoutMs = v
        }
        int("random_seed") { $0.randomSeed = UInt64(bitPattern: $1) }
        m.param("partition", [.str, .repeatable]) { [self] v in
            guard let s = v.stringValue else { throw PluginError("expected \"name: key = value; ...\"") }
            let (name, rest) = try PartitionParse.split(s)
            config.withLock { $0.partitionLines.append((name, rest)) }
        }
        // Accepted and ignored: blacklists and clustering are not implemented.
        m.param("ds_define_blacklist", [.str, .repeatable]) { _ in }
        m.param("cluster_id", [.int]) { _ in }
        m.param("cluster_sharing_tag", [.str]) { _ in }
        m.param("cluster_probing_mode", [.str]) { _ in }
    }

    // MARK: - Init

    private func initialize() throws {
        let cfg = config.withLock { $0 }
        let (partCfgs, defaultName) = try PartitionParse.resolve(cfg)
        var binder: FSBinder? = nil
        if cfg.fetchFreeswitchStats {
            let minSize = UInt32(MemoryLayout<sy_freeswitch_api>.offset(of: \sy_freeswitch_api.stats)! + MemoryLayout<OpaquePointer>.size)
            let raw: UnsafeRawPointer
            do { raw = try host.apiBind(SY_FS_API_NAME, major: UInt32(SY_FS_MAJOR), minSize: minSize) } catch {
                throw PluginError("fetch_freeswitch_stats needs loadmodule \"freeswitch.so\" (\(error))")
            }
            let api = raw.assumingMemoryBound(to: sy_freeswitch_api.self)
            // The 1.1 entries (watch, stats_interval_ms) only when the table is long enough.
            binder = FSBinder(api: api, hasWatch: CTable.has(api, \.stats_interval_ms), host: host)
        }
        var parts: [Partition] = []
        for pc in partCfgs {
            let db: DBConnection
            do { db = try DBConnection(host: host, url: pc.dbURL) } catch {
                throw PluginError("partition \(pc.name): \(error)")
            }
            parts.append(try Partition(cfg: pc, db: db, host: host, persistentDefault: cfg.persistentState))
        }
        let rt = try Runtime(cfg: cfg, parts: parts, defaultName: defaultName, host: host, fsBinder: binder)
        for p in parts {
            do {
                let r = try Loader.load(p, cfg: cfg, fs: binder, host: host, reloading: false)
                p.publish(r.data)
                host.log(.notice, "partition \(p.cfg.name): \(r.loaded) destinations loaded (\(r.discarded) discarded) in \(r.data.sets.count) sets")
            } catch {
                throw PluginError("partition \(p.cfg.name): \(error)")
            }
        }
        let binding = TMBinding.bind(host)
        host.log(.info, binding.map { "probes are tm local requests (fr_timeout \($0.frTimeoutMS) ms)" } ?? "tm not loaded: probes are stateless")
        tm.withLock { $0 = binding }
        runtime.withLock { $0 = rt }
        try startTimers(rt)
    }

    private func startTimers(_ rt: Runtime) throws {
        var ts: [SYTimer] = []
        if rt.cfg.pingInterval > 0 {
            let ms = UInt32(min(rt.cfg.pingInterval, 4_000_000)) * 1000
            guard let t = host.timerAdd("ds-pinger", intervalMs: ms, { [self] in probeRound() }) else {
                throw PluginError("cannot register the probing timer")
            }
            ts.append(t)
        }
        if rt.parts.contains(where: \.persistent) {
            guard let t = host.timerAdd("ds-flusher", intervalMs: 30_000, { [self] in flushState() }) else {
                throw PluginError("cannot register the state flush timer")
            }
            ts.append(t)
        }
        if let b = rt.fsBinder {
            var ms: UInt32 = 1000
            if CTable.has(b.api, \.module_stats_interval_ms), let m = b.api.pointee.module, let f = b.api.pointee.module_stats_interval_ms {
                ms = max(10, f(m)) // through the table's own module handle (freeswitch API 1.2)
            } else if b.hasWatch, let f = b.api.pointee.stats_interval_ms {
                ms = max(10, f())
            }
            guard let t = host.timerAdd("ds-update-weights", intervalMs: ms, { [self] in updateWeights() }) else {
                throw PluginError("cannot register the FreeSWITCH weight timer")
            }
            ts.append(t)
            host.log(.info, "FreeSWITCH-driven weights refreshed every \(ms) ms")
        }
        if let t = startMetrics(rt) { ts.append(t) }
        timers.withLock { $0 = ts }
    }

    private func shutdown() {
        for t in timers.withLock({ t -> [SYTimer] in defer { t = [] }; return t }) { host.timerRemove(t) }
        flushState()
        // Release the FreeSWITCH boxes now (the freeswitch module stops after us).
        if let rt { for p in rt.parts { p.publish(.empty) } }
        runtime.withLock { $0 = nil }
    }

    // MARK: - Reload

    /// Reloads one partition (nil: all). A failure keeps that partition's old sets and names the problem.
    func reload(partition: String?, inheritState: Bool) -> Result<Void, LoadError> {
        guard let rt else { return .failure(LoadError("module not initialised")) }
        let targets: [Partition]
        if let partition {
            guard let p = rt.byName[partition] else { return .failure(LoadError("Unknown partition")) }
            targets = [p]
        } else {
            targets = rt.parts
        }
        for p in targets {
            let r: Result<Void, LoadError> = p.reloadLock.withLock { _ in
                do {
                    let res = try Loader.load(p, cfg: rt.cfg, fs: rt.fsBinder, host: host, reloading: true)
                    // The old state is read only now, after the (possibly slow) DNS lookups of the load.
                    if inheritState { Loader.inheritState(from: p.data, into: res.data) }
                    p.publish(res.data)
                    host.log(.notice, "ds_reload: partition \(p.cfg.name): \(res.loaded) destinations loaded (\(res.discarded) discarded)")
                    return .success(())
                } catch {
                    host.log(.err, "ds_reload: partition \(p.cfg.name) failed, keeping its old sets: \(error)")
                    return .failure(error as? LoadError ?? LoadError("\(error)"))
                }
            }
            if case .failure = r { return r }
        }
        // FreeSWITCH weights of the new destinations start at max_freeswitch_weight; refresh them at once.
        if rt.fsBinder != nil { updateWeights() }
        return .success(())
    }
}
