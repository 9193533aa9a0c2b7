import SwitchyardPluginKit

// What tm keeps per script context (OpenSIPS's per-process "current transaction" globals): the cell the message
// belongs to, routes armed before the cell exists, and the branch/reply a branch, reply or failure route runs for.

final class TxnContext {
    // Confined to the thread of the context that holds it (the core's per-context slot).
    /// The transaction of the message (kept alive while the context works on it; released with the slot).
    var cell: Cell?
    var onFailure: OpaquePointer?
    var onReply: OpaquePointer?
    var onBranch: OpaquePointer?
    /// t_write_* gave the cell its blind branch in this route: t_on_* called afterwards arm the cell directly.
    var armsCell = false
    var frTimeout: Int64?
    var frInvTimeout: Int64?
    /// -1 outside branch, reply and failure routes.
    var branchIndex = -1
    var replyCode = 0
    var replyReason = ""
    enum Kind { case request, branch, reply, failure }
    var kind = Kind.request
    var cancelReason: String?
    /// t_check_trans found the ACK's INVITE (our negative or local 2xx reply): t_relay then returns 1 (else 0).
    var ackMatched = false
    /// Route a branch route armed for its own branch only (t_on_reply in a branch route).
    var branchOnReply: OpaquePointer?
    /// What the branch route being run attached to its branch ($bavp, $tm.branch.flag/attr).
    var draft: BranchScript?
    /// q value and Path of the branch the branch route builds ($tm.branch.q/.path without an index).
    var draftAttrs = BranchAttrs()
    /// The branch whose final reply a failure route runs for (OpenSIPS's picked branch): `$(<reply>pv)`.
    var pickedBranch = -1
    /// That reply's bytes, copied on first `$(<reply>...)` read: they stay put until the context is released.
    var pickedReply: UnsafeMutableRawBufferPointer?

    /// A snapshot of the request route's own message for `$(<request>...)` there (see TM.storedRequest).
    var ownRequest: (snapshot: OpaquePointer, core: CoreLink)?

    deinit {
        pickedReply?.deallocate()
        if let r = ownRequest { r.core.snapshotFree(r.snapshot) }
    }

    static let release: @convention(c) (UnsafeMutableRawPointer?) -> Void = { p in
        guard let p else { return }
        Unmanaged<TxnContext>.fromOpaque(p).release()
    }
}

extension TM {
    /// The context's transaction state, made on first use.
    func txn(_ ctx: SYContext) -> TxnContext {
        if let p = core.slot(ctx) { return Unmanaged<TxnContext>.fromOpaque(p).takeUnretainedValue() }
        let t = TxnContext()
        core.setSlot(ctx, Unmanaged.passRetained(t).toOpaque(), release: TxnContext.release)
        return t
    }

    func existingTxn(_ ctx: SYContext) -> TxnContext? {
        core.slot(ctx).map { Unmanaged<TxnContext>.fromOpaque($0).takeUnretainedValue() }
    }
}
