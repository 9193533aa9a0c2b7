// Destination states (active / inactive / probing), E_DISPATCHER_STATUS and persistent_state.
//   i: INACTIVE set, PROBING cleared — out for good until MI, the script or a reload bring it back;
//   a: both cleared;
//   p: on an inactive destination ignored; else counts a failure and at ds_probing_threshold sets PROBING. From
//      ds_mark_dst and MI, INACTIVE is cleared after it (OpenSIPS's two calls): an inactive destination turns active.
// A real change marks the destination dirty: the ds-flusher timer (30 s) and shutdown write `state` back.
import DispatcherSelection
import SwitchyardPluginKit

extension DispatcherModule {
    /// Applies a state, as OpenSIPS's _ds_set_state. A `p` on an inactive destination is ignored (no failure
    /// counted); otherwise it counts one failure (`thresholded`) and sets PROBING at the ds_probing_threshold-th.
    /// `clearInactive` (ds_mark_dst and MI `p`, which OpenSIPS follow with a clear of INACTIVE) then clears INACTIVE,
    /// so an inactive destination marked `p` becomes active. Returns true when the flags changed.
    @discardableResult
    func changeState(_ d: Destination, part: Partition, to state: DSState, reason: String, thresholded: Bool,
                     clearInactive: Bool = false) -> Bool {
        let threshold = Int(rt?.cfg.probingThreshold ?? 3)
        let old = d.flags.load(ordering: .relaxed)
        if state == .active && reason.contains("probing") { d.failures.store(0, ordering: .relaxed) }
        // The probing step counts only for a destination that is not inactive; below the threshold it changes nothing.
        var probingReached = false
        if state == .probing {
            if old & DSFlag.inactive != 0 {
                host.log(.info, "set \(d.setID) <\(DestURI.redacted(d.uri))>: not set to probing, it is inactive (\(reason))")
            } else if thresholded {
                let n = d.failures.add(1, ordering: .relaxed).newValue
                if n > threshold { d.failures.store(threshold, ordering: .relaxed) }
                probingReached = n >= threshold
            } else {
                probingReached = true
            }
        }
        func target(_ f: UInt8) -> UInt8 {
            switch state {
            case .inactive: return (f | DSFlag.inactive) & ~DSFlag.probing
            case .active: return f & ~(DSFlag.inactive | DSFlag.probing)
            case .probing:
                var n = f
                if probingReached && f & DSFlag.inactive == 0 { n |= DSFlag.probing }
                if clearInactive { n &= ~DSFlag.inactive }
                return n
            }
        }
        // Compare-and-swap: a concurrent change wins; ours is then redone on its result.
        var cur = old
        var new = target(cur)
        guard new != cur else { return false }
        while true {
            let (done, seen) = d.flags.compareExchange(expected: cur, desired: new, ordering: .relaxed)
            if done { break }
            cur = seen
            new = target(cur)
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
