// t_inject_branches: more branches for the transaction of the request being handled, added to its current set
// (a transaction waiting with t_wait_for_new_branches stays open for them).
import SwitchyardPluginKit

extension TM {
    func tInjectBranches(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        switch call.string(0).lowercased() {
        case "msg", "message": break
        case "event", "events":
            host.log(.err, "t_inject_branches: source 'event' needs the event_routing module, which Switchyard does not have")
            return -1
        default:
            host.log(.err, "t_inject_branches: unknown source '\(call.string(0))' (msg)")
            return -1
        }
        var cancel = false, last = false
        for f in (call.isPresent(1) ? call.string(1) : "").split(separator: ",") {
            switch f.trimmingCharacters(in: .whitespaces).lowercased() {
            case "cancel", "c": cancel = true
            case "l": last = true
            case "": continue
            default:
                host.log(.err, "t_inject_branches: unknown flag '\(f)' (cancel, c, l)")
                return -1
            }
        }
        guard let tx = existingTxn(ctx), let cell = tx.cell else {
            host.log(.err, "t_inject_branches: no transaction to inject into")
            return -1
        }
        let ok = table.withBucket(cell.hashIndex) { () -> Bool in
            guard cell.isInvite, !cell.completed else { return false }
            if cancel {
                for b in cell.currentSet where b.finalCode == 0 {
                    sendCancel(cell, b, reason: "Reason: SIP ;cause=200 ;text=\"Call completed elsewhere\"\r\n")
                }
            }
            return true
        }
        guard ok else { return -2 }
        let before = table.withBucket(cell.hashIndex) { cell.branches.count }
        let rc = relay(ctx, tx: tx, cell: cell, created: false, noAuto477: true, keepSet: true)
        table.withBucket(cell.hashIndex) {
            let added = cell.branches.count - before
            if cell.waitBranchesLeft > 0 {
                cell.waitBranchesLeft = max(0, cell.waitBranchesLeft - added)
                if cell.waitBranchesLeft == 0 { endWait(cell, completeNow: true) }
            }
            if last && cell.waiting { endWait(cell, completeNow: true) }
        }
        return rc
    }
}
