// Script functions of tm: t_relay, t_newtran, t_reply, t_check_trans, t_check_status, t_on_*, CANCEL handling.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit

/// t_cancel_branch's flags: `a` (all pending), `o` (the others), any case; any other letter is refused.
struct CancelBranchFlags {
    var all = false
    var others = false

    init?(_ text: String) {
        for ch in text {
            switch ch {
            case "a", "A": all = true
            case "o", "O": others = true
            default: return nil
            }
        }
    }
}

struct RelayFlags {
    var noAuto477 = false
    var noDNSFailover = false
    var passReason = false
    var allowNoCancel = false

    /// Comma-separated names; nil names an unknown flag.
    init?(_ text: String) {
        if text.isEmpty { return }  // t_relay() without flags: nothing to split
        for raw in text.split(separator: ",") {
            switch raw.trimmingCharacters(in: .whitespaces) {
            case "no-auto-477": noAuto477 = true
            case "no-dns-failover": noDNSFailover = true
            case "pass-reason-hdr": passReason = true
            case "allow-no-cancel": allowNoCancel = true
            case "": continue
            default: return nil
            }
        }
    }
}

extension TM {
    func tRelay(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        // The context's tm state, made only once a transaction is involved (not for an ACK relayed statelessly).
        let known = existingTxn(ctx)
        guard let flags = RelayFlags(call.isPresent(0) ? call.string(0) : "") else {
            host.log(.err, "t_relay: unknown flag in '\(call.string(0))' (no-auto-477, no-dns-failover, pass-reason-hdr, allow-no-cancel)")
            return -2
        }
        var proxy: String? = nil
        if call.isPresent(1), !call.string(1).isEmpty {
            // The outbound proxy is the next hop of every branch, $du or not; $du itself is left alone (OpenSIPS).
            let p = call.string(1)
            proxy = p.lowercased().hasPrefix("sip") ? p : TM.proxyURI(p)
        }
        if let tx = known, tx.kind == .failure {
            guard let cell = tx.cell else { return -1 }
            return relay(ctx, tx: tx, cell: cell, created: false, noAuto477: flags.noAuto477, noDNSFailover: flags.noDNSFailover,
                         proxy: proxy)
        }
        guard let info = core.info(ctx), info.is_request == 1 else { return -2 }
        if known?.cell == nil && CoreLink.equals(info.method, literal: "ACK") {
            // The ACK of our negative (or local 2xx) reply goes nowhere (absorbed before the script): 1 after
            // t_check_trans found it, else 0 as t_newtran's retransmission (the script stops). Any other ACK is end
            // to end (or matches nothing): forwarded statelessly.
            let kind = ackKind(info)
            if case .hopByHop = kind { return known?.ackMatched == true ? 1 : 0 }
            return forwardStateless(ctx, kind)
        }
        let tx = known ?? txn(ctx)
        if tx.cell == nil && CoreLink.equals(info.method, literal: "CANCEL"),
           let r = relayCancel(ctx, tx: tx, MessageKeys(info), passReason: flags.passReason) {
            return r
        }
        var created = false
        let cell: Cell
        if let c = tx.cell {
            cell = c
            // Made by t_newtran: the flags set since reach the transaction now (OpenSIPS t_forward_nonack).
            flushFlags(ctx, cell)
        } else {
            // The fields just read are still valid: no host call on the message since (the slot calls leave it alone).
            switch newTransaction(ctx, tx: tx, info: info, schedule: false) {
            case .created(let c): cell = c; created = true
            case .retransmission: return 1
            case .failed(let e): return e
            }
        }
        return relay(ctx, tx: tx, cell: cell, created: created, noAuto477: flags.noAuto477, noDNSFailover: flags.noDNSFailover,
                     proxy: proxy)
    }

    /// `[proto:]host[:port]` as a SIP URI.
    static func proxyURI(_ p: String) -> String {
        var proto = "", rest = p
        if let c = p.firstIndex(of: ":"), ["udp", "tcp", "tls"].contains(p[..<c].lowercased()) {
            proto = p[..<c].lowercased()
            rest = String(p[p.index(after: c)...])
        }
        return "sip:" + rest + (proto.isEmpty || proto == "udp" ? "" : ";transport=" + proto)
    }

