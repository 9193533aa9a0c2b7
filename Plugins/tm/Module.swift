// The OpenSIPS `tm` module as a Switchyard plugin: transaction-stateful SIP (RFC 3261 section 17) on top of the core's
// stateless SIP, through the transaction entries of the host table (ABI 1.7, and 1.8 for its own requests and the
// per-branch request state).
//
//   t_relay t_newtran t_reply t_reply_with_body t_check_trans t_check_status t_on_failure t_on_reply t_on_branch
//   t_was_cancelled t_local_replied t_cancel_branch t_add_hdrs t_add_cancel_reason t_flush_flags t_new_request
//   t_replicate t_reply_by_callid t_get_branch_idx_by_attr t_wait_for_new_branches t_wait_no_more_branches
//   t_inject_branches t_write_req t_write_unix (TWrite.swift)
//   $T_reply_code $T_reply_reason $T_branch_idx $T_ruri $T_id $T_fr_timeout $T_fr_inv_timeout
//   $T_branch_last_reply_code $bavp $tm.branch.(uri|duri|path|q|flags|socket|last_received|type|flag|attr)
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: "tm") else { return nil }
    guard let core = CoreLink(host: host) else {
        host.log(.err, "this core has no transaction support (needs ABI 1.8)")
        return nil
    }
    return TMModule(host: host, core: core).build().pointer  // allocated once, never freed
}

/// The engine of the latest start-up, for the 1.0 entries of the tm API table, which have no handle (see
/// HandlelessEntry). Nothing else in tm reads it: functions, pseudo-variables, MI commands and hooks reach their engine
/// through their `user` (TMModule's closures, the SIP hooks' user), the 1.1 entries through the table's `module`.
let theTM = HandlelessEntry<TM>()

final class TMModule: @unchecked Sendable {
    // `config` is written by modparam setters on the startup thread; `tm` is set once in init(), before any worker
    // or MI thread runs, and only read afterwards.
    let host: PluginHost
    let core: CoreLink
    var config = TMConfig()
    var tm: TM?

