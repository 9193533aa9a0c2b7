// Destination states as statistics (group "dispatcher"), refreshed every second, so get_statistics and the prometheus
// module show them. Per destination (id `<set>_<uri>`, `<partition>@<set>_<uri>` outside the default partition):
//   dst_active@<id>  1 active, 0 inactive or probing
//   dst_state@<id>   0 active, 1 inactive, 2 probing (the `state` column's values)
//   dst_weight@<id>  the current weight, for FreeSWITCH-driven destinations only
// Per set (`<set>` or `<partition>@<set>`): set_active@, set_inactive@, set_probing@ (destination counts).
// Module totals: destinations_active, destinations_inactive, destinations_probing.
// The URI in an id has its "sip:" scheme and any password dropped, and every character outside [A-Za-z0-9.-] made
// "_" (no ':' in a statistic name, no '@' that would blur the id's parts, no secret in a metric).
import DispatcherSelection
import SwitchyardPluginKit
import Synchronization

final class DestinationMetrics: Sendable {
    private let host: PluginHost
    /// Registered when first needed. A per-destination or per-set gauge whose destination or set a reload removed
    /// drops to 0.
    private let gauges: Gauges

    init(host: PluginHost) {
        self.host = host
        gauges = Gauges(host: host)
    }

    /// Recomputes every gauge; the whole round runs under the lock, so the timer and a refresh at init never mix.
    func refresh(_ parts: [Partition]) {
        gauges.round(zeroUnset: true) { set in
            var totals = (active: Int64(0), inactive: Int64(0), probing: Int64(0))
            for p in parts {
                let prefix = p.isDefault ? "" : Self.safe(p.cfg.name) + "@"
                for s in p.data.sets {
                    var counts = (active: Int64(0), inactive: Int64(0), probing: Int64(0))
                    for d in s.dests {
                        let id = prefix + "\(s.id)_" + Self.safe(uri: d.uri)
                        let state = d.dbState
                        switch state {
                        case 0: counts.active += 1
                        case 1: counts.inactive += 1
                        default: counts.probing += 1
                        }
                        set("dst_active@" + id, state == 0 ? 1 : 0)
                        set("dst_state@" + id, state)
                        if d.fs != nil { set("dst_weight@" + id, Int64(d.weight.load(ordering: .relaxed))) }
                    }
                    let sid = prefix + "\(s.id)"
                    set("set_active@" + sid, counts.active)
                    set("set_inactive@" + sid, counts.inactive)
                    set("set_probing@" + sid, counts.probing)
                    totals.active += counts.active
                    totals.inactive += counts.inactive
                    totals.probing += counts.probing
                }
            }
            set("destinations_active", totals.active)
            set("destinations_inactive", totals.inactive)
            set("destinations_probing", totals.probing)
        }
    }

    /// A destination URI as it appears in a statistic name.
    static func safe(uri: String) -> String {
        var rest = Substring(uri)
        if rest.lowercased().hasPrefix("sip:") { rest = rest.dropFirst(4) }
        if let at = rest.lastIndex(of: "@") {
            let user = rest[..<at].split(separator: ":", maxSplits: 1).first ?? ""
            rest = Substring(String(user) + "@" + String(rest[rest.index(after: at)...]))
        }
        return safe(String(rest))
    }

    static func safe(_ s: String) -> String {
        String(s.map { c -> Character in
            c.isASCII && (c.isLetter || c.isNumber || c == "." || c == "-") ? c : "_"
        })
    }
}

extension DispatcherModule {
    /// The ds-metrics timer (every second), refreshed once at once; nil (and a warning) when the core refuses it.
    func startMetrics(_ rt: Runtime) -> SYTimer? {
        metrics.refresh(rt.parts)
        let t = host.timerAdd("ds-metrics", intervalMs: 1000) { [self] in
            if let rt = self.rt { metrics.refresh(rt.parts) }
        }
        if t == nil { host.log(.warn, "cannot start the destination statistics timer: destination states are not published") }
        return t
    }
}
