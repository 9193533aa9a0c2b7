// The transaction engine: creating cells, matching requests, relaying branches, sending local replies.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit
import SwitchyardSIP
import Synchronization

final class TM: @unchecked Sendable {
    // Immutable after init() except the table and cells, which are guarded by their bucket locks (TransactionTable),
    // and `globalCallbacks`, appended only before the workers run (`serving` refuses it after) and then only read.
    let host: PluginHost
    let core: CoreLink
    let cfg: TMConfig
    let table = TransactionTable()
    var wheel: TimerWheel!
    let stats: TMStats?
    let ruVar: SYVar
    let duVar: SYVar
    /// `$mb`: the whole message, for replies to local requests (handed to the requester as received).
    let mbVar: SYVar
    /// Callbacks on every new transaction (TMCB_REQUEST_IN), registered at startup: workers read the array without
    /// a lock, so registration is refused once they run (`serving`).
    var globalCallbacks: [Callback] = []
    let serving = Atomic<Bool>(false)
    /// local_route and local_request_route (LocalRoute.swift).
    let localRoutes: LocalRoutes
    /// local_reply_route (LocalReplyRoute.swift).
    let localReplyRoute: LocalReplyRoute
    /// $fs and $ru_q, reset on the stored request (StoredRequest.swift).
    let storedVars: StoredRequestVars

    init(host: PluginHost, core: CoreLink, cfg: TMConfig, stats: TMStats?)
        throws(PluginError) {
        self.host = host
        self.core = core
        self.cfg = cfg
        self.stats = stats
        ruVar = try host.varParse("$ru")
        duVar = try host.varParse("$du")
        mbVar = try host.varParse("$mb")
        storedVars = try StoredRequestVars(host: host)
        localRoutes = try LocalRoutes(core: core, requestRouteName: cfg.localRequestRoute)
        localReplyRoute = try LocalReplyRoute(core: core, name: cfg.localReplyRoute)
        wheel = TimerWheel { [unowned self] cell, at in self.timerFired(cell, at: at) }
    }

    @inline(__always) func stat(_ s: SYStat?, _ d: Int64 = 1) { if let s { host.statUpdate(s, d) } }

    static func keys(_ i: sy_sip_info) -> MessageKeys { MessageKeys(i) }

    // MARK: matching (bucket lock held)

    /// The cell a received request belongs to (a retransmission, or the INVITE an ACK/CANCEL refers to).
    func match(_ k: MessageKeys, bucket: Int, method: String, cancelLookup: Bool = false) -> Cell? {
        let isAck = method == "ACK"
        for c in table.bucket(bucket) where !c.isLocal && !c.removed {
            if isAck { guard c.isInvite else { continue } }
            else if cancelLookup { guard !c.isCancel else { continue } }
            else { guard c.method == method else { continue } }
            if k.isRFC3261 {
                guard c.viaBranch == k.viaBranch, c.viaPort == k.viaPort,
                      c.viaHost.lowercased() == k.viaHost.lowercased(), c.viaTransport == k.viaTransport else { continue }
                return c
            }
            // RFC 2543 fallback: the identifying headers byte by byte, only against transactions of such requests
            // (a cookie transaction keeps no From/To to compare, so an empty one must not match it).
            if c.keys.hasCookie { continue }
            guard c.callID == k.callID, c.cseq == k.cseq, c.from == k.from, c.toURI == k.toURI else { continue }
            if isAck && c.uasStatus < 300 { continue }
            if cfg.ruriMatching && c.ruri != k.ruri { continue }
            if cfg.via1Matching && c.viaValue != k.viaValue { continue }
            return c
        }
        return nil
    }

    /// An INVITE answered here with a 2xx that an ACK confirms (matched by dialog: Call-ID, CSeq, tags).
    func matchLocal2xx(_ k: MessageKeys, bucket: Int) -> Cell? {
        table.bucket(bucket).first { c in
            c.isInvite && !c.removed && c.lastReplyLocal && (200..<300).contains(c.uasStatus) && c.callID == k.callID
                && c.cseq == k.cseq && c.fromTag == k.fromTag && k.toTag == c.localTag
        }
    }

