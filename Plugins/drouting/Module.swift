// The OpenSIPS `drouting` (dynamic routing) module as a Switchyard plugin.
//
//   modparam("drouting", "db_url", "sqlite:///etc/switchyard/dr.db")        + table/column/AVP names, see README.md
//   do_routing([group], [flags], [gw_whitelist], [rule_attrs], [gw_attrs], [carrier_attrs], [partition])
//   use_next_gw / next_routing, route_to_gw, route_to_carrier, goes_to_gw, dr_is_gw, is_from_gw, dr_disable
//   MI: dr_reload, dr_reload_status, dr_gw_status, dr_carrier_status, dr_number_routing, dr_enable_probing
//   Gateway probing (probing_interval, probe_mode): Probing.swift
//
// Data: loaded at init into an immutable Snapshot (digit trie per group) and swapped whole on dr_reload; readers copy
// the reference under a short lock, so they never see half a reload, and a failed reload keeps the old snapshot.
// No global state: everything hangs off DroutingModule, reached through the kit's retained boxes.
import Foundation
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: DroutingModule.name) else { return nil }
    return DroutingModule(host: host).build().pointer
}

/// An AVP-like variable: `one` reads/pushes/pops the newest value, `all` (`$(avp(x)[*])`) clears every value.
struct QueueVar: Sendable {
    let one: SYVar
    let all: SYVar?
}

/// Everything resolved at init.
final class Runtime: Sendable {
    let cfg: DRConfig
    let db: DBConnection?
    let ru: SYVar
    let rU: SYVar
    let du: SYVar?
    let fu: SYVar?
    /// The message's source IP/port and transport (NULL on the dummy message of startup/timer/event routes).
    let si: SYVar?, sp: SYVar?, proto: SYVar?
    /// The forced send socket: set to the chosen gateway's `socket` (as OpenSIPS forces it).
    let fs: SYVar?
    let ruri: QueueVar, gwID: QueueVar, gwSock: QueueVar, carrierID: QueueVar
    /// Only when gw_priprefix_avp is set (nothing reads it otherwise, as in OpenSIPS).
    let priprefix: QueueVar?
    let ruleID: QueueVar?, rulePrefix: QueueVar?
    let ruleAttrs: QueueVar, fallback: QueueVar
    let rng: RandomSource
    let raw: RawHost

    init(cfg: DRConfig, db: DBConnection?, host: PluginHost) throws {
        self.cfg = cfg
        raw = RawHost(host)
        self.db = db
        func queue(_ spec: String) throws -> QueueVar {
            let one = try host.varParse(spec)
            var all: SYVar? = nil
            if spec.hasPrefix("$avp("), spec.hasSuffix(")") {
                all = try? host.varParse("$(" + spec.dropFirst()  + "[*])")
            }
            return QueueVar(one: one, all: all)
        }
        ru = try host.varParse("$ru")
        rU = try host.varParse("$rU")
        du = try? host.varParse("$du")
        fu = try? host.varParse("$fu")
        si = try? host.varParse("$si")
        sp = try? host.varParse("$sp")
        proto = try? host.varParse("$proto")
        fs = try? host.varParse("$fs")
        ruri = try queue(cfg.ruriAVP)
        gwID = try queue(cfg.gwIdAVP)
        gwSock = try queue(cfg.gwSockAVP)
        carrierID = try queue(cfg.carrierIdAVP ?? "$avp(___dr_carrier_id__)")
        priprefix = try cfg.gwPriprefixAVP.map(queue)
        ruleID = try cfg.ruleIdAVP.map(queue)
        rulePrefix = try cfg.rulePrefixAVP.map(queue)
        ruleAttrs = try queue("$avp(___dr_rule_attrs__)")
        fallback = try queue("$avp(___dr_fallback__)")
        rng = RandomSource(seed: cfg.randomSeed)
    }

    func now() -> Int64 { cfg.fixedTime != 0 ? cfg.fixedTime : Int64(time(nil)) }
}

final class DroutingModule: Sendable {
    static let name = "drouting"
    static let version = "1.0.0"

