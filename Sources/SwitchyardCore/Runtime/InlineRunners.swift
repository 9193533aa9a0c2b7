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
    /// A slow route (a database call, heavy work) is queued from then on, until its runs are quick again, so the
    /// producer reads on and a slow route holds no later event of its source. Runs are timed by the wall clock only
    /// (a monotonic clock read costs no system call; the thread's CPU clock costs one per read, two per event on a
    /// path of five). A run is long when it took slowNs or more; the route is slow (verdict) after
    /// - one run of blockedNs or more: it waited that long (a database, a box's reply), a bar preemption alone does
    ///   not reach;
    /// - two long runs among its last four: a route that waits or works that long does so again soon, quick runs in
    ///   between or not (a database call on every other event), while preemption on a busy machine strikes one run
    ///   now and then. It is quick again once three runs in a row were quick.
    /// One wall-clock rule at slowNs on a single run sent every event to the workers for coolNs each time a busy
    /// machine preempted a quick inline route once.
    static let slowNs: UInt64 = 10_000_000
    static let blockedNs: UInt64 = 100_000_000
    /// After a slow inline run nothing runs inline for this long (the scripts are slow now).
    static let coolNs: UInt64 = 1_000_000_000

    /// The route's run history (`history`: its last runs, bit 0 the latest, set when long) once a run of `wall` ns is
    /// added, and whether the route is slow now.
    static func verdict(history: UInt8, wall: UInt64) -> (history: UInt8, slow: Bool) {
        let h = (history << 1 | (wall >= slowNs ? 1 : 0)) & 0xF
        return (h, wall >= blockedNs || h.nonzeroBitCount >= 2)
    }

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

    /// Whether `route` may run inline now: not when it is slow (verdict, its last run on a worker or inline), nor
    /// while an inline run anywhere has been going for slowNs or more (wall-clock: it holds its source meanwhile,
    /// whatever the reason), nor for coolNs after a slow inline run.
    func allowed(_ route: RouteBox) -> Bool {
        let t = now
        guard !route.slow.load(ordering: .relaxed), coolUntil.load(ordering: .relaxed) <= t else {
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
        if event.run(route, ctx, engine) { coolUntil.store(now + Self.coolNs, ordering: .relaxed) }
        state.withLock { s in
            s.byThread[me]?.busy = false
            s.running[me] = nil
        }
        return true
    }
}