    // MARK: the request hook

    /// Before the script: retransmissions get the last reply again (the script does not run). The ACK of one of
    /// our negative (or local 2xx) replies stops that reply's retransmissions here, then the script runs as in
    /// OpenSIPS (its `xlog` lines print; `t_check_trans` is true, `t_relay` sends nothing). Returns 1 when the
    /// request was consumed.
    func requestIn(_ ctx: SYContext, _ info: sy_sip_info) -> Int32 {
        guard let b = TM.bucket(info) else { return 0 }
        table.lock(b)
        defer { table.unlock(b) }
        // Most requests start a transaction: an empty bucket answers without reading anything else.
        if table.isEmpty(b) { return 0 }
        if CoreLink.equals(info.method, literal: "ACK") {
            if let c = hopByHopAck(info, bucket: b) { absorbAck(c) }
            return 0
        }
        guard let c = match(info, bucket: b, isAck: false) else { return 0 }
        if !c.lastReply.isEmpty { core.send(c.upstream, c.lastReply) }
        return 1
    }

    /// The bucket of a request (nil without Call-ID or CSeq number), hashed from the core's bytes.
    static func bucket(_ info: sy_sip_info) -> Int? {
        guard let cid = info.call_id.s, info.call_id.len > 0, info.cseq >= 0 else { return nil }
        return TransactionTable.hash(callIDBytes: UnsafeRawBufferPointer(start: cid, count: info.call_id.len), cseq: info.cseq)
    }

    /// `match(_:bucket:method:)` read straight from the core's view of the request: a magic-cookie request is
    /// compared byte by byte (nothing copied); an RFC 2543 one takes the copying path.
    func match(_ i: sy_sip_info, bucket: Int, isAck: Bool) -> Cell? {
        guard MessageKeys.isRFC3261(i.via_branch) else {
            let k = MessageKeys(i)
            return match(k, bucket: bucket, method: isAck ? "ACK" : k.method)
        }
        for c in table.bucket(bucket) where !c.isLocal && !c.removed {
            if isAck { guard c.isInvite else { continue } } else { guard c.keys.equals(.method, i.method) else { continue } }
            guard c.viaPort == i.via_port, c.keys.equals(.viaBranch, i.via_branch),
                  c.keys.equals(.viaTransport, i.via_transport), c.keys.equalsIgnoringCase(.viaHost, i.via_host)
            else { continue }
            return c
        }
        return nil
    }

    /// The INVITE cell an ACK confirms hop by hop: one we answered negatively, or with a 2xx of our own (matched by
    /// dialog). Bucket lock held.
    func hopByHopAck(_ info: sy_sip_info, bucket b: Int) -> Cell? { ackMatch(info, bucket: b).hopByHop }

    func absorbAck(_ c: Cell) {
        c.replyRetrAt = 0
        c.replyFRAt = 0
        goWait(c)
    }

    // MARK: creating a transaction

    enum NewTran { case created(Cell), retransmission, failed(Int32) }

