// The end-to-end ACK of a 2xx this proxy relayed: forwarded statelessly, but with a Via branch tm derives from the
// INVITE's transaction while it lives, as OpenSIPS's t_newtran does (t_calc_branch with the branch number
// nr_of_outgoings + 1, one no branch of that INVITE can have): retransmitted ACKs get the same branch, and it cannot
// collide with another transaction's. An ACK that confirms no transaction keeps the core's stateless branch.
import SwitchyardABI
import SwitchyardPluginKit

extension TM {
    /// The proxied INVITE a 2xx ACK confirms by dialog (Call-ID, CSeq number, From-tag: OpenSIPS's dlg_matching for
    /// a relayed 2xx), and the branch number its ACK takes. Bucket lock taken inside.
    func e2eAckBranch(_ info: sy_sip_info) -> (hash: Int, label: UInt32, branch: Int)? {
        guard let b = TM.bucket(info) else { return nil }
        table.lock(b)
        defer { table.unlock(b) }
        if table.isEmpty(b) { return nil }
        let k = MessageKeys(info)
        guard let c = table.bucket(b).first(where: { c in
            c.isInvite && !c.isLocal && !c.removed && (200..<300).contains(c.uasStatus) && !c.lastReplyLocal
                && c.cseq == k.cseq && c.callID == k.callID && c.fromTag == k.fromTag
        }) else { return nil }
        return (c.hashIndex, c.label, c.branches.count + 1)
    }

    /// A stateless forward of an ACK for which no transaction exists (the end-to-end ACK of a 2xx).
    func forwardStateless(_ ctx: SYContext, _ info: sy_sip_info) -> Int32 {
        let rc: Int32
        if let e = e2eAckBranch(info) {
            rc = TM.withBranchID(hash: e.hash, label: e.label, branch: e.branch) { core.forwardStateless(ctx, branch: $0) }
        } else {
            rc = core.forwardStateless(ctx, branch: sy_str())
        }
        return rc == 0 ? 1 : rc
    }
}
