// The pseudo-variable contexts `<request>` and `<reply>`: `$(<request>ru)`, `$(<reply>rs)`, `$(<reply>hdr(X))`...
import SwitchyardPluginKit

extension TMModule {
    func declarePVContexts(_ m: inout ModuleExportsBuilder) {
        // The transaction's stored request: any route that has the transaction (OpenSIPS: t->uas.request).
        m.pseudoVariableContext("request") { [self] ctx in
            guard let tm, let c = tm.existingTxn(ctx)?.cell else { return .none }
            return tm.table.withBucket(c.hashIndex) { c.snapshot.map(PVContextMessage.request) ?? .none }
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
    /// The picked branch's reply, copied once into memory the context keeps until its run ends.
    func pickedReply(_ tx: TxnContext) -> UnsafeRawBufferPointer? {
        if let kept = tx.pickedReply { return UnsafeRawBufferPointer(kept) }
        guard let c = tx.cell, tx.pickedBranch >= 0 else { return nil }
        let bytes: [UInt8]? = table.withBucket(c.hashIndex) {
            guard tx.pickedBranch < c.branches.count else { return nil }
            let b = c.branches[tx.pickedBranch]
            return b.localFinal ? nil : b.finalReply
        }
        guard let bytes, !bytes.isEmpty else { return nil }
        let kept = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        kept.copyBytes(from: bytes)
        tx.pickedReply = kept
        return UnsafeRawBufferPointer(kept)
    }
}