    /// t_newtran: the cell of the context's request, made now (and the 100 Trying sent for an INVITE).
    /// `schedule: false` leaves the first timer entry to the caller (t_relay arms it once its branches are out).
    func newTransaction(_ ctx: SYContext, tx: TxnContext, info known: sy_sip_info? = nil, schedule: Bool = true) -> NewTran {
        if let c = tx.cell { return .created(c) }
        guard let info = known ?? core.info(ctx), info.is_request == 1 else { return .failed(-2) }
        guard let b = TM.bucket(info), info.via_host.len > 0 else {
            host.log(.err, "t_newtran: too few headers (Call-ID, CSeq or Via missing)")
            return .failed(-2)
        }
        // The 100's local_reply_route runs, and the 100 goes, once the bucket is unlocked.
        var pending: PendingReply?
        table.lock(b)
        defer { table.unlock(b); deliver(pending) }
        if let c = match(info, bucket: b, isAck: CoreLink.equals(info.method, literal: "ACK")) {
            if !c.lastReply.isEmpty { core.send(c.upstream, c.lastReply) }
            return .retransmission
        }
        // The keys are copied before any other core call on the context (a built reply may reuse the buffer the
        // fields point into).
        let keys = CellKeys(info)
        let sendTrying = cfg.auto100Trying && CoreLink.equals(info.method, literal: "INVITE")
        // REQUEST_IN callbacks see the request before the transaction keeps it (OpenSIPS: before the cell is cloned)
        // and before the 100 Trying is built. With none registered nothing can change it in between: the 100 is
        // built first and its target serves as the upstream (one core call less).
        let early = globalCallbacks.isEmpty
        var tryingBytes: [UInt8] = []
        var tryingTarget = sy_sip_target()
        var trying = early && sendTrying
            && core.buildReply(ctx, code: 100, reason: "Giving it a try", toTag: "", bytes: &tryingBytes, target: &tryingTarget)
        var upstream: sy_sip_target
        if trying { upstream = tryingTarget } else if let t = core.replyTarget(ctx) { upstream = t } else { return .failed(-2) }
        let cell = Cell(hashIndex: b, label: table.nextLabel(b), keys: keys, viaPort: info.via_port, cseq: info.cseq,
                        snapshot: early ? core.snapshot(ctx) : nil, upstream: upstream, isLocal: false,
                        frTimeout: tx.frTimeout ?? Int64(cfg.frTimeout) * 1000,
                        frInvTimeout: tx.frInvTimeout ?? Int64(cfg.frInvTimeout) * 1000)
        // The routes armed before the cell existed move onto it: one armed later (t_on_* now arms the cell) must not
        // be overwritten by them at t_relay. on_branch stays pending too, as OpenSIPS's t_relay copies its pending
        // on_branch again whenever one is set.
        cell.onFailure = tx.onFailure
        cell.onReply = tx.onReply
        cell.onBranch = tx.onBranch
        tx.onFailure = nil
        tx.onReply = nil
        table.insert(cell)
        tx.cell = cell
        cell.orphanAt = nowMS() + max(cell.frTimeout, 1000)
        if schedule { reschedule(cell) }
        stat(stats?.uas)
        stat(stats?.inuse)
        fire(globalCallbacks, TMCB.requestIn, cell, code: 0, ctx: ctx)
        if !early {
            cell.snapshot = core.snapshot(ctx)
            if sendTrying {
                trying = core.buildReply(ctx, code: 100, reason: "Giving it a try", toTag: "", bytes: &tryingBytes,
                                         target: &tryingTarget)
            }
            // The callbacks may have changed where replies go (e.g. the top Via).
            if trying {
                upstream = tryingTarget
                cell.upstream = tryingTarget
            } else if let t = core.replyTarget(ctx) {
                upstream = t
                cell.upstream = t
            }
        }
        if trying {
            sendLocal(tryingBytes, to: upstream, parent: ctx, pending: &pending)
            stat(stats?.localReplies)  // OpenSIPS sends it with t_reply: a local reply like any other
            cell.lastReply = tryingBytes
            cell.uasStatus = 100
            cell.lastReplyLocal = true
        }
        return .created(cell)
    }

    // MARK: relaying

