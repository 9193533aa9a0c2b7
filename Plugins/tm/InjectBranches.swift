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
        guard cell.isInvite else { return -1 }
        if tx.kind == .reply { return injectFromReply(ctx, tx: tx, cell: cell, cancel: cancel, last: last) }
        // The completed check, the CANCELs, the count and the completion are one lock section with the relay.
        let rc = relay(ctx, tx: tx, cell: cell, created: false, noAuto477: true, keepSet: true, cancelFirst: cancel) { added in
            if cell.waitBranchesLeft > 0 {
                cell.waitBranchesLeft = max(0, cell.waitBranchesLeft - added)
                if cell.waitBranchesLeft == 0 { endWait(cell, completeNow: true) }
            }
            if last && cell.waiting { endWait(cell, completeNow: true) }
            // A branch route may have ended the wait (t_wait_no_more_branches) while the set was half made: with
            // nothing pending now, the set completes here.
            if tx.kind == .request && !cell.waiting && !cell.completed && !cell.setPending && pick(cell) != nil {
                completeNegative(cell, parent: nil)
            }
        }
        // A final reply already sent (or a CANCEL's 487): −2, as OpenSIPS.
        if rc == -3 && table.withBucket(cell.hashIndex, { cell.completed }) { return -2 }
        return rc
    }
}

extension TM {
    /// From a reply route the message is the reply: the new branches are those the route appended (append_branch),
    /// each relayed on the transaction's request, as the failure route relays on it. None appended: −1.
    func injectFromReply(_ ctx: SYContext, tx: TxnContext, cell: Cell, cancel: Bool, last: Bool) -> Int32 {
        let appended = core.branches(ctx)
        guard !appended.isEmpty else {
            host.log(.err, "t_inject_branches: no branch appended in the reply route to inject")
            return -1
        }
        guard let req = table.withBucket(cell.hashIndex, { openStored(cell, kind: .request, parent: ctx) }) else { return -1 }
        defer { core.close(req, saveTo: nil) }
        // Only once they go out: a −1 above leaves the route's appended branches as they were.
        core.clearBranches(ctx)
        var rc: Int32 = -1
        for (i, (uri, dst)) in appended.enumerated() {
            _ = host.varSet(req, ruVar, .string(uri))
            _ = host.varSet(req, duVar, dst.isEmpty ? .null : .string(dst))
            let isLast = i == appended.count - 1
            rc = relay(req, tx: tx, cell: cell, created: false, noAuto477: true, keepSet: true, cancelFirst: cancel && i == 0) { added in
                if cell.waitBranchesLeft > 0 {
                    cell.waitBranchesLeft = max(0, cell.waitBranchesLeft - added)
                    if cell.waitBranchesLeft == 0 { endWait(cell, completeNow: true) }
                }
                if last && isLast && cell.waiting { endWait(cell, completeNow: true) }
            }
            if rc < 0 { break }
        }
        if rc == -3 && table.withBucket(cell.hashIndex, { cell.completed }) { return -2 }
        return rc
    }
}
