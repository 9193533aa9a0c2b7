// t_reply_by_callid: answer an INVITE transaction found by Call-ID and CSeq number from another request's route.
import SwitchyardPluginKit

extension TM {
    func tReplyByCallid(_ call: FunctionCall) -> Int32 {
        let code = Int(call.int(0))
        guard (100...699).contains(code) else {
            host.log(.err, "t_reply_by_callid: bad code \(code) (100..699)")
            return -1
        }
        let ctx = call.context
        guard let info = core.info(ctx), info.is_request == 1 else { return -1 }
        // An ACK is never answered (as t_reply).
        if CoreLink.equals(info.method, literal: "ACK") { return 0 }
        // Missing arguments come from the message being handled.
        let callID = call.isPresent(2) ? call.string(2) : CoreLink.text(info.call_id)
        let cseq = call.isPresent(3) ? call.int(3) : info.cseq
        guard !callID.isEmpty, cseq >= 0 else { return -1 }
        let reason = call.string(1)
        let b = TransactionTable.hash(callID: callID, cseq: cseq)
        // Found under the bucket lock; answered after it (localReply takes it again).
        let found: Cell? = table.withBucket(b) {
            table.bucket(b).first { c in
                c.isInvite && !c.isLocal && !c.removed && c.callID == callID && c.cseq == cseq
            }
        }
        guard let cell = found else {
            host.log(.dbg, "t_reply_by_callid: no INVITE transaction for Call-ID \(callID), CSeq \(cseq)")
            return -1
        }
        if table.withBucket(cell.hashIndex, { cell.completed }) {
            host.log(.err, "t_reply_by_callid: the INVITE transaction was already answered")
            return -1
        }
        return localReply(cell, ctx: nil, code: code, reason: reason, scripted: true) ? 1 : -1
    }
}