    /// Sends the context's request (and its appended branches) as new branches of the cell. t_relay's codes.
    /// `keepSet`: the new branches join the current set instead of starting a new one (t_inject_branches);
    /// `cancelFirst`: the pending branches are CANCELled once the relay may go on; `then` runs with the number of
    /// branches sent, under the same lock, before any error reply (so no reply is handled in between).
    func relay(_ ctx: SYContext, tx: TxnContext, cell: Cell, created: Bool, noAuto477: Bool, keepSet: Bool = false,
               cancelFirst: Bool = false, noDNSFailover: Bool = false, proxy: String? = nil,
               then: (Int) -> Void = { _ in }) -> Int32 {
        var pending: PendingReply?  // t_relay's own reply (487, 47x): routed and sent once the bucket is unlocked
        table.lock(cell.hashIndex)
        defer { table.unlock(cell.hashIndex); deliver(pending) }
        // Sticky, as OpenSIPS's transaction flag: a later t_relay without the flag (a failure route) keeps it off.
        cell.noDNSFailover = cell.noDNSFailover || noDNSFailover
        // Every way out arms the timer for what is due (the branches' timers, or the orphan deadline of a cell made
        // by t_relay itself, which leaves its first entry to this).
        defer { reschedule(cell) }
        if cell.isInvite && cell.wasCancelled {
            // The 487 is ours only while no branch went out (OpenSIPS: nr_of_outgoings 0); later (a failure route)
            // the relay just fails and the winning reply goes upstream.
            if !cell.completed && cell.branches.isEmpty && !cell.waiting {
                _ = localReply(cell, ctx: ctx, code: 487, reason: "Request Terminated", pending: &pending)
            }
            return -3
        }
        if cell.noNewBranches || cell.completed { return -3 }
        if cancelFirst {
            for b in cell.currentSet where b.finalCode == 0 {
                sendCancel(cell, b, reason: TM.completedElsewhere)
            }
        }
        // Armed in this route after the cell was made (t_on_* after t_newtran, or in a failure route).
        if let f = tx.onFailure { cell.onFailure = f; tx.onFailure = nil }
        if let r = tx.onReply { cell.onReply = r; tx.onReply = nil }
        if let br = tx.onBranch { cell.onBranch = br; tx.onBranch = nil }
        // The request's own destination (empty: its $ru/$du), then the appended branches. Only appended branches
        // carry a q (append_branch); the request-URI branch has none, so it costs no core call.
        let appended = core.branches(ctx)
        // The request-URI branch has no attributes: no array is made unless branches were appended.
        var appendedAttrs: [BranchAttrs] = []
        if !appended.isEmpty {
            appendedAttrs = (0..<Int64(appended.count)).map { core.branchAttrs(ctx, $0) }
            core.clearBranches(ctx)
        }
        func attrs(_ i: Int) -> BranchAttrs { i == 0 ? BranchAttrs() : appendedAttrs[i - 1] }
        if !keepSet { cell.firstBranch = cell.branches.count }
        // The request route's edits go with every later branch (a failure route's, an injected one).
        if tx.kind == .request { keepRequestState(ctx, cell) }
        // Each branch route starts from the request as the request route left it; so does the script afterwards.
        let original = cell.onBranch != nil ? core.msgSave(ctx) : nil
        defer {
            if let original {
                core.msgRestore(ctx, original)
                core.msgFree(original)
            }
        }
        var sent = 0
        var lastErr: Int32 = -1
        let now = nowMS()
        for i in 0...appended.count {
            let d = i == 0 ? ("", "") : appended[i - 1]
            guard cell.branches.count < maxBranches else {
                host.log(.err, "t_relay: maximum number of branches (\(maxBranches)) exceeded")
                lastErr = -1
                break
            }
            let idx = cell.branches.count
            var ruri = d.0, dst = d.1
            if i > 0 && dst.isEmpty { dst = ruri }
            var branchReply: OpaquePointer? = nil
            if let route = cell.onBranch {
                if let original { core.msgRestore(ctx, original) }
                if i > 0 {
                    _ = host.varSet(ctx, ruVar, .string(ruri))
                    _ = host.varSet(ctx, duVar, dst.isEmpty ? .null : .string(dst))
                }
                ruri = ""; dst = ""
                _ = core.dropped(ctx)
                let saved = (tx.kind, tx.branchIndex)
                tx.kind = .branch
                tx.branchIndex = idx
                tx.branchOnReply = nil
                tx.draft = nil
                tx.draftAttrs = attrs(i)
                core.run(ctx, route)
                tx.kind = saved.0
                tx.branchIndex = saved.1
                branchReply = tx.branchOnReply
                if core.dropped(ctx) {
                    host.log(.dbg, "t_relay: branch \(idx) dropped in branch_route")
                    continue
                }
            }
            // t_relay's outbound proxy is the next hop of every branch, whatever its $du (OpenSIPS add_uac resolves
            // $du or the URI only without a proxy); the branch keeps its own $du ($tm.branch.duri).
            if let proxy { dst = proxy }
            var first = Built(bytes: [], target: sy_sip_target())
            var firstIndex: UInt32 = 0, count: UInt32 = 1
            let rc = TM.withBranchID(hash: cell.hashIndex, label: cell.label, branch: idx) { branchID in
                buildBranch(ctx, ruri: ruri, dst: dst, branch: branchID, into: &first, used: &firstIndex, count: &count)
            }
            // The branch's URI is read from its request line when asked (no `$ru` string per relay); its `$du` is
            // kept whenever set (a script loaded later by reload_routes may read `$tm.branch.duri`): unset, the read
            // is a null value, no string.
            let uriText: String? = i > 0 && cell.onBranch == nil ? d.0 : nil
            let dstText: String = {
                if i > 0 && cell.onBranch == nil { return d.1 }
                if case .string(let s)? = host.varGet(ctx, duVar) { return s }
                return ""
            }()
            let draft = tx.draft
            tx.draft = nil
            if rc != 0 {
                lastErr = rc
                let to: String = {
                    if !d.1.isEmpty { return d.1 }
                    if let uriText { return uriText }
                    if case .string(let s)? = host.varGet(ctx, ruVar) { return s }
                    return d.0
                }()
                host.log(.err, "t_relay: branch \(idx) to \(to) could not be built (\(rc))")
            } else {
                // A send that fails moves on to the destination's next address (DNS failover, section 7.1).
                var sendErr: Int32 = -6
                guard let (built, used) = sendBranch(ctx, first, firstIndex, count: count, ruri: ruri, dst: dst, cell: cell,
                                                     branch: idx, err: &sendErr) else {
                    lastErr = sendErr
                    host.log(.err, "t_relay: sending branch \(idx) failed")
                    continue
                }
                let br = Branch(index: idx, uri: uriText, dst: dstText, request: built.bytes, target: built.target)
                br.onReply = branchReply
                br.script = draft
                br.attrs = attrs(i)
                br.addrIndex = used
                keepFailoverState(ctx, br, cell: cell, used: used, count: count, ruri: ruri, dst: dst)
                // The first branch as an array literal: one allocation, without append's uniqueness and growth path.
                if cell.branches.isEmpty { cell.branches = [br] } else { cell.branches.append(br) }
                if !br.reliable {
                    br.retrInterval = Int64(cfg.t1)
                    br.retrAt = now + br.retrInterval
                }
                br.frAt = now + cell.frTimeout
                sent += 1
            }
        }
        if cell.blindOwed > 0 { sent += addOwedBlindBranches(cell) }  // t_write_* in a branch route
        then(sent)
        if sent == 0 {
            if created && !noAuto477 && !cell.completed {
                let (code, reason) = TM.errorReply(lastErr)
                if localReply(cell, ctx: ctx, code: code, reason: reason, pending: &pending) { return 1 }
            }
            return lastErr
        }
        // A cell with branches is no orphan (the orphan deadline only concerns a cell never relayed nor answered).
        cell.orphanAt = 0
        return 1
    }

