import Synchronization

/// Script contexts for events run on their producer's thread (EventBus.raiseHere): an I/O thread that read an event
/// runs its event_route itself when every worker sleeps, instead of waking one. Each context is a worker of its
/// own (its own rank, after the script and SIP workers, child_init run for it once), lent to one thread per run, so
/// per-worker state in modules (keyed by rank) is never shared by two threads at once.
final class InlineRunners: Sendable {
    private struct State {
        var free: [ScriptContext] = []
        var nextRank = 0
        var childInit: (@Sendable (Int) -> Bool)? = nil
    }
    private let state = Mutex(State())
    private let engine: ScriptEngine
    /// An inline run that took this long means the scripts are slow now (a database call): for `coolNs` events are
    /// queued, so the producer reads on and a slow script holds no later event of its source. Well above what a
    /// busy machine's scheduling adds to a quick route that waits for a box's reply (a few ms).
    static let slowNs: UInt64 = 10_000_000
    static let coolNs: UInt64 = 1_000_000_000
    /// Until when (ContinuousClock nanoseconds since `epoch`) nothing runs inline.
    private let coolUntil = Atomic<UInt64>(0)
    private let epoch = ContinuousClock.now

    init(engine: ScriptEngine) { self.engine = engine }

    /// Ranks from `firstRank` on; `childInit` runs once per new rank on the thread that first uses it. Until this
    /// is called (the workers have not started) nothing runs inline.
    func configure(firstRank: Int, childInit: @escaping @Sendable (Int) -> Bool) {
        state.withLock { $0.nextRank = firstRank; $0.childInit = childInit }
    }

    var now: UInt64 {
        let d = ContinuousClock.now - epoch
        return UInt64(d.components.seconds) * 1_000_000_000 + UInt64(d.components.attoseconds / 1_000_000_000)
    }

    /// False while slow inline runs were seen lately.
    var allowed: Bool { coolUntil.load(ordering: .relaxed) <= now }

    /// Runs `event` on the calling thread with a context nobody else uses meanwhile; false (nothing run) when not
    /// configured or child_init failed for a new rank.
    func run(_ route: RouteBox, _ event: ScriptEvent) -> Bool {
        let (ctx, initRank) = state.withLock { s -> (ScriptContext?, (Int, @Sendable (Int) -> Bool)?) in
            if let c = s.free.popLast() { return (c, nil) }
            guard let ci = s.childInit else { return (nil, nil) }
            let rank = s.nextRank
            s.nextRank += 1
            return (engine.makeContext(worker: engine.makeWorkerState(rank: rank), routeType: .event), (rank, ci))
        }
        guard let ctx else { return false }
        if let (rank, childInit) = initRank, !childInit(rank) { return false } // logged by the module; this rank is not reused
        let t0 = now
        event.run(route, ctx, engine)
        let t1 = now
        if t1 - t0 >= Self.slowNs { coolUntil.store(t1 + Self.coolNs, ordering: .relaxed) }
        state.withLock { $0.free.append(ctx) }
        return true
    }
}
