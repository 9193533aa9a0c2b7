// Per-box figures as statistics (group "freeswitch"), refreshed every second, so get_statistics and the prometheus
// module show each FreeSWITCH box's connection state and heartbeat figures. Names are "<figure>@<host>_<port>"
// (a statistic name cannot hold ':'); prometheus' `labels` rule "freeswitch: /^(.*)@(.*)$/\1:box=\"\2\"/" turns the
// part after '@' into a label.
import SwitchyardPluginKit
import Synchronization

final class BoxMetrics: Sendable {
    private let host: PluginHost
    /// Gauges by statistic name, registered when a box first shows up (never removed: the core has no unregister).
    private let gauges = Mutex<[String: SYStat]>([:])
    private let timer = Mutex<SYTimer?>(nil)

    init(host: PluginHost) { self.host = host }

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
            set("connected" + at, phase == .connected ? 1 : 0)
            set("heartbeat_ms" + at, st.heartbeatMs)
            set("sessions" + at, st.sessions)
            set("max_sessions" + at, st.maxSessions)
            set("sessions_per_sec" + at, st.sessionsPerSec)
            set("idle_cpu_pct" + at, Int64(st.idleCPU.rounded()))
        }
    }

    /// Sets a non-resettable counter (a gauge for prometheus) to `value`; only this timer thread writes them.
    private func set(_ name: String, _ value: Int64) {
        let stat = gauges.withLock { g -> SYStat? in
            if let s = g[name] { return s }
            let s = host.statRegister(name, flags: .noReset)
            g[name] = s
            return s
        }
        guard let stat else { return }
        let delta = value - host.statGet(stat)
        if delta != 0 { host.statUpdate(stat, delta) }
    }
}
