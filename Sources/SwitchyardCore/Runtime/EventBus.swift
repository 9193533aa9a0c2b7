import Foundation
import Synchronization

/// An event on its way to `event_route[name]`: name and deep-copied parameters.
public struct ScriptEvent: Sendable {
    public let name: String
    public let params: [(name: String, value: Value)]
    /// The parameters that hold a tree (ABI 1.9), by position in `params` (whose value there is NULL).
    public var trees: [(index: Int, tree: ValueTree)] = []
}

extension ScriptEvent {
    /// Runs `event_route` for this event on `ctx` (a worker's, or an inline runner's). Returns this run's verdict
    /// (InlineRunners.verdict): whether the route is slow now. A concurrent run of the same route may store its own
    /// verdict in `route.slow` meanwhile; the caller acts on this one.
    @discardableResult
    func run(_ route: RouteBox, _ ctx: ScriptContext, _ engine: ScriptEngine) -> Bool {
        ctx.reset(routeType: .event)
        ctx.eventName = name
        ctx.eventParams = params
        ctx.eventTrees = trees
        // Timed wherever it runs, so a route known to be slow is never run on a producer's thread (InlineRunners).
        // Wall-clock only: a monotonic clock read is served without a system call, a thread CPU clock read is not.
        let t0 = ContinuousClock.now
        engine.run(route, ctx)
        let d = (ContinuousClock.now - t0).components
        let wall = UInt64(d.seconds) &* 1_000_000_000 &+ UInt64(d.attoseconds / 1_000_000_000)
        var old = route.longRuns.load(ordering: .relaxed)
        while true {
            let v = InlineRunners.verdict(history: old, wall: wall)
            let (stored, now) = route.longRuns.compareExchange(expected: old, desired: v.history, ordering: .relaxed)
            if stored {
                route.slow.store(v.slow, ordering: .relaxed)
                return v.slow
            }
            old = now
        }
    }
}

/// Work a script worker runs.
public enum WorkerJob: Sendable {
    case event(RouteBox, ScriptEvent)
    /// The events of one producer, run in its order by the worker that takes this (EventLane).
    case lane(EventLane)
    /// Arbitrary work that must run on a script worker (tests, benchmarks, SIP later).
    case task(@Sendable (ScriptContext) -> Void)
}

/// Routes raised events to the worker queue. Raising never blocks and never crashes: a full
/// queue drops the event, counts it, and logs at most once a second. The event_route is taken from the route set in
/// force when the event is raised (one atomic load; reload_routes swaps the set), and the event runs it even if a
/// reload happens while it waits in the queue.
public final class EventBus: Sendable {
    let queue: JobQueue<WorkerJob>
    let routes: RouteTable
    let log: CoreLog
    public let raised = Atomic<Int>(0)
    public let dropped = Atomic<Int>(0)
    /// Tree event parameters (ABI 1.9) whose JSON text a script asked for: the text is written only then.
    public let treesWritten = Atomic<Int>(0)
    private let lastDropLog = Atomic<Int>(0)
    /// Contexts for events run on their producer's thread (raiseHere).
    let inline: InlineRunners
    /// Events raiseHere ran on the producer's thread (counted as each starts).
    public let ranInline = Atomic<Int>(0)
    /// raiseHere's queued events, one lane per producer thread (a box's reader), so its order is kept on the
    /// workers. Found by the thread itself (ThreadLanes); listed here for the statistics, until the thread ended and
    /// the lane's last event ran.
    private let lanes = Mutex<[ObjectIdentifier: EventLane]>([:])
    /// Events refused because shutdown had begun (the worker queue closed), by name: none of them ran. Reported in
    /// one line when the server stops (stoppedSummary), never per event: while a box's reader still hands events over
    /// during the stop, a line per event would fill the log with warnings about a normal shutdown.
    private let refusedStopping = Mutex<[String: Int]>([:])
    /// Tells this bus from every other one of the process, also from a later bus at the same address (ThreadLanes).
    let id = EventBus.nextID.add(1, ordering: .relaxed).newValue
    /// The source of `id`: a counter only, no state shared between buses.
    private static let nextID = Atomic<UInt64>(0)

    init(queue: JobQueue<WorkerJob>, routes: RouteTable, log: CoreLog, inline: InlineRunners) {
        self.queue = queue
        self.routes = routes
        self.log = log
        self.inline = inline
    }

    /// 0 queued, 1 nobody listens, -1 queue full (dropped) or refused while stopping (counted, not dropped).
    public func raise(_ name: String, _ params: [(name: String, value: Value)],
                      trees: [(index: Int, tree: ValueTree)] = []) -> Int {
        guard let route = routes.current.events[name] else { return 1 }
        raised.add(1, ordering: .relaxed)
        for t in trees { t.tree.bus = self }
        if queue.offer(.event(route, ScriptEvent(name: name, params: params, trees: trees))) { return 0 }
        if queue.isClosed { return refusedWhileStopping(name) }
        let total = dropped.add(1, ordering: .relaxed).newValue
        let now = Int(Date().timeIntervalSince1970)
        let last = lastDropLog.load(ordering: .relaxed)
        if now != last, lastDropLog.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged {
            log.error("event queue full (\(queue.capacity)): dropped event \(name) (\(total) dropped so far)")
        }
        return -1
    }

