// FreeSWITCH-driven weights (fetch_freeswitch_stats). A destination whose weight column is fs://[user]:pw@host[:port]
// holds a reference to that box in the freeswitch module (the one shared connection; FSBinder in Loader.swift). Every
// stats interval (the freeswitch module's event_heartbeat_interval, 1 s by default) the weights of every set with
// such destinations are recomputed from the latest HEARTBEAT figures, as OpenSIPS's ds-update-weights timer does:
//   weight = round(max_freeswitch_weight × (1 − Session-Count / Max-Sessions) × Idle-CPU / 100)
// Before the first HEARTBEAT the weight stays at max_freeswitch_weight. When the box is lost, the weight keeps its last
// value (OpenSIPS) unless freeswitch_lost_weight says otherwise (e.g. 0: send it nothing until it is back).
import SwitchyardABI
import DispatcherSelection
import SwitchyardPluginKit

/// The freeswitch module's watch callback for a destination's box (its I/O thread; short, never blocks).
let fsWatchCallback: sy_fs_watch_fn = { user, _, kind, _ in
    guard let user else { return }
    let ref = Unmanaged<FSRef>.fromOpaque(user).takeUnretainedValue()
    switch kind {
    case Int32(SY_FS_WATCH_UP.rawValue):
        if ref.link.exchange(1, ordering: .relaxed) == 2 { ref.host.log(.notice, "FreeSWITCH box \(ref.label) is back") }
    case Int32(SY_FS_WATCH_DOWN.rawValue):
        if ref.link.exchange(2, ordering: .relaxed) != 2 { ref.host.log(.warn, "FreeSWITCH box \(ref.label) lost") }
    default:
        break
    }
}

extension DispatcherModule {
    /// One ds-update-weights round: every set with FreeSWITCH destinations, every partition.
    func updateWeights() {
        guard let rt else { return }
        let maxW = Int(rt.cfg.maxFreeswitchWeight)
        let lost = Int(rt.cfg.freeswitchLostWeight)
        for p in rt.parts {
            for set in p.data.sets where set.hasFS {
                for d in set.dests {
                    guard let ref = d.fs else { continue }
                    let s = ref.stats()
                    let new: Int
                    if s.valid != 0 {
                        new = DSWeight.freeswitch(max: maxW, idleCPU: s.idle_cpu, sessions: s.sessions, maxSessions: s.max_sessions)
                    } else if s.connected == 0 && lost >= 0 && ref.link.load(ordering: .relaxed) == 2 {
                        new = lost
                    } else {
                        continue // before the first heartbeat: max_freeswitch_weight; lost: the last weight
                    }
                    let old = d.weight.exchange(new, ordering: .relaxed)
                    if old != new {
                        host.log(.dbg, "set \(set.id) <\(DestURI.redacted(d.uri))>: weight \(old) -> \(new) (\(ref.label): idle \(s.idle_cpu)%, \(s.sessions)/\(s.max_sessions) sessions)")
                    }
                }
            }
        }
    }
}
