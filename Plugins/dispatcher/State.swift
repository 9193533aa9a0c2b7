// Destination states (active / inactive / probing), E_DISPATCHER_STATUS and persistent_state.
//   i: INACTIVE set, PROBING cleared — out for good until MI, the script or a reload bring it back;
//   a: both cleared;
//   p: counts a failure; at ds_probing_threshold PROBING is set (and INACTIVE cleared).
// A real change marks the destination dirty: the ds-flusher timer (30 s) and shutdown write `state` back.
import DispatcherSelection
import SwitchyardPluginKit

extension DispatcherModule {
    /// Applies a state; `thresholded`: a `p` only counts a failure until ds_probing_threshold is reached.
    /// Returns true when the flags changed.
    @discardableResult
    func changeState(_ d: Destination, part: Partition, to state: DSState, reason: String, thresholded: Bool) -> Bool {
        let threshold = Int(rt?.cfg.probingThreshold ?? 3)
        var old: UInt8 = 0, new: UInt8 = 0
        switch state {
        case .inactive:
            old = d.flags.load(ordering: .relaxed)
            new = (old | DSFlag.inactive) & ~DSFlag.probing
        case .active:
            old = d.flags.load(ordering: .relaxed)
            new = old & ~(DSFlag.inactive | DSFlag.probing)
            if reason.contains("probing") { d.failures.store(0, ordering: .relaxed) }
        case .probing:
            let n = d.failures.add(1, ordering: .relaxed).newValue
            old = d.flags.load(ordering: .relaxed)
            if thresholded && n < threshold { return false }
            new = (old | DSFlag.probing) & ~DSFlag.inactive
        }
        guard old != new else { return false }
        // Compare-and-swap: a concurrent change wins; ours is then redone on its result.
        var cur = old
        while true {
            let (done, seen) = d.flags.compareExchange(expected: cur, desired: new, ordering: .relaxed)
            if done { break }
            cur = seen
            switch state {
            case .inactive: new = (cur | DSFlag.inactive) & ~DSFlag.probing
            case .active: new = cur & ~(DSFlag.inactive | DSFlag.probing)
            case .probing: new = (cur | DSFlag.probing) & ~DSFlag.inactive
            }
            if cur == new { return false }
        }
        d.dirty.store(true, ordering: .relaxed)
        // Status "inactive" when a bit was set (probing included), "active" when cleared.
        let status = new & ~cur != 0 ? "inactive" : "active"
        host.log(.notice, "set \(d.setID) <\(DestURI.redacted(d.uri))> is now \(d.stateName.lowercased()) (\(reason))")
        var params: [(String, SYValue)] = []
        if !part.isDefault { params.append(("partition", .string(part.cfg.name))) }
        params += [("group", .int(Int64(d.setID))), ("address", .string(d.uri)), ("status", .string(status)),
                   ("reason", .string(reason))]
        host.raiseEvent(Self.event, params)
        return true
    }

    /// Writes every dirty destination's state back to its table (persistent partitions). Returns rows written.
    @discardableResult
    func flushState() -> Int {
        guard let rt else { return 0 }
        var written = 0
        for p in rt.parts where p.persistent {
            for set in p.data.sets {
                for d in set.dests where d.dirty.exchange(false, ordering: .acquiring) {
                    do {
                        _ = try p.db.update(p.cfg.table, set: [(rt.cfg.cols.state, .int(d.dbState))],
                                            where: [(rt.cfg.cols.setid, .int(Int64(d.setID))), (rt.cfg.cols.destination, .text(d.uri))])
                        written += 1
                    } catch {
                        d.dirty.store(true, ordering: .relaxed) // retried next round
                        host.log(.err, "cannot write the state of set \(d.setID) <\(DestURI.redacted(d.uri))> back to \(p.cfg.table): \(error)")
                    }
                }
            }
        }
        return written
    }
}