    let host: PluginHost
    let config = Mutex(DRConfig())
    /// The runtime (after init) and the published snapshot, swapped together under one short lock.
    let published = Mutex<(Runtime?, Snapshot)>((nil, Snapshot.empty))
    let reloading = Atomic<Bool>(false)
    let reloadLock = Mutex(())
    let lastReload = Mutex<Int64>(0)
    /// Probing (Probing.swift): the timer, the dr_enable_probing switch, "cannot send probes" logged once.
    let probeTimer = Mutex<SYTimer?>(nil)
    /// Gateway states as statistics (Metrics.swift); built lazily so `host` is set.
    var gatewayMetrics: GatewayMetrics { metricsBox.withLock { b in b ?? { let m = GatewayMetrics(host: host); b = m; return m }() } }
    private let metricsBox = Mutex<GatewayMetrics?>(nil)
    /// persistent_state write-back (PersistentState.swift).
    let stateTimer = Mutex<SYTimer?>(nil)
    let probingOn = Atomic<Bool>(true)
    let probeSendWarned = Atomic<Bool>(false)
    /// probing_socket could not be used (logged once per load).
    let probingSocketWarned = Atomic<Bool>(false)
    let probeQueue = DispatchQueue(label: "drouting-probing")
    let roundQueued = Atomic<Bool>(false)

    /// The core's SIP resolver for gateway names (nil on a core older than ABI 1.12).
    let nameResolver: GatewayResolver.Resolve?

    init(host: PluginHost) {
        self.host = host
        nameResolver = GatewayResolver.make(host)
    }

    var current: (Runtime?, Snapshot) { published.withLock { $0 } }
    /// do_routing's lock-free view of `published` (ReadSide.swift); every change of `published` is mirrored there.
    let readSide = ReadSide()

    /// Sets the published data (both views).
    func publish(_ rt: Runtime, _ snap: Snapshot) {
        probingSocketWarned.store(false, ordering: .relaxed)
        published.withLock { $0 = (rt, snap) }
        readSide.publish(Published(rt: rt, snap: snap)) { [host] in host.log(.warn, $0) }
    }