    /// A CANCEL from upstream whose INVITE is ours: answered 200 here, CANCELs sent to the branches that rang.
    /// nil when no INVITE matches (it is then relayed like any request).
    func relayCancel(_ ctx: SYContext, tx: TxnContext, _ k: MessageKeys, passReason: Bool) -> Int32? {
        let b = TransactionTable.hash(callID: k.callID, cseq: k.cseq)
        var pending: PendingReply?  // the 200 canceling, routed and sent once the bucket is unlocked
        table.lock(b)
        defer { table.unlock(b); deliver(pending) }
        guard let inv = match(k, bucket: b, method: "CANCEL", cancelLookup: true), inv.isInvite else { return nil }
        switch newTransaction(ctx, tx: tx) {
        case .retransmission: return 1
        case .failed(let e): return e
        case .created(let cc): _ = localReply(cc, ctx: ctx, code: 200, reason: "canceling", pending: &pending)
        }
        inv.wasCancelled = true
        fire(inv.callbacks, TMCB.cancelled, inv, code: 0, ctx: ctx)
        var reason = TM.originatorCancel
        if let r = tx.cancelReason { reason = r } else if passReason, let r = host.sipHeader(ctx, "Reason") { reason = "Reason: \(r)\r\n" }
        inv.cancelReason = reason
        for br in inv.currentSet where br.finalCode == 0 { sendCancel(inv, br, reason: reason) }
        // A wait for new branches ends with the CANCEL: with no branch left pending the caller gets its 487 now.
        if inv.waiting { endWait(inv, completeNow: true) }
        return 1
    }

    /// The ACK of one of our negative (or local 2xx) replies (see TM.hopByHopAck).
    func isHopByHopAck(_ info: sy_sip_info) -> Bool {
        if case .hopByHop = ackKind(info) { return true }
        return false
    }

    func tNewtran(_ call: FunctionCall) -> Int32 {
        let tx = txn(call.context)
        if tx.cell != nil { return -10 }
        guard let info = core.info(call.context) else { return -2 }
        if CoreLink.text(info.method) == "ACK" { return isHopByHopAck(info) ? 0 : 1 }
        switch newTransaction(call.context, tx: tx) {
        case .created: return 1
        case .retransmission: return 0
        case .failed(let e): return e
        }
    }

    /// t_reply (`body` nil: a 3xx carries the destination set) and t_reply_with_body.
    func tReply(_ ctx: SYContext, code: Int, reason: String, body: String? = nil) -> Int32 {
        guard (100...699).contains(code) else {
            host.log(.err, "t_reply: bad code \(code) (100..699)")
            return -1
        }
        let tx = txn(ctx)
        let cell: Cell
        if let c = tx.cell {
            cell = c
        } else {
            guard tx.kind == .request, let info = core.info(ctx) else { return -1 }
            if CoreLink.text(info.method) == "ACK" { return 0 }
            switch newTransaction(ctx, tx: tx) {
            case .created(let c): cell = c
            case .retransmission: return 0
            case .failed(let e): return e
            }
        }
        if table.withBucket(cell.hashIndex, { cell.completed }) {
            host.log(.err, "t_reply: a final reply was already sent for this transaction")
            return -1
        }
        return localReply(cell, ctx: ctx, code: code, reason: reason, body: body ?? "", scripted: true,
                          printSet: body == nil) ? 1 : -1
    }

