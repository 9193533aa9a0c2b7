// Replies from downstream: matching to a branch, reply routes, the relay decision, best final reply, failure routes.
import SwitchyardABI
import SwitchyardPluginKit
import TMBranch

extension TM {
    /// The (hash, label, branch) our branch parameter carries (BranchParam), within the table's and a cell's bounds.
    @inline(__always)
    static func parseBranch(_ s: sy_str) -> (Int, UInt32, Int)? {
        guard let p = s.s,
              let (h, l, br) = BranchParam.parse(UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), s.len),
              h < TransactionTable.size, br < maxBranches else { return nil }
        return (Int(h), l, Int(br))
    }

    /// A reply from downstream. Returns 1 when it belongs to a transaction (handled here), 0 to relay it statelessly.
    func replyIn(_ ctx: SYContext, _ info: sy_sip_info) -> Int32 {
        guard let (h, label, bi) = TM.parseBranch(info.via_branch) else { return 0 }
        let code = Int(info.status)
        table.lock(h)
        defer { table.unlock(h) }
        guard let cell = table.bucket(h).first(where: { $0.label == label }), bi < cell.branches.count else { return 0 }
        let br = cell.branches[bi]
        // The reply to a CANCEL of ours on an INVITE branch; a CANCEL relayed on its own (no INVITE transaction
        // here) is a cell like any other and matches its replies by method below.
        if !cell.isCancel && CoreLink.equals(info.cseq_method, literal: "CANCEL") {
            guard cell.isInvite, br.cancel == .sent else { return 0 }
            stat(stats?.receivedReplies)
            br.cancelRetrAt = 0
            br.cancelAnswered = true
            return 1
        }
        guard cell.keys.equals(.method, info.cseq_method) else { return 0 }
        // Matched replies only (an unmatched one goes on statelessly).
        stat(stats?.receivedReplies)
        // A reply to a request of ours goes to the requester as received.
        let raw: [UInt8]? = cell.isLocal ? rawMessage(ctx) : nil
        fire(cell.callbacks, TMCB.responseIn, cell, code: code, ctx: ctx, reply: raw)
        // Any reply stops the retransmissions; a provisional one to a non-INVITE re-arms them at T2 below, unless the
        // reply route drops it (OpenSIPS).
        let retransmitting = br.retrAt > 0
        br.retrAt = 0
        if cell.isInvite && code >= 300 { sendAck(cell, br, toLine: host.sipHeader(ctx, "To")) }
        // Reply routes: the branch's, then the transaction's, for every matched reply (retransmissions and replies
        // after the final included), before the branch counts as answered (`t_local_replied("all")` there still
        // sees this branch silent). A provisional reply dropped there is forgotten: no fr_inv, no pending CANCEL,
        // the branch still unanswered (OpenSIPS).
        if br.onReply != nil || cell.onReply != nil {
            let tx = txn(ctx)
            tx.cell = cell
            tx.kind = .reply
            tx.branchIndex = bi
            tx.replyCode = code
            tx.replyReason = CoreLink.text(info.reason)
            _ = core.dropped(ctx)
            if let r = br.onReply { core.run(ctx, r) }
            // A provisional reply the branch's route dropped is gone: the transaction's route does not see it.
            if let r = cell.onReply, !(code < 200 && br.onReply != nil && core.dropped(ctx)) { core.run(ctx, r) }
            if code < 200 && core.dropped(ctx) { return 1 }
        }
        br.receivedAny = true
        // The CANCEL owed to a branch that had not answered goes out with its first provisional reply, whatever
        // the transaction's state (OpenSIPS's reply_received): a silent branch of an answered ring group, or one
        // that timed out before a failover, stops ringing. Its Reason is the one build_cancel adds itself: "call
        // completed elsewhere" once a 200 went upstream, none otherwise (the upstream CANCEL's is long reset).
        if code < 200 && cell.isInvite && (br.cancel == .pending || (cell.wasCancelled && br.cancel == .none && br.finalCode == 0)) {
            br.cancel = .none
            sendCancel(cell, br, reason: cell.uasStatus == 200 ? TM.completedElsewhere : "", owed: true)
        }
        if br.finalCode >= 200 && cell.isLocal {
            // A retransmitted 2xx of our INVITE gets our ACK again; nothing else is done with it.
            if cell.isInvite && (200..<300).contains(code), let raw { sendAck2xx(cell, br, reply: raw) }
            return 1
        }
        if br.finalCode >= 200 {
            // A retransmitted final: only 2xx of an INVITE go on (the ACK is end to end), and while the transaction
            // is still open only after a 2xx on this branch (a 2xx after this branch's 408 or 486 is discarded).
            if cell.isInvite && code < 300 && code >= 200 && !cell.replicated && (cell.completed || br.finalCode < 300),
               let bytes = core.buildRelayed(ctx) {
                core.send(cell.upstream, bytes)
                stat(stats?.relayedReplies)
            }
            return 1
        }
        if cell.completed {
            // After the final went upstream only further 2xx of an INVITE are relayed.
            if cell.isInvite && (200..<300).contains(code) && !cell.replicated, let bytes = core.buildRelayed(ctx) {
                br.finalCode = code
                br.frAt = 0
                core.send(cell.upstream, bytes)
                stat(stats?.relayedReplies)
            } else if code >= 200 {
                br.finalCode = code
                br.frAt = 0
            }
            reschedule(cell)
            return 1
        }
        br.lastCode = code
        if code < 200 {
            if !cell.isInvite && retransmitting {
                br.retrInterval = Int64(cfg.t2)
                br.retrAt = nowMS() + br.retrInterval
            }
            provisionalTimers(cell, br, code: code)
            if code > 100, !cell.isLocal, !cell.replicated, let bytes = core.buildRelayed(ctx) {
                core.send(cell.upstream, bytes)
                stat(stats?.relayedReplies)
                cell.lastReply = bytes
                cell.lastReplyLocal = false
                cell.uasStatus = code
            }
            reschedule(cell)
            return 1
        }
        br.frAt = 0
        br.finalCode = code
        br.finalReason = CoreLink.text(info.reason)
        br.finalReply = cell.isLocal ? raw : cell.replicated ? nil : core.buildRelayed(ctx)
        // The failure route's `$(<reply>..)` reads the reply as received (OpenSIPS: the branch's stored reply).
        if code >= 300, !cell.isLocal, cell.onFailure != nil { br.receivedFinal = rawMessage(ctx) }
        br.localFinal = false
        cell.lastCompletedBranch = bi
        if code < 300 && cell.isLocal {
            uacCompleted(cell, br, code: code, reason: br.finalReason, reply: raw, ctx: ctx)
            return 1
        }
        if code < 300 {
            if let bytes = br.finalReply {
                core.send(cell.upstream, bytes)
                stat(stats?.relayedReplies)
                cell.lastReply = bytes
            }
            cell.lastReplyLocal = false
            cell.uasStatus = code
            finalSent(cell, code: code, local: false)
            return 1
        }
        if code >= 600 && !cfg.disable6xxBlock {
            cell.noNewBranches = true
            endWait(cell, completeNow: false)
            for b in cell.branches where b.finalCode == 0 { sendCancel(cell, b, reason: "") }
        } else if cell.setPending {
            reschedule(cell)
            return 1
        }
        completeNegative(cell, parent: ctx)
        return 1
    }

    /// The message of a context as received (`$mb`).
    func rawMessage(_ ctx: SYContext) -> [UInt8]? {
        if case .string(let m)? = host.varGet(ctx, mbVar) { return Array(m.utf8) }
        return nil
    }

    static let completedElsewhere = "Reason: SIP ;cause=200 ;text=\"Call completed elsewhere\"\r\n"
    static let originatorCancel = "Reason: SIP;cause=487;text=\"ORIGINATOR_CANCEL\"\r\n"

    /// fr_inv replaces fr on an INVITE branch at a provisional reply (every one, or only a better one).
    func provisionalTimers(_ cell: Cell, _ br: Branch, code: Int) {
        guard cell.isInvite else { return }
        if cfg.restartFrOnEachReply || !br.frIsInv || code > br.lastCode {
            br.frAt = nowMS() + cell.frInvTimeout
            br.frIsInv = true
        }
    }

    /// OpenSIPS's branch priority: lower wins.
    static func priority(_ code: Int, cancelled: Bool) -> Int {
        if code == 487 && cancelled { return 0 }
        switch code {
        case 600..<700: return code - 300
        case 300..<400: return code + 100
        case 401: return 500
        case 407: return 501
        case 415: return 502
        case 420: return 503
        case 484: return 504
        case 408: return 800
        case 503: return 801
        default: return code + 200
        }
    }

    /// The branch whose final reply goes upstream: the best of the current set.
    func pick(_ cell: Cell) -> Branch? {
        var best: Branch? = nil
        var bestPrio = Int.max
        for b in cell.currentSet where b.finalCode >= 300 {
            let p = TM.priority(b.finalCode, cancelled: cell.wasCancelled)
            if p < bestPrio { best = b; bestPrio = p }
        }
        return best
    }

    /// Every branch of the current set ended negatively: the failure route may fork again or answer; else the
    /// best reply goes upstream. Bucket lock held. `faked`: the final of a wait for new branches (OpenSIPS's phony
    /// branch), which runs the failure route like any other: a 487 after a CANCEL wins over every branch, a 408
    /// stands in only when no branch ended.
    func completeNegative(_ cell: Cell, parent: SYContext?, faked: (code: Int, reason: String)? = nil) {
        var winner = pick(cell)
        if faked?.code == 487 { winner = nil }
        guard let code = winner?.finalCode ?? faked?.code else { return }
        // A received 503 or a silent timeout tries the destination's next address first (DNS failover, 7.4).
        if faked == nil, let w = winner {
            if w.failover != nil, dnsFailover(cell, w, parent: parent) { return }
            learnFailedBranch(cell, w)
        }
        fire(cell.callbacks, TMCB.onFailure, cell, code: code, ctx: nil)
        if let route = cell.onFailure, cell.snapshot != nil, !cell.isLocal {
            cell.onFailure = nil  // one-shot: re-armed with t_on_failure inside the route
            // The request with the request route's edits (not the failure route's of an earlier round).
            if let fctx = openStored(cell, kind: .failure, parent: parent) {
                let tx = txn(fctx)
                tx.cell = cell
                tx.kind = .failure
                tx.branchIndex = cell.lastCompletedBranch
                tx.pickedBranch = winner?.index ?? -1
                tx.replyCode = code
                if let winner { tx.replyReason = winner.localFinal ? "Request Timeout" : winner.finalReason }
                else { tx.replyReason = faked?.reason ?? "" }
                let before = cell.branches.count
                cell.inFailureRoute = true
                core.run(fctx, route)
                cell.inFailureRoute = false
                if cell.releaseAfterFailureRoute {
                    // A reply sent by the route ended the transaction: nothing is saved into a snapshot that goes.
                    cell.releaseAfterFailureRoute = false
                    core.close(fctx, saveTo: nil)
                    releaseStored(cell)
                } else {
                    core.close(fctx, saveTo: cell.snapshot)
                }
                if cell.completed { return }
                if cell.branches.count > before && cell.currentSet.contains(where: { $0.finalCode == 0 }) { return }
                if cell.branches.count > before, let w2 = pick(cell) {
                    relayFinal(cell, w2)  // the new branches failed at once
                    return
                }
            }
        }
        if let winner { relayFinal(cell, winner) } else if let faked {
            localReply(cell, ctx: nil, code: faked.code, reason: faked.reason, faked: true)
        }
    }

    /// Sends a branch's final reply upstream (a 408 built here for a timeout).
    func relayFinal(_ cell: Cell, _ b: Branch) {
        if cell.isLocal {
            uacCompleted(cell, b, code: b.finalCode, reason: b.finalReason, reply: b.finalReply, ctx: nil)
            return
        }
        if cell.replicated {
            cell.uasStatus = b.finalCode
            finalSent(cell, code: b.finalCode, local: false)
        } else if let bytes = b.finalReply {
            core.send(cell.upstream, bytes)
            stat(stats?.relayedReplies)
            cell.lastReply = bytes
            cell.lastReplyLocal = false
            cell.uasStatus = b.finalCode
            finalSent(cell, code: b.finalCode, local: false)
        } else {
            localReply(cell, ctx: nil, code: b.finalCode, reason: b.finalCode == 408 ? "Request Timeout" : b.finalReason,
                       faked: true)
        }
    }

    // MARK: timers

    /// A visit of the timer thread: retransmissions, final-response timeouts, the end of WAIT.
    func timerFired(_ cell: Cell, at: Int64) {
        table.lock(cell.hashIndex)
        defer { table.unlock(cell.hashIndex) }
        guard !cell.removed, cell.scheduledAt == at else { return }
        cell.scheduledAt = 0
        let now = nowMS()
        if cell.waitAt > 0 && cell.waitAt <= now {
            table.remove(cell)
            stat(stats?.inuse, -1)
            fire(cell.callbacks, TMCB.deleted, cell, code: cell.uasStatus, ctx: nil)
            cell.callbacks = []
            cell.branches = []
            cell.firstBranch = 0
            freeStoredRequest(cell)
            return
        }
        for b in cell.branches {
            if b.retrAt > 0 && b.retrAt <= now {
                core.send(b.target, b.request)
                b.retrCount += 1
                switch b.retrCount {
                case 1: stat(stats?.retrReqT1_1)
                case 2: stat(stats?.retrReqT1_2)
                case 3: stat(stats?.retrReqT1_3)
                default: stat(stats?.retrReqT2)
                }
                b.retrInterval = min(b.retrInterval * 2, Int64(cfg.t2))
                b.retrAt = now + b.retrInterval
            }
            if b.cancelRetrAt > 0 && b.cancelRetrAt <= now {
                core.send(b.target, b.cancelBytes)
                b.cancelInterval = min(b.cancelInterval * 2, Int64(cfg.t2))
                b.cancelRetrAt = now + b.cancelInterval
            }
        }
        if cell.replyRetrAt > 0 && cell.replyRetrAt <= now {
            core.send(cell.upstream, cell.lastReply)
            stat(stats?.retrRplT2)
            cell.replyInterval = min(cell.replyInterval * 2, Int64(cfg.t2))
            cell.replyRetrAt = now + cell.replyInterval
        }
        if cell.orphanAt > 0 && cell.orphanAt <= now {
            cell.orphanAt = 0
            // Created (t_newtran) but never relayed nor answered by the script: release it as OpenSIPS does at the
            // end of such a script, so it cannot stay in the table (and answer retransmissions) for ever.
            if cell.branches.isEmpty && !cell.completed && cell.waitAt == 0 {
                host.log(.warn, "transaction \(cell.id) (\(cell.method)) was neither relayed nor answered; released")
                goWait(cell)
            }
        }
        if cell.waitBranchesUntil > 0 && cell.waitBranchesUntil <= now {
            // fr_inv_timeout of the wait: the branches that ended decide, or a 408 made here.
            endWait(cell, completeNow: true)
        }
        if cell.replyFRAt > 0 && cell.replyFRAt <= now {
            cell.replyFRAt = 0
            cell.replyRetrAt = 0
            goWait(cell)
        }
        for b in cell.branches where b.frAt > 0 && b.frAt <= now && b.finalCode == 0 {
            timeout(cell, b)
        }
        if cell.waitAt > 0 && cell.waitAt <= now {
            // Reached during this visit: come back at once.
            cell.scheduledAt = 0
        }
        reschedule(cell)
    }

    /// No final reply on a branch in time: CANCEL it (at once if it rang, else owed until its first provisional
    /// reply, as OpenSIPS marks it to be cancelled), and fake a 408 on it.
    func timeout(_ cell: Cell, _ b: Branch) {
        b.retrAt = 0
        b.frAt = 0
        stat(b.frIsInv ? stats?.timeoutFRInv : stats?.timeoutFR)
        if cell.isInvite { sendCancel(cell, b, reason: "Reason: SIP;cause=480;text=\"NO_ANSWER\"\r\n") }
        b.finalCode = 408
        b.localFinal = true
        b.finalReply = nil
        b.receivedFinal = nil
        b.finalReason = "Request Timeout"
        cell.lastCompletedBranch = b.index
        if cell.completed { return }
        if cell.setPending { return }
        completeNegative(cell, parent: nil)
    }
}
