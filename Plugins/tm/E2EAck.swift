// The end-to-end ACK of a 2xx this proxy relayed: forwarded statelessly, but with a Via branch tm derives from the
// INVITE's transaction while it lives, as OpenSIPS's t_newtran does (t_calc_branch with the branch number
// nr_of_outgoings + 1, one no branch of that INVITE can have): retransmitted ACKs get the same branch, and it cannot
// collide with another transaction's. An ACK that confirms no transaction keeps the core's stateless branch.
import SwitchyardABI
import SwitchyardPluginKit

extension TM {
    /// What an ACK that starts no transaction confirms, found with one bucket lock.
    enum AckKind {
        /// One of our negative (or local 2xx) replies: absorbed, never relayed (see TM.hopByHopAck).
        case hopByHop
        /// A 2xx relayed for this INVITE: forwarded with the branch number `branch` of the INVITE's transaction.
        case endToEnd(hash: Int, label: UInt32, branch: Int)
        /// Nothing tm knows: forwarded with the core's stateless branch.
        case unknown
    }

    /// The ACK's kind (bucket lock taken inside).
    func ackKind(_ info: sy_sip_info) -> AckKind {
        guard let b = TM.bucket(info) else { return .unknown }
        table.lock(b)
        defer { table.unlock(b) }
        if table.isEmpty(b) { return .unknown }
        let m = ackMatch(info, bucket: b)
        if m.hopByHop != nil { return .hopByHop }
        guard let c = m.endToEnd else { return .unknown }
        return .endToEnd(hash: c.hashIndex, label: c.label, branch: c.branches.count + 1)
    }

    /// The cells an ACK confirms (bucket lock held): hop by hop, one we answered negatively (matched as a
    /// retransmission of its INVITE) or with a 2xx of our own (matched by dialog, its To-tag ours); else end to end,
    /// the first proxied INVITE with a relayed 2xx and the ACK's Call-ID, CSeq number and From-tag (OpenSIPS's
    /// ack_matching ignores the To-tag there, so the ACKs of forked 2xx share it). Bytes compared in place.
    func ackMatch(_ info: sy_sip_info, bucket b: Int) -> (hopByHop: Cell?, endToEnd: Cell?) {
        if let c = match(info, bucket: b, isAck: true), c.uasStatus >= 300 { return (c, nil) }
        var e2e: Cell?
        for c in table.bucket(b) where c.isInvite && !c.removed && (200..<300).contains(c.uasStatus) {
            guard c.cseq == info.cseq, c.keys.equals(.callID, info.call_id), c.keys.equals(.fromTag, info.from_tag)
            else { continue }
            if c.lastReplyLocal {
                if CoreLink.equals(info.to_tag, c.localTag) { return (c, nil) }
            } else if e2e == nil && !c.isLocal {
                e2e = c
            }
        }
        return (nil, e2e)
    }

    /// A stateless forward of an ACK for which no transaction exists (the end-to-end ACK of a 2xx).
    func forwardStateless(_ ctx: SYContext, _ kind: AckKind) -> Int32 {
        let rc: Int32
        if case .endToEnd(let hash, let label, let branch) = kind {
            rc = TM.withBranchID(hash: hash, label: label, branch: branch) { core.forwardStateless(ctx, branch: $0) }
        } else {
            rc = core.forwardStateless(ctx, branch: sy_str())
        }
        return rc == 0 ? 1 : rc
    }
}
