import Foundation

/// The events one producer thread (a FreeSWITCH box's reader) queued for the workers, in the order it raised them:
/// one bounded queue per source. The worker queue holds at most one job for a lane (`.lane`), and the worker that
/// takes it runs the lane's events one after the other, so two workers never run events of one source at once and
/// none overtakes an earlier one (a shared queue lets a second worker start event n+1 while the first still runs n).
/// An event runs on its producer's thread (EventBus.raiseHere) only when every worker sleeps with nothing queued, so
/// the lane is then empty and nobody runs it: that path keeps the order too.
public final class EventLane: @unchecked Sendable { // every var behind `cond`'s lock
    private let cond = NSCondition()
    private var items: [(RouteBox, ScriptEvent)?] = []
    private var head = 0
    /// A job for this lane is in the worker queue, or a worker runs its events: a new event only joins the lane.
    private var scheduled = false
    private var producerWaiting = false
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    private var count: Int { items.count - head }

    enum Added { case joined, needsJob, timedOut }

    /// Appends an event, waiting for room (backpressure: the producer stops reading its source) until `deadline`
    /// (nil: no limit) or `closed()`. `.needsJob`: the lane had no job, the caller queues one (or calls `abandon`).
    func append(_ route: RouteBox, _ event: ScriptEvent, deadline: Date?, closed: () -> Bool) -> Added {
        cond.lock()
        defer { cond.unlock() }
        // After shutdown began nothing joins: the worker holding the lane must be able to empty it and stop.
        if closed() { return .timedOut }
        while count >= capacity {
            if closed() { return .timedOut }
            // Looks again after 50 ms at most: the queue may close meanwhile.
            var until = Date().addingTimeInterval(0.05)
            if let deadline {
                if deadline <= Date() { return .timedOut }
                until = min(until, deadline)
            }
            producerWaiting = true
            _ = cond.wait(until: until)
        }
        items.append((route, event))
        if scheduled { return .joined }
        scheduled = true
        return .needsJob
    }

    /// The job for the lane could not be queued (timeout, closed): the event just added goes (the lane had no job, so
    /// it was the only one), and the lane has no job.
    func abandon() {
        cond.lock()
        items.removeAll(keepingCapacity: true)
        head = 0
        scheduled = false
        cond.unlock()
    }

    /// The next event for the worker holding the lane's job; nil when none is left, the lane then has no job.
    func next() -> (RouteBox, ScriptEvent)? {
        cond.lock()
        defer { cond.unlock() }
        guard head < items.count, let e = items[head] else {
            items.removeAll(keepingCapacity: true)
            head = 0
            scheduled = false
            return nil
        }
        items[head] = nil
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= capacity {
            // Under steady backpressure the lane never runs empty: drop the slots already taken, so the array stays
            // within twice the capacity (one move of the waiting events per `capacity` events taken).
            items.removeFirst(head)
            head = 0
        }
        // Woken at half: a producer woken per event would hand over one event per wake-up.
        if producerWaiting && count <= capacity / 2 { producerWaiting = false; cond.broadcast() }
        return e
    }

    /// Whether events wait in the lane.
    var hasMore: Bool {
        cond.lock()
        defer { cond.unlock() }
        return count > 0
    }

    /// Slots the lane's array holds, taken ones included (tests: it stays within twice the capacity).
    var storage: Int {
        cond.lock()
        defer { cond.unlock() }
        return items.count
    }

    var depth: Int {
        cond.lock()
        defer { cond.unlock() }
        return count
    }
}
