import Foundation
import CThreadStack
import Synchronization

/// Script contexts for events run on their producer's thread (EventBus.raiseHere): an I/O thread that read an event
/// runs its event_route itself when every worker sleeps, instead of waking one. Each producer thread has a context
/// of its own (its own rank, after the script and SIP workers' ranks, child_init run for it once on that thread the
/// first time it runs a route), so per-worker state in modules (keyed by rank, or by thread) is never shared or moved
/// between threads.
final class InlineRunners: Sendable {
    private struct Runner {
        /// nil: the thread's stack is smaller than a worker's, its events are always queued.
        let ctx: ScriptContext?
        var busy = false
    }
    /// A script worker's stack (WorkerPool): routes run only on threads with at least this much (deep scripts).
    static let minStack = 8 << 20
    private struct State {
        /// By producer thread (pthread_self). A thread that ends leaves its entry; a new thread given the same id
        /// takes it over, which is safe as the old one no longer runs.
        var byThread: [UInt: Runner] = [:]
        var nextRank = 0
        /// nil until the workers started, and again after a child_init failed (logged once): nothing runs inline.
        var childInit: (@Sendable (Int) -> Bool)? = nil
        /// Start times (`now`) of the inline runs going on, by thread.
        var running: [UInt: UInt64] = [:]
    }
    private let state = Mutex(State())
    private let engine: ScriptEngine
    private let log: CoreLog
    /// A run that took this long means the route is slow (a database call): it is queued from then on (until a run of
    /// it takes less), so the producer reads on and a slow route holds no later event of its source. Well above what
    /// a busy machine's scheduling adds to a quick route that waits for a box's reply (a few ms).
    static let slowNs: UInt64 = 10_000_000
    /// After an inline run that took slowNs or more nothing runs inline for this long (the scripts are slow now).
    static let coolNs: UInt64 = 1_000_000_000
    /// Until when (`now`) nothing runs inline.
    private let coolUntil = Atomic<UInt64>(0)
    private let epoch = ContinuousClock.now

    init(engine: ScriptEngine, log: CoreLog) {
        self.engine = engine
        self.log = log
    }

    /// Ranks from `firstRank` on; `childInit` runs once per new rank on the thread it belongs to. Until this is
    /// called (the workers have not started) nothing runs inline.
    func configure(firstRank: Int, childInit: @escaping @Sendable (Int) -> Bool) {
        state.withLock { $0.nextRank = firstRank; $0.childInit = childInit }
    }

    var now: UInt64 {
        let d = ContinuousClock.now - epoch
        return UInt64(d.components.seconds) * 1_000_000_000 + UInt64(d.components.attoseconds / 1_000_000_000)
    }

    /// Whether `route` may run inline now: not when its last run (on a worker or inline) took slowNs or more, nor
    /// while an inline run anywhere has been going for slowNs or more, nor for coolNs after a slow inline run.
    func allowed(_ route: RouteBox) -> Bool {
        let t = now
        guard route.lastRunNs.load(ordering: .relaxed) < Self.slowNs, coolUntil.load(ordering: .relaxed) <= t else {
            return false
        }
        return state.withLock { s in !s.running.values.contains { t &- $0 >= Self.slowNs } }
    }

    /// Runs `event` on the calling thread with the thread's own context; false (nothing run) when not configured,
    /// after a child_init failed, or when the thread's context is already in use (an event raised from its route).
    /// The calling thread's stack size (0 if unknown).
    static func stackSize() -> Int { Int(cthread_stack_size()) }

    /// `starting` is called just before the route starts (counted then, so a route still running shows).
    func run(_ route: RouteBox, _ event: ScriptEvent, starting: () -> Void) -> Bool {
        let me = UInt(pthread_self())
        let t0 = now
        let (ctx, initRank) = state.withLock { s -> (ScriptContext?, (Int, @Sendable (Int) -> Bool)?) in
            guard let ci = s.childInit else { return (nil, nil) }
            var initRank: (Int, @Sendable (Int) -> Bool)? = nil
            if s.byThread[me] == nil {
                guard Self.stackSize() >= Self.minStack else {
                    s.byThread[me] = Runner(ctx: nil)
                    return (nil, nil)
                }
                let rank = s.nextRank
                s.nextRank += 1
                s.byThread[me] = Runner(ctx: engine.makeContext(worker: engine.makeWorkerState(rank: rank), routeType: .event))
                initRank = (rank, ci)
            }
            guard var r = s.byThread[me], r.ctx != nil, !r.busy else { return (nil, nil) }
            r.busy = true
            s.byThread[me] = r
            s.running[me] = t0
            return (r.ctx, initRank)
        }
        guard let ctx else { return false }
        if let (rank, childInit) = initRank, !childInit(rank) {
            // Not retried: each try would take a new rank and run every module's child_init on this thread again.
            state.withLock { s in
                s.childInit = nil
                s.byThread[me] = nil
                s.running[me] = nil
            }
            log.error("a module failed to initialise rank \(rank) for events run on their producer's thread (child_init): events are queued for the workers from now on")
            return false
        }
        starting()
        event.run(route, ctx, engine)
        let t1 = now
        if t1 &- t0 >= Self.slowNs { coolUntil.store(t1 + Self.coolNs, ordering: .relaxed) }
        state.withLock { s in
            s.byThread[me]?.busy = false
            s.running[me] = nil
        }
        return true
    }
}
