// persistent_state: every 30 s, gateways and carriers whose state changed (MI, probing, dr_disable) get
// it written back to dr_gateways.state (0 active, 1 disabled by MI, 2 inactive/probing) and dr_carriers.state (0/1),
// so a restart starts from the state the operator left. Also flushed when the module stops. A failed write is logged
// and retried on the next round (the entry stays dirty); routing never waits for it (its own queue).
import Dispatch
import SwitchyardPluginKit

extension DroutingModule {
    static let stateFlushMs: UInt32 = 30_000

    func startStateFlusher(_ cfg: DRConfig) throws {
        guard cfg.persistentState else { return }
        guard let t = host.timerAdd("drouting-state", intervalMs: Self.stateFlushMs, { [self] in
            probeQueue.async { [self] in flushState() }
        }) else {
            throw PluginError("cannot register the state write-back timer")
        }
        stateTimer.withLock { $0 = t }
    }

    func stopStateFlusher() {
        if let t = stateTimer.withLock({ t -> SYTimer? in defer { t = nil }; return t }) { host.timerRemove(t) }
        probeQueue.sync { _ = flushState() }
    }

    /// DB state of a gateway.
    static func dbState(gateway bits: UInt8) -> Int64 {
        if bits & StateCell.disabled == 0 { return 0 }
        return bits & StateCell.byMI != 0 ? 1 : 2
    }

    /// Writes every dirty entry of the current snapshot; returns how many rows were written.
    @discardableResult
    func flushState() -> Int {
        let (rtOpt, snap) = current
        guard let rt = rtOpt, rt.cfg.persistentState, let db = rt.db else { return 0 }
        var written = 0
        func write(_ table: String, _ idCol: String, _ id: String, _ cell: StateCell, _ state: Int64) {
            do {
                _ = try db.update(table, set: [("state", .int(state))], where: [(idCol, .text(id))])
                written += 1
            } catch {
                cell.dirty.store(true, ordering: .relaxed) // retried next round
                host.log(.err, "cannot write the state of \(id) back to \(table): \(error)")
            }
        }
        for gw in snap.gateways where gw.state.dirty.exchange(false, ordering: .acquiring) {
            write(rt.cfg.drdTable, "gwid", gw.id, gw.state, Self.dbState(gateway: gw.state.bits.load(ordering: .relaxed)))
        }
        for cr in snap.carriers where cr.state.dirty.exchange(false, ordering: .acquiring) {
            write(rt.cfg.drcTable, "carrierid", cr.id, cr.state, cr.state.isDisabled ? 1 : 0)
        }
        if written > 0 { host.log(.dbg, "wrote the state of \(written) gateways/carriers back to the database") }
        return written
    }
}
