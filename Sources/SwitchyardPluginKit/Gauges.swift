// Statistics a module sets to a value from its timer (non-resettable: gauges for prometheus), registered on first use
// and never unregistered (the core has no unregister): drouting's gateways, dispatcher's destinations, freeswitch's
// boxes.
import Synchronization

public final class Gauges: Sendable {
    private let host: PluginHost
    private let stats = Mutex<[String: SYStat]>([:])

    public init(host: PluginHost) { self.host = host }

    /// Sets `name` to `value`, registering it first.
    public func set(_ name: String, _ value: Int64) {
        stats.withLock { write(&$0, name, value) }
    }

    /// One refresh round under the lock, so two rounds never mix: `body` sets gauges through its argument; with
    /// `zeroUnset`, a gauge of an earlier round that this round did not set drops to 0 (its object went away).
    public func round(zeroUnset: Bool = false, _ body: (_ set: (String, Int64) -> Void) -> Void) {
        stats.withLock { g in
            var seen = Set<String>()
            body { name, value in
                seen.insert(name)
                write(&g, name, value)
            }
            if zeroUnset { for name in g.keys where !seen.contains(name) { write(&g, name, 0) } }
        }
    }

    private func write(_ g: inout [String: SYStat], _ name: String, _ value: Int64) {
        let stat: SYStat
        if let s = g[name] {
            stat = s
        } else {
            guard let s = host.statRegister(name, flags: .noReset) else { return }
            g[name] = s
            stat = s
        }
        let delta = value - host.statGet(stat)
        if delta != 0 { host.statUpdate(stat, delta) }
    }
}
