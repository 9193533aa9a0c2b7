// Per-box figures as statistics (group "freeswitch"), refreshed every second, so get_statistics and the prometheus
// module show each FreeSWITCH box's connection state and heartbeat figures. Names are "<figure>@<host>_<port>"
// (a statistic name cannot hold ':'); prometheus' `labels` rule "freeswitch: /^(.*)@(.*)$/\1:box=\"\2\"/" turns the
// part after '@' into a label.
import SwitchyardPluginKit
import Synchronization

final class BoxMetrics: Sendable {
    private let host: PluginHost
    /// Registered when a box first shows up.
    private let gauges: Gauges
    private let timer = Mutex<SYTimer?>(nil)

    init(host: PluginHost) {
        self.host = host
        gauges = Gauges(host: host)
    }

    func start(boxes: @escaping @Sendable () -> [Box]) {
        let t = host.timerAdd("freeswitch-metrics", intervalMs: 1000) { [self] in refresh(boxes()) }
        if t == nil { host.log(.warn, "cannot start the per-box statistics timer: box figures are not published") }
        timer.withLock { $0 = t }
    }

    func stop() {
        if let t = timer.withLock({ t -> SYTimer? in defer { t = nil }; return t }) { host.timerRemove(t) }
    }

    func refresh(_ boxes: [Box]) {
        for b in boxes {
            let (st, phase) = b.state.withLock { ($0.stats, $0.phase) }
            let at = "@" + b.key.host.map { $0 == ":" ? "_" : $0 }.map(String.init).joined() + "_\(b.key.port)"
            gauges.set("connected" + at, phase == .connected ? 1 : 0)
            gauges.set("heartbeat_ms" + at, st.heartbeatMs)
            gauges.set("sessions" + at, st.sessions)
            gauges.set("max_sessions" + at, st.maxSessions)
            gauges.set("sessions_per_sec" + at, st.sessionsPerSec)
            gauges.set("idle_cpu_pct" + at, Int64(st.idleCPU.rounded()))
            // Counts that only grow, published as never-reset gauges (the statistics API has no non-resettable
            // counter; a reset counter would be set back to the module's total at the next refresh).
            gauges.set("replies_read_by_io" + at, b.repliesReadByIO.load(ordering: .relaxed))
            gauges.set("replies_read_by_caller" + at, b.repliesReadByCaller.load(ordering: .relaxed))
        }
    }
}
