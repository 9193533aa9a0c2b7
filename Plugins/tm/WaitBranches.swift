// t_wait_for_new_branches / t_wait_no_more_branches: an INVITE transaction that stays open, when its branches have
// all failed, until fr_inv_timeout, a 2xx, a CANCEL, or the script says no more branches will come.
import SwitchyardPluginKit

extension Cell {
    /// Waiting for branches (OpenSIPS's phony branch): its deadline, 0 when not waiting.
    var waiting: Bool { waitBranchesUntil > 0 }
    /// A branch of the current set still pending, or the wait: the set cannot complete yet.
    var setPending: Bool { waiting || currentSet.contains(where: { $0.finalCode == 0 }) }
}

extension TM {
    func tWaitForNewBranches(_ call: FunctionCall) -> Int32 {
        guard let cell = existingTxn(call.context)?.cell else {
            host.log(.err, "t_wait_for_new_branches: no transaction (call t_newtran, t_reply or t_relay first)")
            return -1
        }
        let limit = call.isPresent(0) ? Int(call.int(0)) : -1
        return table.withBucket(cell.hashIndex) { () -> Int32 in
            guard cell.isInvite, !cell.completed, !cell.wasCancelled else { return -1 }
            cell.waitBranchesUntil = nowMS() + cell.frInvTimeout
            cell.waitBranchesLeft = limit > 0 ? limit : -1
            // No longer an orphan: the wait has its own deadline.
            cell.orphanAt = 0
            reschedule(cell)
            return 1
        }
    }

    func tWaitNoMoreBranches(_ call: FunctionCall) -> Int32 {
        guard let cell = existingTxn(call.context)?.cell else { return -1 }
        table.withBucket(cell.hashIndex) {
            guard cell.waiting else { return }
            // In a reply or failure route the completion check that follows sees the wait ended, and in a branch
            // route the relay being built checks once its branches are out (the set is half made); in the request
            // route the set may be complete already (but a transaction that never sent a branch waits for the
            // script's relay).
            let tx = existingTxn(call.context)
            endWait(cell, completeNow: tx?.kind == .request && !cell.branches.isEmpty)
        }
        return 1
    }

    /// Stops waiting; with `completeNow`, a set whose branches all ended completes (bucket lock held).
    func endWait(_ cell: Cell, completeNow: Bool) {
        cell.waitBranchesUntil = 0
        cell.waitBranchesLeft = -1
        if !completeNow && cell.branches.isEmpty && !cell.completed {
            // Never relayed: an orphan again, released after fr_timeout if the script neither relays nor answers
            // (else nothing would ever free it).
            cell.orphanAt = nowMS() + max(cell.frTimeout, 1000)
            reschedule(cell)
        }
        guard completeNow, !cell.completed, !cell.setPending else { return }
        if cell.wasCancelled {
            // The wait ends like OpenSIPS's phony branch on a CANCEL: with its 487, which wins once cancelled.
            completeNegative(cell, parent: nil, faked: (487, "Request Terminated"))
        } else {
            // With no branch ever sent the wait itself timed out: OpenSIPS's phony branch ends with a 408.
            completeNegative(cell, parent: nil, faked: (408, "Request Timeout"))
        }
    }
}