    // MARK: - Exports

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "dynamic routing: prefix/time based rules, gateways and carriers")
        m.dependencyOnAnyDatabase()
        declareParams(&m)

        let opt = FunctionParam.optional
        // do_routing([group], [flags], [gw_whitelist], [rule_attrs_pvar], [gw_attrs_pvar], [carrier_attrs_pvar], [partition])
        m.function("do_routing", params: [[.int, opt], [.str, opt], [.str, opt], [.var, opt], [.var, opt], [.var, opt],
                                          [.str, opt]]) { [self] call in doRouting(call) }
        // use_next_gw([rule_attrs_pvar], [gw_attrs_pvar], [carrier_attrs_pvar], [partition]); next_routing (2.4 alias)
        for name in ["use_next_gw", "next_routing"] {
            m.function(name, params: [[.var, opt], [.var, opt], [.var, opt], [.str, opt]]) { [self] call in useNextGW(call) }
        }
        // route_to_gw(gw_ids, [gw_attrs_pvar], [carrier_attrs_pvar], [partition])
        m.function("route_to_gw", params: [.str, [.var, opt], [.var, opt], [.str, opt]]) { [self] call in routeToGW(call) }
        // route_to_carrier(carrier_ids, [gw_attrs_pvar], [carrier_attrs_pvar], [partition])
        m.function("route_to_carrier", params: [.str, [.var, opt], [.var, opt], [.str, opt]]) { [self] call in
            routeToCarrier(call)
        }
        // goes_to_gw([type], [flags], [gw_attrs_pvar], [carrier_attrs_pvar], [partition])
        m.function("goes_to_gw", params: [[.int, opt], [.str, opt], [.var, opt], [.var, opt], [.str, opt]]) { [self] call in
            goesToGW(call)
        }
        // dr_is_gw(uri, [type], [flags], [gw_attrs_pvar], [carrier_attrs_pvar], [partition])
        m.function("dr_is_gw", params: [.str, [.int, opt], [.str, opt], [.var, opt], [.var, opt], [.str, opt]]) { [self] call in
            drIsGW(call)
        }
        // is_from_gw([type], [flags], [gw_attrs_pvar], [carrier_attrs_pvar], [partition]): needs a message source.
        m.function("is_from_gw", params: [[.int, opt], [.str, opt], [.var, opt], [.var, opt], [.str, opt]]) { [self] call in
            isFromGW(call)
        }
        // dr_disable([partition])
        m.function("dr_disable", params: [[.str, opt]]) { [self] call in drDisable(call) }

        declareMI(&m)
        m.event("E_DROUTING_STATUS")
        m.onInit { [self] in try initialize() }
        m.onDestroy { [self] in
            gatewayMetrics.stop()
            stopProbing()
            stopStateFlusher()
        }
        return m.build()
    }

    private func declareParams(_ m: inout ModuleExportsBuilder) {
        func str(_ name: String, _ set: @escaping @Sendable (inout DRConfig, String) -> Void) {
            m.param(name, .str) { [self] v in
                guard let s = v.stringValue else { throw PluginError("expected a string") }
                config.withLock { set(&$0, s) }
            }
        }
        func int(_ name: String, _ set: @escaping @Sendable (inout DRConfig, Int64) throws -> Void) {
            m.param(name, .int) { [self] v in
                guard let i = v.intValue else { throw PluginError("expected an integer") }
                try config.withLock { try set(&$0, i) }
            }
        }
        func avp(_ name: String, _ set: @escaping @Sendable (inout DRConfig, String) -> Void) {
            str(name) { c, s in set(&c, s.trimmingCharacters(in: .whitespaces)) }
        }
        str("db_url") { $0.dbURL = $1 }
        str("drd_table") { $0.drdTable = $1 }
        str("drr_table") { $0.drrTable = $1 }
        str("drg_table") { $0.drgTable = $1 }
        str("drc_table") { $0.drcTable = $1 }
        int("use_domain") { $0.useDomain = $1 != 0 }
        str("drg_user_col") { $0.drgUserCol = $1 }
        str("drg_domain_col") { $0.drgDomainCol = $1 }
        str("drg_grpid_col") { $0.drgGrpidCol = $1 }
        avp("ruri_avp") { $0.ruriAVP = $1 }
        avp("gw_id_avp") { $0.gwIdAVP = $1 }
        avp("gw_sock_avp") { $0.gwSockAVP = $1 }
        avp("gw_priprefix_avp") { $0.gwPriprefixAVP = $1 }
        avp("rule_id_avp") { $0.ruleIdAVP = $1 }
        avp("rule_prefix_avp") { $0.rulePrefixAVP = $1 }
        avp("carrier_id_avp") { $0.carrierIdAVP = $1 }
        int("default_group") { $0.defaultGroup = $1 }
        int("force_dns") { $0.forceDNS = $1 != 0 }
        int("persistent_state") { $0.persistentState = $1 != 0 }
        int("no_concurrent_reload") { $0.noConcurrentReload = $1 != 0 }
        str("extra_prefix_chars") { $0.extraPrefixChars = $1 }
        str("extra_id_chars") { $0.extraIdChars = $1 }
        int("use_partitions") { _, v in if v != 0 { throw PluginError("partitions are not supported yet (use_partitions=0)") } }
        // Switchyard additions (tests, benchmarks).
        int("fixed_time") { $0.fixedTime = $1 }
        int("random_seed") { $0.randomSeed = UInt64(bitPattern: $1) }
        int("probing_interval") { c, v in
            guard v >= 0 else { throw PluginError("probing_interval must be >= 0") }
            c.probingInterval = v
        }
        str("probing_method") { $0.probingMethod = $1.trimmingCharacters(in: .whitespaces) }
        str("probing_from") { $0.probingFrom = $1.trimmingCharacters(in: .whitespaces) }
        m.param("probing_reply_codes", .str) { [self] v in
            guard let s = v.stringValue else { throw PluginError("expected a string") }
            var codes: [Int] = []
            for part in s.split(separator: ",") {
                let t = part.trimmingCharacters(in: .whitespaces)
                guard let c = Int(t), (100...699).contains(c) else { throw PluginError("bad reply code '\(t)' in probing_reply_codes") }
                codes.append(c)
            }
            config.withLock { $0.probingReplyCodes = codes }
        }
        // Switchyard addition: how long a probe waits for its final reply (ms, 0 = min(interval/2, 2 s)).
        int("probing_timeout") { c, v in
            guard v >= 0 && v <= 600_000 else { throw PluginError("probing_timeout must be 0..600000 ms") }
            c.probingTimeoutMS = v
        }
        // Accepted and ignored (clustering, blacklists, partitions: not implemented).
        for name in ["status_replication_cluster", "cluster_id", "enable_restart_persistency"] {
            m.param(name, .int) { _ in }
        }
        str("probing_socket") { $0.probingSocket = $1.trimmingCharacters(in: .whitespaces) }
        for name in ["cluster_sharing_tag",
                     "cluster_probing_mode", "gw_socket_filter_mode", "db_partitions_url", "db_partitions_table",
                     "partition_id_pvar"] {
            m.param(name, .str) { _ in }
        }
        m.param("define_blacklist", [.str, .repeatable]) { _ in }
    }

    // MARK: - Init and reload

    private func initialize() throws {
        let cfg = config.withLock { $0 }
        guard !cfg.dbURL.isEmpty else { throw PluginError("db_url is mandatory") }
        let db = try DBConnection(host: host, url: cfg.dbURL)
        let rt = try Runtime(cfg: cfg, db: db, host: host)
        let start = DispatchTime.now()
        let result = try Loader.load(db, cfg, previous: nil, inheritState: false, findRoute: rt.raw.findRoute,
                                     resolveName: nameResolver) { [host] in
            host.log(.warn, $0)
        }
        publish(rt, result.snapshot)
        lastReload.withLock { $0 = Int64(time(nil)) }
        try startProbing(cfg)
        try startStateFlusher(cfg)
        gatewayMetrics.start { [self] in current.1 }
        let ms = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6
        host.log(.notice, "loaded \(result.snapshot.gateways.count) gateways, \(result.snapshot.carriers.count) carriers, \(result.snapshot.rules.count) rules (\(result.skipped.count) rows skipped) in \(String(format: "%.1f", ms)) ms")
    }

    /// Loads everything again and swaps it in; on error the old data stays and the error names the problem.
    func reload(inheritState: Bool) -> Result<LoadResult, LoadError> {
        guard let rt = current.0, let db = rt.db else { return .failure(LoadError("module not initialised")) }
        if rt.cfg.noConcurrentReload {
            guard reloading.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
                return .failure(LoadError("Reload already in progress"))
            }
        }
        defer { if rt.cfg.noConcurrentReload { reloading.store(false, ordering: .releasing) } }
        return reloadLock.withLock { _ in
            var old = current.1
            do {
                let r = try Loader.load(db, rt.cfg, previous: old, inheritState: inheritState, findRoute: rt.raw.findRoute,
                                        resolveName: nameResolver) { [host] in
                    host.log(.warn, $0)
                }
                publish(rt, r.snapshot)
                lastReload.withLock { $0 = Int64(time(nil)) }
                // Free the old data here, not on a worker: wait (bounded) until in-flight lookups dropped it.
                for _ in 0..<2000 where !isKnownUniquelyReferenced(&old) { usleep(500) }
                return .success(r)
            } catch let e as LoadError {
                host.log(.err, "dr_reload failed, keeping the old data: \(e)")
                return .failure(e)
            } catch {
                host.log(.err, "dr_reload failed, keeping the old data: \(error)")
                return .failure(LoadError("\(error)"))
            }
        }
    }

    // MARK: - Helpers over AVP queues

    func clear(_ q: QueueVar, _ ctx: SYContext) {
        if let all = q.all { host.varSet(ctx, all, .null); return }
        host.varSet(ctx, q.one, .null)
    }

    private func pushReversed(_ q: QueueVar, _ values: [SYValue], _ ctx: SYContext) {
        for v in values.reversed() { host.varSet(ctx, q.one, v) }
    }

    private func head(_ q: QueueVar, _ ctx: SYContext) -> SYValue { host.varGet(ctx, q.one) ?? .null }

    private func pop(_ q: QueueVar, _ ctx: SYContext) { host.varSet(ctx, q.one, .null) }

    func clearAll(_ rt: Runtime, _ ctx: SYContext) {
        let h = rt.raw
        h.clear(ctx, rt.ruri); h.clear(ctx, rt.gwID); h.clear(ctx, rt.gwSock); h.clear(ctx, rt.carrierID)
        if let q = rt.priprefix { h.clear(ctx, q) }
        h.clear(ctx, rt.ruleAttrs); h.clear(ctx, rt.fallback)
        if let q = rt.ruleID { h.clear(ctx, q) }
        if let q = rt.rulePrefix { h.clear(ctx, q) }
    }

    private func parseFlags(_ s: String) -> Set<Character> { Set(s) }

    func whitelist(_ text: String, _ rt: Runtime) -> Whitelist? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.isEmpty { return nil }
        do {
            var wl = Whitelist()
            for e in try parseGWList(t, idChars: rt.cfg.extraIdChars) {
                if e.isCarrier { wl.carriers.insert(e.id) } else { wl.gws.insert(e.id) }
            }
            return wl
        } catch {
            host.log(.err, "invalid gw_whitelist '\(text)' ignored: \(error)")
            return nil
        }
    }

    /// Sets the current destination and queues the rest (gw ids, carrier ids, pri_prefixes for all; R-URIs and
    /// sockets for candidates 2..n), newest first so `$avp(gw_id)` reads the current gateway.
    private func publish(_ cands: [Candidate], uri: URIParts, snap: Snapshot, rt: Runtime, ctx: SYContext) -> Bool {
        guard let first = cands.first else { return false }
        let gws = cands.map { snap.gateways[Int($0.gw)] }
        let uris = gws.map { uri.rewritten(for: $0) }
        guard host.varSet(ctx, rt.ru, .string(uris[0])) else {
            host.log(.err, "cannot set the R-URI to \(uris[0])")
            return false
        }
        _ = first
        forceSocket(of: gws[0], rt: rt, ctx: ctx)
        pushReversed(rt.gwID, gws.map { .string($0.id) }, ctx)
        pushReversed(rt.carrierID, cands.map { .string($0.carrier >= 0 ? snap.carriers[Int($0.carrier)].id : "") }, ctx)
        if let q = rt.priprefix { pushReversed(q, gws.map { .string($0.priPrefix) }, ctx) }
        pushReversed(rt.ruri, uris.dropFirst().map { .string($0) }, ctx)
        pushReversed(rt.gwSock, gws.dropFirst().map { .string($0.socket) }, ctx)
        return true
    }

    /// Sends the request from the gateway's `socket` when it has one (OpenSIPS sets the forced send socket). A socket
    /// that is not ours is logged once per gateway and load, and the destination then picks the socket.
    func forceSocket(of gw: Gateway, rt: Runtime, ctx: SYContext) {
        guard !gw.socket.isEmpty else { return }
        forceSocket(gw.socket, gwID: gw.id, state: gw.state, rt: rt, ctx: ctx)
    }

    func forceSocket(_ socket: String, gwID: String, state: StateCell, rt: Runtime, ctx: SYContext) {
        guard let fs = rt.fs, !state.socketRefused.load(ordering: .relaxed) else { return }
        if !host.varSet(ctx, fs, .string(socket)), !state.socketRefused.exchange(true, ordering: .relaxed) {
            host.log(.err, "gateway \(gwID): socket <\(socket)> is not a listening socket; requests to it leave by the socket the destination picks")
        }
    }

    private func setAttrOutputs(_ call: FunctionCall, gwArg: Int, crArg: Int, cand: Candidate?, snap: Snapshot) {
        if call.isPresent(gwArg) {
            call.set(gwArg, .string(cand.map { snap.gateways[Int($0.gw)].attrs } ?? ""))
        }
        if call.isPresent(crArg) {
            let c = cand.flatMap { $0.carrier >= 0 ? snap.carriers[Int($0.carrier)].attrs : nil } ?? ""
            call.set(crArg, .string(c))
        }
    }

    func groupFromDB(_ rt: Runtime, _ ctx: SYContext) -> Int64? {
        guard let db = rt.db, let fu = rt.fu, case .string(let from)? = host.varGet(ctx, fu), let uri = URIParts(from) else {
            return nil
        }
        var conds: [(String, DBValue)] = [(rt.cfg.drgUserCol, .text(uri.user))]
        if rt.cfg.useDomain { conds.append((rt.cfg.drgDomainCol, .text(uri.hostAndPort.host))) }
        do {
            let rows = try db.select(rt.cfg.drgTable, [rt.cfg.drgGrpidCol], where: conds)
            return rows.first?.first?.int
        } catch {
            host.log(.err, "dr_groups lookup failed: \(error)")
            return nil
        }
    }

    // MARK: - do_routing

    struct FallbackState {
        var group: UInt32, flags: String, level: Int, pos: Int, whitelist: String, origRURI: String
        var text: String { "\(group)\u{1}\(flags)\u{1}\(level)\u{1}\(pos)\u{1}\(whitelist)\u{1}\(origRURI)" }
        init(group: UInt32, flags: String, level: Int, pos: Int, whitelist: String, origRURI: String) {
            self.group = group; self.flags = flags; self.level = level; self.pos = pos
            self.whitelist = whitelist; self.origRURI = origRURI
        }
        init?(_ text: String) {
            let f = text.split(separator: "\u{1}", omittingEmptySubsequences: false).map(String.init)
            guard f.count == 6, let g = UInt32(f[0]), let l = Int(f[2]), let p = Int(f[3]) else { return nil }
            self.init(group: g, flags: f[1], level: l, pos: p, whitelist: f[4], origRURI: f[5])
        }
    }

    private func setRuleOutputs(_ rt: Runtime, _ ctx: SYContext, rule: RuleView, match: Snapshot.Match, user: String) {
        let prefix = match.level < 0 ? "" : String(user.utf8.prefix(match.level))!
        if let q = rt.rulePrefix { clear(q, ctx); host.varSet(ctx, q.one, .string(prefix)) }
        if let q = rt.ruleID { clear(q, ctx); host.varSet(ctx, q.one, .int(rule.id)) }
        clear(rt.ruleAttrs, ctx)
        host.varSet(ctx, rt.ruleAttrs.one, .string(rule.attrs))
    }

    // MARK: - use_next_gw

    func useNextGW(_ call: FunctionCall) -> Int32 {
        let (rtOpt, snap) = current
        guard let rt = rtOpt else { return -1 }
        let ctx = call.context
        if head(rt.gwID, ctx).isNull {
            host.log(.warn, "use_next_gw: no gateway id found - have you done do_routing?")
            return -1
        }
        pop(rt.gwID, ctx); pop(rt.carrierID, ctx); if let q = rt.priprefix { pop(q, ctx) }
        while true {
            guard case .string(let id) = head(rt.gwID, ctx) else { break }
            let next = head(rt.ruri, ctx)
            let sock = head(rt.gwSock, ctx)
            pop(rt.ruri, ctx); pop(rt.gwSock, ctx)
            if let gi = snap.gwIndex[id], snap.gateways[Int(gi)].state.isDisabled {
                pop(rt.gwID, ctx); pop(rt.carrierID, ctx); if let q = rt.priprefix { pop(q, ctx) }
                continue
            }
            guard case .string(let uri) = next, host.varSet(ctx, rt.ru, .string(uri)) else { return -1 }
            if case .string(let s) = sock, !s.isEmpty, let gi = snap.gwIndex[id] {
                forceSocket(s, gwID: id, state: snap.gateways[Int(gi)].state, rt: rt, ctx: ctx)
            }
            if call.isPresent(0) { call.set(0, head(rt.ruleAttrs, ctx)) }
            let cr = head(rt.carrierID, ctx).stringValue.flatMap { snap.carrierIndex[$0] } ?? -1
            setAttrOutputs(call, gwArg: 1, crArg: 2, cand: snap.gwIndex[id].map { Candidate(gw: $0, carrier: cr) }, snap: snap)
            return 1
        }
        // Out of gateways: rule fallback.
        guard case .string(let fbText) = head(rt.fallback, ctx), let st = FallbackState(fbText),
              let uri = URIParts(st.origRURI) else { return -1 }
        let fset = parseFlags(st.flags)
        let now = rt.now()
        var after = Snapshot.Match(rule: -1, level: st.level, pos: st.pos)
        let wl = whitelist(st.whitelist, rt)
        while let m = snap.lookup(number: uri.user, group: st.group, now: now, strict: fset.contains("L"), after: after) {
            after = m
            let rule = snap.rule(m.rule)
            let cands = Routing.candidates(rule.items, weighted: fset.contains("W") || rule.weightSort, whitelist: wl,
                                           snap: snap, rng: rt.rng)
            if cands.isEmpty { continue }
            clearAll(rt, ctx)
            guard publish(cands, uri: uri, snap: snap, rt: rt, ctx: ctx) else { return -1 }
            setRuleOutputs(rt, ctx, rule: rule, match: m, user: uri.user)
            var next = st
            next.level = m.level; next.pos = m.pos
            host.varSet(ctx, rt.fallback.one, .string(next.text))
            if call.isPresent(0) { call.set(0, .string(rule.attrs)) }
            setAttrOutputs(call, gwArg: 1, crArg: 2, cand: cands.first, snap: snap)
            return 1
        }
        clear(rt.fallback, ctx)
        return -1
    }

    // MARK: - route_to_gw / route_to_carrier

    func routeToGW(_ call: FunctionCall) -> Int32 {
        let (rtOpt, snap) = current
        guard let rt = rtOpt else { return -1 }
        let ctx = call.context
        var cands: [Candidate] = []
        for part in call.string(0).split(separator: ",", omittingEmptySubsequences: false) {
            let id = part.trimmingCharacters(in: .whitespaces)
            if id.isEmpty { host.log(.err, "route_to_gw: empty gateway id in '\(call.string(0))'"); return -1 }
            guard let gi = snap.gwIndex[id] else { host.log(.err, "route_to_gw: unknown gateway '\(id)'"); continue }
            if snap.gateways[Int(gi)].state.isDisabled { continue }
            cands.append(Candidate(gw: gi, carrier: -1))
        }
        guard case .string(let ruText)? = host.varGet(ctx, rt.ru), let uri = URIParts(ruText) else { return -1 }
        guard publish(cands, uri: uri, snap: snap, rt: rt, ctx: ctx) else { return -1 }
        setAttrOutputs(call, gwArg: 1, crArg: 2, cand: cands.first, snap: snap)
        return 1
    }

    func routeToCarrier(_ call: FunctionCall) -> Int32 {
        let (rtOpt, snap) = current
        guard let rt = rtOpt else { return -1 }
        let ctx = call.context
        clearAll(rt, ctx)
        var cands: [Candidate] = []
        for part in call.string(0).split(separator: ",") {
            let id = part.trimmingCharacters(in: .whitespaces)
            guard let ci = snap.carrierIndex[id] else { host.log(.err, "route_to_carrier: unknown carrier '\(id)'"); continue }
            if snap.carriers[Int(ci)].state.isDisabled { continue }
            cands += Routing.carrierGateways(Int(ci), snap: snap, rng: rt.rng)
        }
        guard case .string(let ruText)? = host.varGet(ctx, rt.ru), let uri = URIParts(ruText) else { return -1 }
        guard publish(cands, uri: uri, snap: snap, rt: rt, ctx: ctx) else { return -1 }
        setAttrOutputs(call, gwArg: 1, crArg: 2, cand: cands.first, snap: snap)
        return 1
    }

    // MARK: - goes_to_gw / dr_is_gw

    /// `goes_to_gw` / `dr_is_gw` on a URI: its host (resolved if a name) and port; `r` compares its transport.
    private func gwCheck(_ call: FunctionCall, uriText: String?, typeArg: Int, flagsArg: Int, gwAttrs: Int, crAttrs: Int) -> Int32 {
        guard let uriText, let uri = URIParts(uriText) else { return -1 }
        let hp = uri.hostAndPort
        let tls = uriText.lowercased().hasPrefix("sips:")
        let proto = Loader.transport(of: ";" + uri.params, tls: tls)
        // A name goes through the core's resolver (its cached answers), as OpenSIPS's sip_resolvehost: the first
        // address, at the SRV (or default) port when the URI gives none, with the transport a NAPTR record chose.
        if Loader.normalizeIP(hp.host) == nil, let resolve = nameResolver {
            guard let first = resolve(hp.host, hp.port == 0 ? nil : hp.port, Loader.explicitTransport(of: ";" + uri.params),
                                      tls).addrs.first else { return -1 }
            return gwMatch(call, ips: [first.ip], port: first.port, proto: first.proto, typeArg: typeArg, flagsArg: flagsArg,
                           gwAttrs: gwAttrs, crAttrs: crAttrs)
        }
        let ips = Routing.addresses(hp.host)
        if ips.isEmpty { return -1 }
        // An IP without a port is at the transport's default port (OpenSIPS's _uri_to_ip_port through
        // sip_resolvehost): sip:x@10.0.0.5 is not a gateway at 10.0.0.5:5080.
        let port = hp.port != 0 ? hp.port : (tls || proto == "tls" ? 5061 : 5060)
        return gwMatch(call, ips: ips, port: port, proto: proto, typeArg: typeArg, flagsArg: flagsArg,
                       gwAttrs: gwAttrs, crAttrs: crAttrs)
    }

    /// `is_from_gw`: the message's source IP and port ($si/$sp) and transport ($proto); -1 without a message.
    func isFromGW(_ call: FunctionCall) -> Int32 {
        guard let rt = current.0, let siVar = rt.si, case .string(let src)? = host.varGet(call.context, siVar),
              !src.isEmpty else { return -1 }
        var port = 0
        if let sp = rt.sp, let v = host.varGet(call.context, sp) { port = Int(v.intValue ?? v.stringValue.flatMap { Int64($0) } ?? 0) }
        var proto: String? = nil
        if let pv = rt.proto, case .string(let p)? = host.varGet(call.context, pv) { proto = p.lowercased() }
        return gwMatch(call, ips: [Loader.normalizeIP(src) ?? src], port: port, proto: proto ?? "udp", typeArg: 0,
                       flagsArg: 1, gwAttrs: 2, crAttrs: 3)
    }

    /// The common part of is_from_gw / goes_to_gw / dr_is_gw: find the gateway, then apply the s/p/i/c flags and
    /// fill the attrs variables.
    private func gwMatch(_ call: FunctionCall, ips: [String], port: Int, proto: String, typeArg: Int, flagsArg: Int,
                         gwAttrs: Int, crAttrs: Int) -> Int32 {
        let (rtOpt, snap) = current
        guard let rt = rtOpt else { return -1 }
        let ctx = call.context
        let fset = parseFlags(call.string(flagsArg))
        let type = call.isPresent(typeArg) ? Int(call.value(typeArg).intValue ?? Int64(call.string(typeArg)) ?? -1) : nil
        guard let gi = Routing.matchGateway(ips: ips, port: port, proto: fset.contains("r") ? proto : nil, type: type,
                                            ignorePort: fset.contains("n"), snap: snap) else { return -1 }
        let gw = snap.gateways[gi]
        let firstCarrier = snap.carriers.firstIndex { $0.gws.contains { !$0.isCarrier && Int($0.index) == gi } }
        if fset.contains("s") || fset.contains("p"), case .string(let ru)? = host.varGet(ctx, rt.ru), let r = URIParts(ru) {
            var user = Substring(r.user)
            if fset.contains("s") { user = user.dropFirst(min(gw.strip, user.count)) }
            host.varSet(ctx, rt.rU, .string((fset.contains("p") ? gw.priPrefix : "") + user))
        }
        if fset.contains("p"), let q = rt.priprefix { host.varSet(ctx, q.one, .string(gw.priPrefix)) }
        if fset.contains("i") { host.varSet(ctx, rt.gwID.one, .string(gw.id)) }
        if fset.contains("c") { host.varSet(ctx, rt.carrierID.one, .string(firstCarrier.map { snap.carriers[$0].id } ?? "")) }
        setAttrOutputs(call, gwArg: gwAttrs, crArg: crAttrs,
                       cand: Candidate(gw: Int32(gi), carrier: Int32(firstCarrier ?? -1)), snap: snap)
        return 1
    }

    func goesToGW(_ call: FunctionCall) -> Int32 {
        guard let rt = current.0 else { return -1 }
        var target: String? = nil
        if let du = rt.du, case .string(let d)? = host.varGet(call.context, du), !d.isEmpty { target = d }
        if target == nil, case .string(let r)? = host.varGet(call.context, rt.ru) { target = r }
        return gwCheck(call, uriText: target, typeArg: 0, flagsArg: 1, gwAttrs: 2, crAttrs: 3)
    }

    func drIsGW(_ call: FunctionCall) -> Int32 {
        gwCheck(call, uriText: call.string(0), typeArg: 1, flagsArg: 2, gwAttrs: 3, crAttrs: 4)
    }

    func drDisable(_ call: FunctionCall) -> Int32 {
        let (rtOpt, snap) = current
        guard let rt = rtOpt, case .string(let id) = head(rt.gwID, call.context) else { return -1 }
        if let gi = snap.gwIndex[id] { setGWState(snap.gateways[Int(gi)], enabled: false, byMI: false) }
        return 1
    }

    /// MI (`byMI`: DSBL+NOEN on disable, both cleared on enable) and dr_disable (adds DSBL, keeps NOEN).
    func setGWState(_ gw: Gateway, enabled: Bool, byMI: Bool) {
        changeGWState(gw) { b in
            if enabled { return 0 }
            return byMI ? (StateCell.disabled | StateCell.byMI) : (b | StateCell.disabled)
        }
    }

    /// Applies a state change atomically and raises E_DROUTING_STATUS when the state really changed.
    @discardableResult
    func changeGWState(_ gw: Gateway, _ change: (UInt8) -> UInt8) -> Bool {
        guard let new = gw.state.update(change) else { return false }
        let status = Gateway.eventStatus(new, probeMode: gw.probeMode)
        host.log(.info, "gateway \(gw.id) (\(gw.ipStr)) is now \(status)")
        host.raiseEvent("E_DROUTING_STATUS", [("partition", .string("Default")), ("gwid", .string(gw.id)),
                                             ("address", .string(gw.ipStr)), ("status", .string(status))])
        return true
    }
}
