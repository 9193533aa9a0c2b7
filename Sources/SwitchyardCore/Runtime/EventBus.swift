import Foundation
import Synchronization

/// An event on its way to `event_route[name]`: name and deep-copied parameters.
public struct ScriptEvent: Sendable {
    public let name: String
    public let params: [(name: String, value: Value)]
    /// The parameters that hold a tree (ABI 1.9), by position in `params` (whose value there is NULL).
    public var trees: [(index: Int, tree: ValueTree)] = []
}

/// Work a script worker runs.
public enum WorkerJob: Sendable {
    case event(RouteBox, ScriptEvent)
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

    init(queue: JobQueue<WorkerJob>, routes: RouteTable, log: CoreLog) {
        self.queue = queue
        self.routes = routes
        self.log = log
    }

    /// 0 queued, 1 nobody listens, -1 queue full (dropped).
    public func raise(_ name: String, _ params: [(name: String, value: Value)],
                      trees: [(index: Int, tree: ValueTree)] = []) -> Int {
        guard let route = routes.current.events[name] else { return 1 }
        raised.add(1, ordering: .relaxed)
        for t in trees { t.tree.bus = self }
        if queue.offer(.event(route, ScriptEvent(name: name, params: params, trees: trees))) { return 0 }
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
    public func raiseWaiting(_ name: String, _ params: [(name: String, value: Value)],
                             trees: [(index: Int, tree: ValueTree)] = [], timeout: TimeInterval?) -> Int {
        guard let route = routes.current.events[name] else { return 1 }
        raised.add(1, ordering: .relaxed)
        for t in trees { t.tree.bus = self }
        return queue.put(.event(route, ScriptEvent(name: name, params: params, trees: trees)), timeout: timeout) ? 0 : -1
    }
}