    /// Like raise, but waits for room when the queue is full (backpressure for I/O threads):
    /// 0 queued, 1 nobody listens, -1 timed out or closed.
    /// The shared queue, not the caller's lane, so the caller's order is not kept (ABI event_raise_wait): a route
    /// raised here may wait for the raising thread (a pre-1.10 plugin's reader reading its reply), which other
    /// workers draining the queue let go on; in a lane, that wait would hold the thread's only runner.
    public func raiseWaiting(_ name: String, _ params: [(name: String, value: Value)],
                             trees: [(index: Int, tree: ValueTree)] = [], timeout: TimeInterval?) -> Int {
        guard let route = routes.current.events[name] else { return 1 }
        raised.add(1, ordering: .relaxed)
        for t in trees { t.tree.bus = self }
        if queue.put(.event(route, ScriptEvent(name: name, params: params, trees: trees)), timeout: timeout) { return 0 }
        return queue.isClosed ? refusedWhileStopping(name) : -1
    }

    /// Like raiseWaiting, but when every worker sleeps with nothing queued the event_route runs on the calling thread
    /// before this returns (2): one thread wake-up less per event. `moreBehind`: the caller already holds further
    /// events to raise, so this one is queued (the workers share a burst; its first event is not held up).
    /// The caller's order is kept: it runs here only once every job queued before has finished, and the caller
    /// raises nothing else meanwhile; queued, it joins the caller's lane (EventLane), whose events one worker at a
    /// time runs in order. 0 queued, 1 nobody listens, 2 ran here, -1 timed out or closed.
    public func raiseHere(_ name: String, _ params: [(name: String, value: Value)],
                          trees: [(index: Int, tree: ValueTree)] = [], timeout: TimeInterval?, moreBehind: Bool) -> Int {
        guard let route = routes.current.events[name] else { return 1 }
        if !moreBehind && inline.allowed(route) && queue.beginInline() {
            defer { queue.endInline() }
            for t in trees { t.tree.bus = self }
            let ran = inline.run(route, ScriptEvent(name: name, params: params, trees: trees)) {
                raised.add(1, ordering: .relaxed)
                ranInline.add(1, ordering: .relaxed)
            }
            if ran { return 2 }
        }
        raised.add(1, ordering: .relaxed)
        for t in trees { t.tree.bus = self }
        return queueInLane(route, ScriptEvent(name: name, params: params, trees: trees), timeout: timeout)
    }

    /// Queues `event` behind the calling thread's earlier ones (EventLane), waiting up to `timeout` for room in the
    /// lane (event_queue_size events per lane). The lane's job goes to the worker queue outside its bound (push): a
    /// producer waits for its own lane only, never behind another source.
    private func queueInLane(_ route: RouteBox, _ event: ScriptEvent, timeout: TimeInterval?) -> Int {
        let lane = ThreadLanes.lane(for: self) {
            let lane = EventLane(capacity: queue.capacity) { [weak self] gone in
                _ = self?.lanes.withLock { $0.removeValue(forKey: ObjectIdentifier(gone)) }
            }
            lanes.withLock { $0[ObjectIdentifier(lane)] = lane }
            return lane
        }
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        switch lane.append(route, event, deadline: deadline, closed: { queue.isClosed }) {
        case .joined: return 0
        case .timedOut: return -1
        case .closed: return refusedWhileStopping(event.name)
        case .needsJob:
            if queue.push(.lane(lane)) { return 0 }
            lane.abandon()
            return refusedWhileStopping(event.name) // push fails only once the queue is closed
        }
    }

    /// Counts an event refused because the workers stopped taking events (stoppedSummary); -1. An event refused for
    /// a full queue or a timeout just as the queue closes is counted here too: it did not run either way, and once.
    private func refusedWhileStopping(_ name: String) -> Int {
        refusedStopping.withLock { $0[name, default: 0] += 1 }
        return -1
    }

    /// One line for the events refused since shutdown began, nil if none: how many, by event name. Taken once (the
    /// count starts again from zero).
    public func stoppedSummary() -> String? {
        let counts = refusedStopping.withLock { c -> [String: Int] in defer { c = [:] }; return c }
        guard !counts.isEmpty else { return nil }
        let total = counts.values.reduce(0, +)
        let names = counts.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
        return "\(total) event\(total == 1 ? "" : "s") raised after the workers stopped taking events did not run (\(names))"
    }

    /// Events waiting in the producers' lanes.
    public var laneDepth: Int { lanes.withLock { l in l.values.reduce(0) { $0 + $1.depth } } }

    /// Lanes alive: their producer thread runs, or their events still wait or run.
    public var laneCount: Int { lanes.withLock { $0.count } }

    /// Jobs waiting for the workers (event_queue_depth): the shared queue's bounded jobs (events from raise and
    /// raiseWaiting, and `.task` jobs) and every lane's events. A lane's job in the worker queue is not counted: its
    /// events are, in the lane.
    public var depth: Int { queue.boundedDepth + laneDepth }
}
