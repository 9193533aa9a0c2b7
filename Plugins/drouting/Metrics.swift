// Gateway states as statistics (group "drouting"), refreshed every second, so get_statistics and the prometheus
// module show them: "gw_active@<gwid>" (1 active, 0 inactive, probing or disabled), and the totals
// "gateways_active" / "gateways_inactive". prometheus' `labels` rule "drouting: /^(.*)@(.*)$/\1:gwid=\"\2\"/"
// turns the id into a label.
import SwitchyardPluginKit
import Synchronization

final class GatewayMetrics: Sendable {
    private let host: PluginHost
    /// Registered when a gateway first shows up; a gateway removed by a reload keeps its last value.
    private let gauges: Gauges
    private let timer = Mutex<SYTimer?>(nil)

    init(host: PluginHost) {
        self.host = host
        gauges = Gauges(host: host)
    }

    func start(snapshot: @escaping @Sendable () -> Snapshot) {
        let t = host.timerAdd("drouting-metrics", intervalMs: 1000) { [self] in refresh(snapshot()) }
        if t == nil { host.log(.warn, "cannot start the gateway statistics timer: gateway states are not published") }
        timer.withLock { $0 = t }
        refresh(snapshot())
    }

    func stop() {
        if let t = timer.withLock({ t -> SYTimer? in defer { t = nil }; return t }) { host.timerRemove(t) }
    }

    func refresh(_ snap: Snapshot) {
        var active: Int64 = 0
        for gw in snap.gateways {
            let on = !gw.state.isDisabled
            if on { active += 1 }
            gauges.set("gw_active@" + gw.id.map { $0 == ":" ? "_" : $0 }.map(String.init).joined(), on ? 1 : 0)
        }
        gauges.set("gateways_active", active)
        gauges.set("gateways_inactive", Int64(snap.gateways.count) - active)
    }
}
