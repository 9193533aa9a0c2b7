// t_replicate: relay the request statefully to one more destination while its replies stay here (REGISTER
// replication): the transaction is marked so that nothing from it ever goes upstream.
import SwitchyardPluginKit

extension TM {
    func tReplicate(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        let uri = call.string(0)
        guard !uri.isEmpty else {
            host.log(.err, "t_replicate: empty destination URI")
            return -2
        }
        guard let flags = RelayFlags(call.isPresent(1) ? call.string(1) : "") else {
            host.log(.err, "t_replicate: unknown flag in '\(call.string(1))' (no-dns-failover)")
            return -2
        }
        let known = existingTxn(ctx)
        // The request goes to `uri` with its request-URI unchanged; $du stays `uri` afterwards (OpenSIPS sets it).
        _ = host.varSet(ctx, duVar, .string(uri))
        // The mark (`then`) goes on only once a branch is out, under the relay's lock: a relay that sent nothing
        // leaves an ordinary transaction, and no reply can be handled before the mark.
        if let tx = known, tx.kind == .failure {
            guard let cell = tx.cell else { return -1 }
            return relay(ctx, tx: tx, cell: cell, created: false, noAuto477: true, noDNSFailover: flags.noDNSFailover) {
                if $0 > 0 { cell.replicated = true }
            }
        }
        guard let info = core.info(ctx), info.is_request == 1 else { return -2 }
        if known?.cell == nil && CoreLink.equals(info.method, literal: "ACK") { return forwardStateless(ctx, ackKind(info)) }
        let tx = known ?? txn(ctx)
        var created = false
        let cell: Cell
        if let c = tx.cell {
            cell = c
        } else {
            switch newTransaction(ctx, tx: tx, schedule: false) {
            case .created(let c): cell = c; created = true
            case .retransmission: return 1
            case .failed(let e): return e
            }
        }
        // Of the flags only no-dns-failover means anything for a replica (no reply goes upstream).
        return relay(ctx, tx: tx, cell: cell, created: created, noAuto477: true, noDNSFailover: flags.noDNSFailover) {
            if $0 > 0 { cell.replicated = true }
        }
    }
}
