// DNS failover (spec sections 7.1 and 7.4): a branch whose send fails, or that ends with a received 503 or a timeout
// with no reply at all, goes on to the next address of its destination name (the next A record of the SRV target, then
// the next SRV target, as the core's sip_build_request_at resolves them), unless t_relay("no-dns-failover") or the
// core's disable_dns_failover.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit

/// What a branch toward a name with further addresses keeps, to be sent again: the request as the script left it for
/// this branch (the core's saved message state: $ru, $du, header edits, forced socket, blacklists in use) and the
/// request-URI and destination the relay passed. Shared by the clones of one branch.
final class FailoverState {
    let saved: OpaquePointer
    let ruri: String
    let dst: String
    private let core: CoreLink

    init(saved: OpaquePointer, ruri: String, dst: String, core: CoreLink) {
        self.saved = saved
        self.ruri = ruri
        self.dst = dst
        self.core = core
    }

    deinit { core.msgFree(saved) }
}

extension TM {
    /// A branch's request toward the destination's addresses from number `from` on: (request, address number,
    /// addresses the destination has). On a core without DNS failover, the first address and a count of 1.
    func buildBranch(_ ctx: SYContext, ruri: String, dst: String, branch: sy_str, from: UInt32)
        -> Result<(Built, UInt32, UInt32), CoreLink.BuildFailure> {
        guard core.hasFailover else { return core.buildRequest(ctx, ruri: ruri, dst: dst, branch: branch).map { ($0, 0, 1) } }
        return core.buildRequest(ctx, ruri: ruri, dst: dst, branch: branch, from: from)
    }

    /// Sends a branch's request; a failed send moves on to the next address (built again with the same branch id).
    /// The request and address number that went out, or nil when none did, with `err` the reason: -6 a failed send,
    /// or the build's code for the next address (-5: blacklisted, so the caller answers 473 rather than 477).
    func sendBranch(_ ctx: SYContext, _ built: Built, _ index: UInt32, count: UInt32, ruri: String, dst: String,
                    cell: Cell, branch idx: Int, err: inout Int32) -> (Built, UInt32)? {
        var b = built, i = index
        err = -6
        while true {
            if core.send(b.target, b.bytes) { return (b, i) }
            guard !cell.noDNSFailover, i + 1 < count else {
                // The core learns the failed address into its `dns` list (disable_dns_blacklist = 0), as OpenSIPS
                // does for any failed send, the last address too.
                core.learnFailed(b.target)
                return nil
            }
            host.log(.info, "t_relay: sending branch \(idx) failed, trying the destination's next address")
            let next = TM.withBranchID(hash: cell.hashIndex, label: cell.label, branch: idx) { id in
                buildBranch(ctx, ruri: ruri, dst: dst, branch: id, from: i + 1)
            }
            switch next {
            case .success(let (nb, ni, _)): b = nb; i = ni
            case .failure(let e): err = e.code == -4 ? -6 : e.code; return nil
            }
        }
    }

    /// Keeps what a new branch needs for a later failover when its destination has further addresses.
    func keepFailoverState(_ ctx: SYContext, _ br: Branch, cell: Cell, used: UInt32, count: UInt32, ruri: String, dst: String) {
        guard used + 1 < count, !cell.noDNSFailover, !cell.isLocal, let saved = core.msgSave(ctx) else { return }
        br.failover = FailoverState(saved: saved, ruri: ruri, dst: dst, core: core)
    }

    /// Section 7.4: the picked final reply is a received 503 or a timeout with no reply on its branch, and the
    /// branch's destination has an untried address: the branch is cloned to it as a new branch of the current set,
    /// before any failure route. True when the clone went out. Bucket lock held.
    func dnsFailover(_ cell: Cell, _ winner: Branch, parent: SYContext?) -> Bool {
        guard let state = winner.failover else { return false }
        // Used once, whatever happens: a clone that ends the same way must not lead pick() back to this branch and
        // start the failover again at the same address.
        winner.failover = nil
        guard !cell.noDNSFailover, !cell.isLocal, !cell.wasCancelled, !cell.noNewBranches,
              let snap = cell.snapshot, cell.branches.count < maxBranches,
              (winner.finalCode == 503 && !winner.localFinal) || (winner.finalCode == 408 && winner.localFinal && !winner.receivedAny)
        else { return false }
        guard let fctx = core.open(snap, kind: .failure, parent: parent) else { return false }
        defer { core.close(fctx, saveTo: nil) }
        core.msgRestore(fctx, state.saved)
        let idx = cell.branches.count
        var sendErr: Int32 = 0
        let result = TM.withBranchID(hash: cell.hashIndex, label: cell.label, branch: idx) { id in
            buildBranch(fctx, ruri: state.ruri, dst: state.dst, branch: id, from: winner.addrIndex + 1)
        }
        guard case .success(let (built, used, count)) = result,
              let (sent, at) = sendBranch(fctx, built, used, count: count, ruri: state.ruri, dst: state.dst, cell: cell, branch: idx,
                                          err: &sendErr)
        else { return false }
        host.log(.info, "tm: branch \(winner.index) ended \(winner.finalCode), DNS failover to the next address as branch \(idx)")
        let br = Branch(index: idx, uri: winner.uri, dst: winner.dst, request: sent.bytes, target: sent.target)
        br.onReply = winner.onReply
        br.script = winner.script
        br.attrs = winner.attrs
        br.addrIndex = at
        if at + 1 < count { br.failover = state }
        let now = nowMS()
        if !br.reliable {
            br.retrInterval = Int64(cfg.t1)
            br.retrAt = now + br.retrInterval
        }
        br.frAt = now + cell.frTimeout
        cell.branches.append(br)
        reschedule(cell)
        return true
    }

    /// The picked branch ended with a received 503 or a silent timeout and no failover followed (no address left):
    /// the core learns the address it went to into its `dns` list (disable_dns_blacklist = 0), as OpenSIPS does for
    /// a single-address destination too; not with no-dns-failover, which skips OpenSIPS's whole failover step.
    /// Nothing is built or resolved (the timer thread may hold the bucket lock).
    func learnFailedBranch(_ cell: Cell, _ b: Branch) {
        guard !cell.noDNSFailover, !cell.isLocal,
              (b.finalCode == 503 && !b.localFinal) || (b.finalCode == 408 && b.localFinal && !b.receivedAny) else { return }
        core.learnFailed(b.target)
    }
}