    init(host: PluginHost, core: CoreLink) {
        self.host = host
        self.core = core
    }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: "tm", version: "1.0.0", description: "transaction-stateful SIP")
        declareParams(&m)
        declareFunctions(&m)
        declareTWrite(&m)
        declarePVs(&m)
        declareBranchPVs(&m)
        declarePVContexts(&m)
        declareMI(&m)
        m.onInit { [self] in try start() }
        m.onChildInit { [self] _ in tm?.serving.store(true, ordering: .releasing) }
        m.onDestroy { [self] in
            tm?.wheel.stop()
            tm?.finishLocal()
        }
        return m.build()
    }

    func intParam(_ v: SYValue, _ name: String) throws -> Int {
        switch v {
        case .int(let i): return Int(i)
        case .string(let s):
            guard let i = Int(s) else { throw PluginError("\(name) must be an integer") }
            return i
        case .null: throw PluginError("\(name) must be an integer")
        }
    }

    func declareParams(_ m: inout ModuleExportsBuilder) {
        let ints: [(String, @Sendable (inout TMConfig, Int) -> Void)] = [
            ("fr_timeout", { $0.frTimeout = $1 }), ("fr_inv_timeout", { $0.frInvTimeout = $1 }),
            ("wt_timer", { $0.wtTimer = $1 }), ("delete_timer", { $0.deleteTimer = $1 }),
            ("T1_timer", { $0.t1 = $1 }), ("T2_timer", { $0.t2 = $1 }),
            ("ruri_matching", { $0.ruriMatching = $1 != 0 }), ("via1_matching", { $0.via1Matching = $1 != 0 }),
            ("restart_fr_on_each_reply", { $0.restartFrOnEachReply = $1 != 0 }),
            ("pass_provisional_replies", { $0.passProvisionalReplies = $1 != 0 }),
            ("onreply_avp_mode", { $0.onreplyAvpMode = $1 }), ("disable_6xx_block", { $0.disable6xxBlock = $1 != 0 }),
            ("enable_stats", { $0.enableStats = $1 != 0 }), ("auto_100trying", { $0.auto100Trying = $1 != 0 }),
            ("syn_branch", { _, _ in }), ("timer_partitions", { _, _ in }),
            ("tm_replication_cluster", { _, _ in }), ("cluster_auto_cancel", { _, _ in }),
        ]
        for (name, set) in ints {
            m.param(name, [.int]) { [self] v in
                let n = try intParam(v, name)
                set(&config, n)
            }
        }
        // The 2.x names, still found in old configs.
        let aliases: [(String, String, @Sendable (inout TMConfig, Int) -> Void)] = [("fr_timer", "fr_timeout", { c, v in c.frTimeout = v }),
                                ("fr_inv_timer", "fr_inv_timeout", { c, v in c.frInvTimeout = v })]
        for (old, new, set) in aliases {
            m.param(old, [.int]) { [self] v in
                host.log(.notice, "modparam \(old) is the OpenSIPS 2.x name of \(new); taken as \(new)")
                let n = try intParam(v, old)
                set(&config, n)
            }
        }
        m.param("local_request_route", [.str]) { [self] v in
            if case .string(let s) = v { config.localRequestRoute = s }
        }
        m.param("local_reply_route", [.str]) { [self] v in
            if case .string(let s) = v { config.localReplyRoute = s }
        }
        for name in ["minor_branch_flag", "cluster_param"] {
            m.param(name, [.str]) { _ in }
        }
    }

    func start() throws {
        if let e = config.check() { throw PluginError(e) }
        try config.twrite.resolve(host)
        let stats = config.enableStats ? TMStats(host: host) : nil
        if config.enableStats && stats == nil { throw PluginError("cannot register statistics") }
        let engine = try TM(host: host, core: core, cfg: config, stats: stats)
        tm = engine
        theTM.publish(engine)
        let rc = host.raw.pointee.sip_hooks_register!(TMModule.hooks(for: engine))
        if rc == -1 { throw PluginError("another module already handles SIP transactions") }
        if rc != 0 { throw PluginError("the core refused the SIP hooks (\(rc))") }
        guard host.apiPublish(SY_TM_API_NAME, UnsafeRawPointer(TMAPI.table(for: engine))) else {
            throw PluginError("cannot publish the tm API")
        }
        engine.wheel.start()
    }

    /// The SIP hooks of one engine, handed to the core; `user` is the engine (alive until the process ends). Never
    /// freed (the core may keep the pointer).
    static func hooks(for engine: TM) -> UnsafeMutablePointer<sy_sip_hooks> {
        // Raw zeroed memory of the compile-time size (see CTable).
        let h = CTable.zeroed(size: MemoryLayout<sy_sip_hooks>.stride, alignment: MemoryLayout<sy_sip_hooks>.alignment)
            .assumingMemoryBound(to: sy_sip_hooks.self)
        h.pointee.user = Unmanaged.passUnretained(engine).toOpaque()
        h.pointee.header = sy_table_header(abi_major: UInt32(SY_ABI_MAJOR), abi_minor: UInt32(SY_ABI_MINOR),
                                           struct_size: UInt32(MemoryLayout<sy_sip_hooks>.size), reserved: 0)
        h.pointee.request_in = { ctx, info, user in
            guard let ctx, let info, let user else { return 0 }
            return Unmanaged<TM>.fromOpaque(user).takeUnretainedValue().requestIn(SYContext(ctx), info.pointee)
        }
        h.pointee.reply_in = { ctx, info, user in
            guard let ctx, let info, let user else { return 0 }
            return Unmanaged<TM>.fromOpaque(user).takeUnretainedValue().replyIn(SYContext(ctx), info.pointee)
        }
        return h
    }

    func declareFunctions(_ m: inout ModuleExportsBuilder) {
        let opt = FunctionParam.optional
        let reqFail: RouteMask = [.request, .failure]
        let most: RouteMask = [.request, .failure, .onReply, .branch]
        func on(_ body: @escaping @Sendable (TM, FunctionCall) -> Int32) -> @Sendable (FunctionCall) -> Int32 {
            { [self] call in
                guard let tm else { return -1 }
                return body(tm, call)
            }
        }
        m.function("t_relay", params: [[.str, opt], [.str, opt]], routes: reqFail, fixup: TMModule.checkRelayFlags, on { $0.tRelay($1) })
        m.function("t_newtran", params: [], routes: [.request], on { $0.tNewtran($1) })
        m.function("t_reply", params: [.int, .str], routes: reqFail, fixup: TMModule.checkReplyCode, on { $0.tReply($1.context, code: Int($1.int(0)), reason: $1.string(1)) })
        m.function("t_reply_with_body", params: [.int, .str, .str], routes: reqFail, fixup: TMModule.checkReplyCode, on {
            $0.tReply($1.context, code: Int($1.int(0)), reason: $1.string(1), body: $1.string(2))
        })
        m.function("t_check_trans", params: [], routes: [.request, .branch], on { $0.tCheckTrans($1) })
        m.function("t_check_status", params: [.str], routes: most, on { $0.tCheckStatus($1) })
        // Not in local_route (OpenSIPS allows them there): a local transaction runs no reply or failure route here.
        m.function("t_on_failure", params: [.str], routes: most, fixup: checkRoute(.failure, "failure_route"), on { $0.tOn($1, .failure) })
        m.function("t_on_reply", params: [.str], routes: most, fixup: checkRoute(.onReply, "onreply_route"), on { $0.tOn($1, .reply) })
        m.function("t_on_branch", params: [.str], routes: most, fixup: checkRoute(.branch, "branch_route"), on { $0.tOn($1, .branch) })
        m.function("t_was_cancelled", params: [], routes: most, on { $0.tWasCancelled($1) })
        m.function("t_local_replied", params: [.str], routes: most, fixup: TMModule.checkLocalReplied, on { $0.tLocalReplied($1) })
        m.function("t_cancel_branch", params: [[.str, opt]], routes: [.onReply], fixup: TMModule.checkCancelBranch, on { $0.tCancelBranch($1) })
        m.function("t_add_hdrs", params: [.str], routes: [.request], on { $0.tAddHdrs($1) })
        m.function("t_add_cancel_reason", params: [.str], routes: [.request], on { $0.tAddCancelReason($1) })
        m.function("t_flush_flags", params: [], routes: [.request, .branch], on { $0.tFlushFlags($1) })
        m.function("t_replicate", params: [.str, [.str, opt]], routes: reqFail, on { $0.tReplicate($1) })
        m.function("t_reply_by_callid", params: [.int, .str, [.str, opt], [.int, opt]], routes: [.request], on {
            $0.tReplyByCallid($1)
        })
        m.function("t_get_branch_idx_by_attr", params: [.str, [.str, opt], [.int, opt], [.var, opt], [.int, opt]],
                   routes: [.onReply, .branch, .failure], on { $0.tGetBranchIdxByAttr($1) })
        m.function("t_wait_for_new_branches", params: [[.int, opt]], routes: [.request], on { $0.tWaitForNewBranches($1) })
        m.function("t_wait_no_more_branches", params: [], routes: most, on { $0.tWaitNoMoreBranches($1) })
        m.function("t_inject_branches", params: [.str, [.str, opt]], routes: [.request, .onReply], on { $0.tInjectBranches($1) })
        m.function("t_new_request", params: [.str, .str, .str, .str, [.str, opt], [.str, opt]], routes: .all, on { $0.tNewRequest($1) })
    }
}
