// The pseudo-variable contexts `<request>` and `<reply>`: `$(<request>ru)`, `$(<reply>rs)`, `$(<reply>hdr(X))`...
import SwitchyardPluginKit

extension TMModule {
    func declarePVContexts(_ m: inout ModuleExportsBuilder) {
        // The transaction's stored request: any route that has the transaction (OpenSIPS: t->uas.request).
        m.pseudoVariableContext("request") { [self] ctx in
            guard let tm, let tx = tm.existingTxn(ctx), let c = tx.cell else { return .none }
            return tm.storedRequest(ctx, tx, c).map(PVContextMessage.request) ?? .none
        }
        // The winning stored reply of a failure route (OpenSIPS: t->uac[picked_branch].reply); none for a 408 made
        // here and outside a failure route.
        m.pseudoVariableContext("reply") { [self] ctx in
            guard let tm, let tx = tm.existingTxn(ctx) else { return .none }
            return tm.pickedReply(tx).map(PVContextMessage.message) ?? .none
        }
    }
}

extension TM {
    /// The request as received. Branch, reply and failure routes run with the cell's bucket lock held, so its
    /// snapshot stays put while the core reads it; the request route does not (the transaction may complete on
    /// another thread and free it), so there the context gets a snapshot of its own message, freed with it.
    func storedRequest(_ ctx: SYContext, _ tx: TxnContext, _ c: Cell) -> OpaquePointer? {
        if tx.kind != .request { return table.withBucket(c.hashIndex) { c.snapshot } }
        if let own = tx.ownRequest { return own.snapshot }
        guard let snap = core.snapshot(ctx) else { return nil }
        tx.ownRequest = (snap, core)
        return snap
    }

    /// The picked branch's reply, copied once into memory the context keeps until its run ends.
    func pickedReply(_ tx: TxnContext) -> UnsafeRawBufferPointer? {
        if let kept = tx.pickedReply { return UnsafeRawBufferPointer(kept) }
        guard let c = tx.cell, tx.pickedBranch >= 0 else { return nil }
        let bytes: [UInt8]? = table.withBucket(c.hashIndex) {
            guard tx.pickedBranch < c.branches.count else { return nil }
            let b = c.branches[tx.pickedBranch]
            return b.localFinal ? nil : b.receivedFinal ?? b.finalReply
        }
        guard let bytes, !bytes.isEmpty else { return nil }
        let kept = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        kept.copyBytes(from: bytes)
        tx.pickedReply = kept
        return UnsafeRawBufferPointer(kept)
    }
}