    /// A branch's first request (`buildBranch(_:ruri:dst:branch:from:)` from the first address) into out
    /// parameters: 0, or the core's error code.
    func buildBranch(_ ctx: SYContext, ruri: String, dst: String, branch: sy_str, into built: inout Built,
                     used: inout UInt32, count: inout UInt32) -> Int32 {
        guard core.hasFailover else {
            switch core.buildRequest(ctx, ruri: ruri, dst: dst, branch: branch) {
            case .success(let b): built = b; return 0
            case .failure(let e): return e.code
            }
        }
        return core.buildRequest(ctx, ruri: ruri, dst: dst, branch: branch, from: 0, into: &built, used: &used, count: &count)
    }

    /// The branch parameter of a branch, "z9hG4bK" + reversed-hex hash.label.branch, written on the stack.
    static func withBranchID<R>(hash: Int, label: UInt32, branch: Int, _ body: (sy_str) -> R) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 7 + 3 * 9) { buf in
            // The cookie stored byte by byte and the digits computed: no string walked, no table array read.
            (buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6]) = (122, 57, 104, 71, 52, 98, 75)  // z9hG4bK
            var n = 7
            func put(_ v: UInt32) {
                var v = v
                repeat {
                    let d = UInt8(v & 15)
                    buf[n] = d < 10 ? 48 + d : 87 + d
                    n += 1
                    v >>= 4
                } while v > 0
            }
            put(UInt32(hash)); buf[n] = 46; n += 1
            put(label); buf[n] = 46; n += 1
            put(UInt32(branch))
            return body(sy_str(s: UnsafeRawPointer(buf.baseAddress!).assumingMemoryBound(to: CChar.self), len: n))
        }
    }

    /// The automatic reply when no branch could be sent (OpenSIPS's error table, "(n/TM)").
    static func errorReply(_ code: Int32) -> (Int, String) {
        switch code {
        case -2: return (400, "Bad Request (1/TM)")
        case -4: return (476, "Unresolvable destination (476/TM)")
        case -5: return (473, "Filtered destination (473/TM)")
        case -6: return (477, "Send failed (477/TM)")
        default: return (500, "Server error occurred (1/TM)")
        }
    }

    // MARK: local replies

    /// Sends a reply built here to the cell's upstream (t_reply, 408, 487, 477...). Bucket lock taken inside; the
    /// local_reply_route runs, and the reply goes, after it is released (unless the caller holds it: a failure route).
    /// `printSet`: a 3xx carries the destination set (t_reply only, as OpenSIPS's _reply; t_reply_with_body, MI
    /// t_reply and tm's own replies do not).
    @discardableResult
    func localReply(_ cell: Cell, ctx: SYContext?, code: Int, reason: String, body: String = "", extra: String = "",
                    toTag: String? = nil, scripted: Bool = false, printSet: Bool = false, faked: Bool = false) -> Bool {
        var pending: PendingReply?
        table.lock(cell.hashIndex)
        defer { table.unlock(cell.hashIndex); deliver(pending) }
        return localReply(cell, ctx: ctx, code: code, reason: reason, body: body, extra: extra, toTag: toTag,
                          scripted: scripted, printSet: printSet, faked: faked, pending: &pending)
    }

    /// localReply with the bucket lock held by the caller, who delivers `pending` once it has released it.
    func localReply(_ cell: Cell, ctx: SYContext?, code: Int, reason: String, body: String = "", extra: String = "",
                    toTag: String? = nil, scripted: Bool = false, printSet: Bool = false, faked: Bool = false,
                    pending: inout PendingReply?) -> Bool {
        if cell.completed && code >= 200 { return false }
        if cell.replicated && !scripted {
            // A replica's automatic replies (477, 408, 487) go nowhere: the code is kept (t_check_status,
            // retransmissions get nothing). The script's own (t_reply) go out as OpenSIPS sends them on a local cell.
            cell.uasStatus = code
            if code >= 200 { finalSent(cell, code: code, local: false) }
            return true
        }
        var built: Built?
        if let ctx {
            built = core.buildReply(ctx, code: code, reason: reason, toTag: toTag ?? cell.localTag, extra: extra, body: body,
                                    printSet: printSet)
        } else if let snap = cell.snapshot, let c = core.open(snap, kind: .failure, parent: nil) {
            built = core.buildReply(c, code: code, reason: reason, toTag: toTag ?? cell.localTag, extra: extra, body: body)
            core.close(c, saveTo: nil)
        }
        guard let r = built else { return false }
        // A reply faked for a branch (a timeout's 408, the end of a wait) is OpenSIPS's relay_reply path, which runs
        // no local_reply_route; every other reply made here is its _reply_light path, which does.
        if faked { core.send(cell.upstream, r.bytes) } else { sendLocal(r.bytes, to: cell.upstream, parent: ctx, pending: &pending) }
        stat(stats?.localReplies)
        cell.lastReply = r.bytes
        cell.lastReplyLocal = true
        cell.uasStatus = code
        if code >= 200 { finalSent(cell, code: code, local: true) }
        return true
    }

    /// After a final reply went upstream: cancel what is pending, then retransmit until the ACK, or wait.
    func finalSent(_ cell: Cell, code: Int, local: Bool) {
        let reason = code == 200 ? TM.completedElsewhere : ""
        if cell.isInvite {
            for b in cell.branches where b.finalCode == 0 { sendCancel(cell, b, reason: reason) }
        }
        // A final reply ends any wait for new branches.
        cell.waitBranchesUntil = 0
        // A replica's relayed (or automatic) final went nowhere: nothing to retransmit.
        if cell.replicated && !local { goWait(cell); return }
        fire(cell.callbacks, TMCB.responseOut, cell, code: code, ctx: nil)
        let now = nowMS()
        if cell.isInvite && (code >= 300 || local) {
            // Until the ACK: negative finals over UDP (never 401/407), local 2xx on every transport.
            if code == 401 || code == 407 { goWait(cell); return }
            if code < 300 || cell.upstream.reliable == 0 {
                cell.replyInterval = Int64(cfg.t1)
                cell.replyRetrAt = now + cell.replyInterval
            }
            cell.replyFRAt = now + cell.frTimeout
            reschedule(cell)
        } else {
            goWait(cell)
        }
    }

    /// The cell has its answer: it stays WAIT seconds to absorb late messages, then goes.
    func goWait(_ cell: Cell) {
        // Only the last reply (for retransmitted requests) and the matching keys are needed from now on.
        for b in cell.branches {
            b.retrAt = 0
            b.frAt = 0
            // A pending branch may still need its CANCEL, a negative one the ACK of a retransmitted (or late) final.
            if (200..<300).contains(b.finalCode) || (!cell.isInvite && b.finalCode != 0) { b.dropRequest() }
        }
        // The failure route that sent the final reply still reads the request and the picked reply (OpenSIPS keeps
        // them until the cell goes): they are freed when it ends.
        if cell.inFailureRoute { cell.releaseAfterFailureRoute = true } else { releaseStored(cell) }
        cell.replyRetrAt = 0
        cell.replyFRAt = 0
        if cell.waitAt == 0 { cell.waitAt = nowMS() + Int64(cfg.wtTimer) * 1000 }
        if !cell.statCounted {
            cell.statCounted = true
            let cls = cell.uasStatus / 100
            if (2...6).contains(cls) { stat(stats?.byClass[cls - 2]) }
        }
        // The retransmission and final-response timers have stopped: the next visit is the end of WAIT (or a
        // pending CANCEL's retransmission), and the entry armed for the stopped timers need not be visited.
        reschedule(cell, later: true)
    }

    /// Frees the stored request and final replies of a cell that has its answer.
    func releaseStored(_ cell: Cell) {
        for b in cell.branches {
            b.finalReply = nil
            b.receivedFinal = nil
        }
        freeStoredRequest(cell)
    }

    /// Arms the cell's timer entry for its next deadline when that is earlier than the live entry. `later`: also
    /// when it is later (the live entry is then dropped unvisited), for a cell whose earlier timers all stopped.
    func reschedule(_ cell: Cell, later: Bool = false) {
        let d = cell.nextDeadline()
        if d > 0 && (cell.scheduledAt == 0 || d < cell.scheduledAt || (later && d != cell.scheduledAt)) {
            cell.scheduledAt = d
            wheel.schedule(cell, at: d)
        }
    }

    // MARK: CANCEL and ACK built here

    /// A CANCEL for a branch (sent now if the branch ever answered, else owed until its first provisional reply).
    /// `owed`: the CANCEL held back for a silent branch, sent at its first provisional reply even when the branch
    /// has its (faked) final meanwhile.
    func sendCancel(_ cell: Cell, _ b: Branch, reason: String, owed: Bool = false) {
        guard b.cancel != .sent, b.finalCode == 0 || owed else { return }
        b.cancelReason = reason
        guard b.receivedAny else {
            b.cancel = .pending
            // A blind branch (t_write_*) of an answered transaction: nothing went out, its timer would only fake a
            // timeout. (Upstream CANCELled, it runs on: its 408 at fr_timeout brings the caller's 487.)
            if b.isBlind && cell.completed { b.frAt = 0 }
            return
        }
        guard let bytes = TM.build(from: b.request, method: "CANCEL", to: nil, extra: reason + cell.addHeaders) else { return }
        b.cancelBytes = bytes
        b.cancel = .sent
        core.send(b.target, bytes)
        if !b.reliable {
            b.cancelInterval = Int64(cfg.t1)
            b.cancelRetrAt = nowMS() + b.cancelInterval
        }
    }

    /// The hop-by-hop ACK of a negative final reply on a branch.
    func sendAck(_ cell: Cell, _ b: Branch, toLine: String?) {
        guard let bytes = TM.build(from: b.request, method: "ACK", to: toLine, extra: cell.addHeaders) else { return }
        core.send(b.target, bytes)
    }

    /// CANCEL/ACK from the request a branch sent: its request line and Via, From, Call-ID, CSeq number, Route set.
    static func build(from request: [UInt8], method: String, to: String?, extra: String) -> [UInt8]? {
        guard let msg = try? SIPMessage.parse(request), let ruri = msg.requestURIText,
              let via = (try? msg.vias())?.first, let n = msg.cseqNumber else { return nil }
        var out = "\(method) \(ruri) SIP/2.0\r\nVia: \(msg.text(via.range))\r\n"
        for f in msg.fields {
            switch f.kind {
            case .route, .from, .callID: out += msg.text(f.line.lowerBound..<f.value.upperBound) + "\r\n"
            case .to: out += to.map { "To: \($0)\r\n" } ?? msg.text(f.line.lowerBound..<f.value.upperBound) + "\r\n"
            default: break
            }
        }
        out += "CSeq: \(n) \(method)\r\nMax-Forwards: 70\r\n" + extra + "Content-Length: 0\r\n\r\n"
        return Array(out.utf8)
    }

    // MARK: callbacks of other modules

    func fire(_ list: [Callback], _ type: UInt32, _ cell: Cell, code: Int, ctx: SYContext?, reply: [UInt8]? = nil) {
        guard list.contains(where: { $0.types & type != 0 }) else { return }
        var p = sy_tm_cb_params()
        p.hash_index = UInt32(cell.hashIndex)
        p.label = cell.label
        p.code = Int32(code)
        p.is_local = cell.isLocal ? 1 : 0
        p.ctx = ctx?.raw
        p.type = type
        let bytes = reply ?? []
        bytes.withUnsafeBufferPointer { b in
            if let base = b.baseAddress, !b.isEmpty {
                p.reply = sy_str(s: UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), len: b.count)
            }
            for cb in list where cb.types & type != 0 {
                withUnsafePointer(to: &p) { pp in cb.fn(pp, cb.param) }
            }
        }
    }
}
