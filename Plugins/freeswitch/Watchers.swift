// API 1.1: watches — a consumer (dispatcher's FreeSWITCH-driven weights) is told when a box comes up, goes down and
// sends a HEARTBEAT, with a copy of the box's figures. Callbacks run on the box's I/O thread, outside every lock of
// the box, and must be short (the header says so); the list of watches is copied under its own small lock.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

/// One watch (the C `sy_fs_watch`).
final class Watch: @unchecked Sendable { // immutable after init except the atomics
    let box: Box
    let cb: sy_fs_watch_fn
    let user: UnsafeMutableRawPointer?
    let dead = Atomic<Bool>(false)
    let running = Atomic<Int>(0)

    init(box: Box, cb: sy_fs_watch_fn, user: UnsafeMutableRawPointer?) {
        self.box = box
        self.cb = cb
        self.user = user
    }

    func call(_ kind: Int32, _ stats: sy_fs_stats) {
        running.wrappingAdd(1, ordering: .acquiringAndReleasing)
        defer { running.wrappingSubtract(1, ordering: .acquiringAndReleasing) }
        guard !dead.load(ordering: .acquiring) else { return }
        var s = stats
        cb(user, box.pointer, kind, &s)
    }
}

/// A box's watches and the last transition told (so DOWN is told once per loss, not once per failed reconnect).
final class BoxWatchers: Sendable {
    private let list = Mutex<[Watch]>([])
    private let lastKind = Atomic<Int32>(0)

    func add(_ w: Watch) { list.withLock { $0.append(w) } }

    func remove(_ w: Watch) {
        w.dead.store(true, ordering: .releasing)
        list.withLock { l in l.removeAll { $0 === w } }
        let end = nowMs() + 10_000
        while w.running.load(ordering: .acquiring) > 0 && nowMs() < end { usleep(500) }
    }

    /// Tells every watch of `box` that `kind` happened (the box's I/O thread).
    func notify(_ box: Box, _ kind: sy_fs_watch_kind) {
        let k = Int32(kind.rawValue)
        if kind != SY_FS_WATCH_HEARTBEAT {
            guard lastKind.exchange(k, ordering: .relaxed) != k else { return }
        }
        let ws = list.withLock { $0 }
        guard !ws.isEmpty else { return }
        let stats = box.cStats()
        for w in ws { w.call(k, stats) }
    }
}

extension Box {
    /// The box's figures in their C form.
    func cStats() -> sy_fs_stats {
        let (st, connected) = state.withLock { ($0.stats, $0.phase == .connected) }
        return sy_fs_stats(valid: st.valid ? 1 : 0, connected: connected ? 1 : 0, idle_cpu: st.idleCPU,
                           sessions: st.sessions, max_sessions: st.maxSessions, sessions_per_sec: st.sessionsPerSec,
                           heartbeat_ms: st.heartbeatMs, updated_ms: st.updatedWallMs)
    }
}

extension FSManager {
    /// Fills the 1.1 entries of the C table.
    static func installWatchAPI(_ t: UnsafeMutablePointer<sy_freeswitch_api>) {
        t.pointee.watch = { box, cb, user in
            guard let b = Box.from(box), let cb else { return nil }
            let w = Watch(box: b, cb: cb, user: user)
            b.watchers.add(w)
            if b.isConnected { w.call(Int32(SY_FS_WATCH_UP.rawValue), b.cStats()) }
            return OpaquePointer(Unmanaged.passRetained(w).toOpaque())
        }
        t.pointee.unwatch = { w in
            guard let w else { return }
            let watch = Unmanaged<Watch>.fromOpaque(UnsafeRawPointer(w)).takeRetainedValue()
            watch.box.watchers.remove(watch)
        }
        t.pointee.stats_interval_ms = {
            guard let m = theManager.instance else { return 1000 } // 1.1 entry, no handle: see theManager
            return UInt32(clamping: m.config.heartbeatIntervalS * 1000)
        }
    }
}
