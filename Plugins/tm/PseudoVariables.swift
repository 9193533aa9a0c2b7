// $T_* pseudo-variables.
import SwitchyardPluginKit

extension TMModule {
    func declarePVs(_ m: inout ModuleExportsBuilder) {
        func pv(_ name: String, _ get: @escaping @Sendable (TM, SYContext) -> SYValue,
                set: (@Sendable (TM, SYContext, SYValue) -> Bool)? = nil) {
            var setter: (@Sendable (SYContext, AssignOp, SYValue) -> Bool)? = nil
            if let set { setter = { [self] ctx, _, v in tm.map { set($0, ctx, v) } ?? false } }
            m.pseudoVariable(name, get: { [self] ctx in tm.map { get($0, ctx) } ?? .null }, set: setter)
        }
        pv("T_reply_code") { tm, ctx in
            guard let tx = tm.existingTxn(ctx) else { return .int(0) }
            return .int(Int64(tm.statusCode(tx)))
        }
        pv("T_reply_reason") { tm, ctx in
            guard let tx = tm.existingTxn(ctx), tx.kind == .reply || tx.kind == .failure else { return .null }
            return .string(tx.replyReason)
        }
        pv("T_branch_idx") { tm, ctx in
            if let tx = tm.existingTxn(ctx), tx.branchIndex >= 0 { return .int(Int64(tx.branchIndex)) }
            // The global onreply_route is a reply route too, run before the reply is matched: OpenSIPS prints its
            // branch index there, which every reply handled before has left at 0.
            if tm.core.api.ctx_route_type!(ctx.raw) == RouteMask.onReply.rawValue { return .int(0) }
            return .null
        }
        // The URI of the current branch, as OpenSIPS reads it: the branch of a reply or failure route; in a request
        // route with a transaction, branch 0; in a branch route the branch being built, which is not in the
        // transaction yet, so (as OpenSIPS) an error is logged and xlog prints nothing. Without a transaction: $ru.
        pv("T_ruri") { tm, ctx in
            guard let tx = tm.existingTxn(ctx), let c = tx.cell else { return tm.host.varGet(ctx, tm.ruVar) ?? .null }
            let i = max(tx.branchIndex, 0)
            if let uri = tm.table.withBucket(c.hashIndex, { i < c.branches.count ? c.branches[i].uri : nil }) {
                return .string(uri)
            }
            tm.host.log(.err, "pv_get_tm_ruri: BUG: _tm_branch_index greater than nr_of_outgoings")
            return .string("")
        }
        pv("T_id") { tm, ctx in
            guard let c = tm.existingTxn(ctx)?.cell else { return .null }
            return .string(c.id)
        }
        // OpenSIPS 3.6.8 reads these as a bare integer, without the text every consumer but a few prints or copies:
        // xlog prints nothing, `$var(x) = $T_fr_timeout` stores an empty string. The same here: an empty string.
        // Written, they take an integer of seconds (NULL: back to the modparam).
        pv("T_fr_timeout", { _, _ in .string("") }, set: { tm, ctx, v in tm.setTimer(ctx, v, inv: false) })
        pv("T_fr_inv_timeout", { _, _ in .string("") }, set: { tm, ctx, v in tm.setTimer(ctx, v, inv: true) })
        // $T_branch_last_reply_code[idx]: idx absolute (negative from the last branch); no index: $T_branch_idx.
        m.pseudoVariable("T_branch_last_reply_code", parse: { _ in 0 },
                         get: { [self] ctx, _ in tm?.lastReplyCode(ctx, index: nil) ?? .null },
                         count: { [self] ctx, _ in tm?.branchCount(ctx) ?? 0 },
                         getIndex: { [self] ctx, _, i in tm?.lastReplyCode(ctx, index: Int(i)) },
                         nameRequired: false)
    }
}

extension TM {
    func lastReplyCode(_ ctx: SYContext, index: Int?) -> SYValue {
        guard let tx = existingTxn(ctx), let c = tx.cell else { return .null }
        let i = index ?? tx.branchIndex
        return table.withBucket(c.hashIndex) { i >= 0 && i < c.branches.count ? .int(Int64(c.branches[i].lastCode)) : .null }
    }

    /// $T_fr_timeout / $T_fr_inv_timeout = seconds (NULL: back to the modparam). Before the cell exists the value waits
    /// in the context; with a cell it applies to branches sent (or provisional replies received) later.
    func setTimer(_ ctx: SYContext, _ v: SYValue, inv: Bool) -> Bool {
        let tx = txn(ctx)
        let ms: Int64
        switch v {
        case .null: ms = Int64(inv ? cfg.frInvTimeout : cfg.frTimeout) * 1000
        case .int(let s) where s > 0: ms = s * 1000
        default:
            // A string, even of digits, is refused as OpenSIPS refuses a non-integer value.
            host.log(.err, "$T_fr\(inv ? "_inv" : "")_timeout: assigning a value that is not a positive integer as a timeout")
            return false
        }
        if let c = tx.cell {
            table.withBucket(c.hashIndex) { if inv { c.frInvTimeout = ms } else { c.frTimeout = ms } }
        } else if inv {
            tx.frInvTimeout = ms
        } else {
            tx.frTimeout = ms
        }
        return true
    }
}