    func tCheckTrans(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        let tx = txn(ctx)
        if tx.kind == .branch { return tx.cell != nil ? 1 : -1 }
        guard let info = core.info(ctx) else { return -1 }
        let k = MessageKeys(info)
        guard !k.callID.isEmpty, k.cseq >= 0 else { return 0 }
        let b = TransactionTable.hash(callID: k.callID, cseq: k.cseq)
        return table.withBucket(b) { () -> Int32 in
            if k.method == "CANCEL" { return match(k, bucket: b, method: "CANCEL", cancelLookup: true) != nil ? 1 : -1 }
            if tx.cell != nil { return 1 }
            if let c = match(k, bucket: b, method: k.method) {
                if k.method == "ACK" {
                    tx.ackMatched = c.uasStatus >= 300
                    return c.uasStatus >= 300 ? 1 : -2
                }
                if !c.lastReply.isEmpty { core.send(c.upstream, c.lastReply) }
                return 0
            }
            // The ACK of our local 2xx is matched dialog-wise as an end-to-end ACK (OpenSIPS): -2, and t_relay
            // then gives 0 (absorbed, the script stops).
            if k.method == "ACK", matchLocal2xx(k, bucket: b) != nil { return -2 }
            return -1
        }
    }

    /// The status t_check_status and $T_reply_code see in each route.
    func statusCode(_ tx: TxnContext) -> Int {
        switch tx.kind {
        case .reply, .failure: return tx.replyCode
        case .branch: return 0
        case .request: return tx.cell.map { c in table.withBucket(c.hashIndex) { c.uasStatus } } ?? 0
        }
    }

    func tCheckStatus(_ call: FunctionCall) -> Int32 {
        let tx = txn(call.context)
        if tx.kind == .branch { return -1 }
        // No transaction: false (OpenSIPS), not a match against 0.
        guard tx.cell != nil else {
            host.log(.err, "t_check_status: no transaction to check the status of")
            return -1
        }
        let pattern = call.string(0)
        guard let re = StatusRegex.compiled(pattern) else {
            host.log(.err, "t_check_status: bad regular expression '\(pattern)'")
            return -1
        }
        return re.matches(String(statusCode(tx))) ? 1 : -1
    }

    enum Arm { case failure, reply, branch }

    func tOn(_ call: FunctionCall, _ what: Arm) -> Int32 {
        let name = call.string(0)
        let kind: RouteMask = what == .failure ? .failure : what == .reply ? .onReply : .branch
        guard let route = core.route(kind, name) else {
            host.log(.err, "t_on_\(what == .failure ? "failure" : what == .reply ? "reply" : "branch"): no \(what == .failure ? "failure_route" : what == .reply ? "onreply_route" : "branch_route")[\(name)] in the script")
            return -1
        }
        let tx = txn(call.context)
        switch (what, tx.kind) {
        case (.reply, .branch): tx.branchOnReply = route
        case (.failure, .branch):
            // The transaction exists while its branches are built: the failure route is armed on it.
            if let c = tx.cell { table.withBucket(c.hashIndex) { c.onFailure = route } }
        // With a transaction (reply and failure routes; request route after t_newtran/t_relay, as OpenSIPS arms its T
        // when it has one): on the transaction itself, so that a route armed after t_relay() still runs.
        case (_, let kind) where kind == .reply || tx.armsCell || ((kind == .request || kind == .failure) && tx.cell != nil):
            if let c = tx.cell {
                table.withBucket(c.hashIndex) {
                    switch what {
                    case .failure: c.onFailure = route
                    case .reply: c.onReply = route
                    case .branch: c.onBranch = route
                    }
                }
            }
        default:
            switch what {
            case .failure: tx.onFailure = route
            case .reply: tx.onReply = route
            case .branch: tx.onBranch = route
            }
        }
        return 1
    }

    func tWasCancelled(_ call: FunctionCall) -> Int32 {
        guard let c = txn(call.context).cell else { return -1 }
        return table.withBucket(c.hashIndex) { c.wasCancelled } ? 1 : -1
    }

    /// t_local_replied's mode as OpenSIPS compares it: the text starts with `all`, `branch` or `last` (any case).
    enum LocalRepliedMode {
        case all, branch, last
        init?(_ text: String) {
            let t = text.lowercased()
            if t.hasPrefix("all") { self = .all } else if t.hasPrefix("branch") { self = .branch }
            else if t.hasPrefix("last") { self = .last } else { return nil }
        }
    }

