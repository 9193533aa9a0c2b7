// The transaction's stored request as the request route left it (spec sections 4.3 and 7.2): the header and body edits
// the request route made before t_relay (record_route(), Max-Forwards, append_hf, remove_hf, ...) go with every later
// branch of the transaction — those a failure route sends, those t_inject_branches adds from a reply route — as
// OpenSIPS saves the request route's lumps into the transaction's request at its first t_relay. The per-branch values
// are not kept: a failure route starts with $ru as received, no $du, no forced socket, no q.
import SwitchyardABI
import SwitchyardPluginKit

/// The variables reset on the stored request (parsed once at startup).
struct StoredRequestVars {
    let fs: SYVar
    let ruQ: SYVar

    init(host: PluginHost) throws(PluginError) {
        fs = try host.varParse("$fs")
        ruQ = try host.varParse("$ru_q")
    }
}

extension TM {
    /// Keeps what the request route changed on its request, at its first relay (OpenSIPS save_msg_lumps, done once
    /// and only from the request route: a failure route's edits stay with that route). The context holds the cell's
    /// own request. Bucket lock held.
    func keepRequestState(_ ctx: SYContext, _ cell: Cell) {
        guard cell.requestState == nil, !cell.isLocal else { return }
        cell.requestState = core.msgSave(ctx)
    }

    /// A context of route kind `kind` on the cell's stored request: the request as received with the request
    /// route's edits, per-branch values reset. Nil without a stored request. Bucket lock held.
    func openStored(_ cell: Cell, kind: RouteMask, parent: SYContext?) -> SYContext? {
        guard let snap = cell.snapshot, let ctx = core.open(snap, kind: kind, parent: parent) else { return nil }
        guard let state = cell.requestState else { return ctx }
        // The request-URI as received, read before the saved state (which holds the request route's $ru) goes on.
        let received = host.varGet(ctx, ruVar)
        core.msgRestore(ctx, state)
        if let received, host.varGet(ctx, ruVar) != received { _ = host.varSet(ctx, ruVar, received) }
        if let d = host.varGet(ctx, duVar), d != .null { _ = host.varSet(ctx, duVar, .null) }
        if let s = host.varGet(ctx, storedVars.fs), s != .null { _ = host.varSet(ctx, storedVars.fs, .null) }
        if case .int(let q)? = host.varGet(ctx, storedVars.ruQ), q != -1 { _ = host.varSet(ctx, storedVars.ruQ, .null) }
        return ctx
    }

    /// Frees the stored request (snapshot and the request route's edits). Bucket lock held.
    func freeStoredRequest(_ cell: Cell) {
        if let s = cell.snapshot { core.snapshotFree(s); cell.snapshot = nil }
        if let m = cell.requestState { core.msgFree(m); cell.requestState = nil }
    }
}