    func tLocalReplied(_ call: FunctionCall) -> Int32 {
        let tx = txn(call.context)
        guard let c = tx.cell else {
            host.log(.err, "t_local_replied: no transaction created")
            return -1
        }
        let text = call.string(0)
        guard let mode = LocalRepliedMode(text) else {
            host.log(.err, "t_local_replied: invalid param \"\(text)\" (all, branch, last)")
            return -1
        }
        return table.withBucket(c.hashIndex) { () -> Int32 in
            if mode == .all {
                return c.currentSet.contains(where: { $0.receivedAny }) ? -1 : 1
            }
            if mode == .last {
                // No picked branch: the wait for new branches' own 408/487, made here.
                if tx.kind == .failure { return (tx.pickedBranch < 0 || (pick(c)?.localFinal ?? false)) ? 1 : -1 }
                return c.lastReplyLocal ? 1 : -1
            }
            guard tx.kind == .failure, let w = pick(c) else { return -1 }
            return w.receivedAny ? -1 : 1
        }
    }

    func tCancelBranch(_ call: FunctionCall) -> Int32 {
        let tx = txn(call.context)
        guard let c = tx.cell, c.isInvite, tx.branchIndex >= 0 else { return -1 }
        let text = call.isPresent(0) ? call.string(0) : ""
        guard let flags = CancelBranchFlags(text) else {
            host.log(.err, "t_cancel_branch: unsupported flag in '\(text)' (a, o)")
            return -1
        }
        return table.withBucket(c.hashIndex) { () -> Int32 in
            let current = c.branches[tx.branchIndex]
            if flags.all {
                for b in c.currentSet where b.finalCode == 0 && !(b === current && tx.replyCode >= 200) {
                    if b !== current { sendCancel(c, b, reason: "") } else if b.cancel == .none { b.cancel = .pending }
                }
            } else if flags.others {
                for b in c.currentSet where b.finalCode == 0 && b !== current { sendCancel(c, b, reason: "") }
            } else if tx.replyCode < 200 {
                // The reply route runs before the branch counts as answered: the CANCEL is owed, sent once the reply
                // in hand answers it (nothing goes out if the route drops it, as OpenSIPS only marks the branch).
                if current.cancel == .none { current.cancel = .pending }
            }
            return 1
        }
    }

    /// t_flush_flags: the request route's flags become the transaction's (what its failure routes start from), as
    /// t_relay does too; without a transaction it fails (OpenSIPS).
    func tFlushFlags(_ call: FunctionCall) -> Int32 {
        let tx = txn(call.context)
        guard let cell = tx.cell else {
            host.log(.err, "t_flush_flags: no transaction-state established for this message")
            return -1
        }
        if tx.kind == .request { flushFlags(call.context, cell) }
        return 1
    }

    /// The transaction's copy of the request takes the request route's message flags (with its AVPs and branch
    /// flags, which OpenSIPS keeps on the transaction once it exists): a new snapshot replaces the one made with the
    /// cell. Every other route that reads the snapshot runs under the bucket lock, taken here for the swap.
    func flushFlags(_ ctx: SYContext, _ cell: Cell) {
        table.withBucket(cell.hashIndex) {
            guard !cell.isLocal, let old = cell.snapshot, let fresh = core.snapshot(ctx) else { return }
            core.snapshotFree(old)
            cell.snapshot = fresh
        }
    }

    func tAddHdrs(_ call: FunctionCall) -> Int32 {
        guard let c = txn(call.context).cell else { return -1 }
        var h = call.string(0)
        if !h.isEmpty && !h.hasSuffix("\r\n") { h += "\r\n" }
        table.withBucket(c.hashIndex) { c.addHeaders = h }
        return 1
    }

    func tAddCancelReason(_ call: FunctionCall) -> Int32 {
        var r = call.string(0)
        guard !r.isEmpty else { return -1 }
        if !r.hasSuffix("\r\n") { r += "\r\n" }
        txn(call.context).cancelReason = r
        return 1
    }
}
