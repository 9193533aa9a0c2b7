import Foundation

/// The events one producer thread (a FreeSWITCH box's reader) queued for the workers, in the order it raised them:
/// one bounded queue per source. The worker queue holds at most one job for a lane (`.lane`), and the worker that
/// takes it runs the lane's events one after the other, so two workers never run events of one source at once and
/// none overtakes an earlier one (a shared queue lets a second worker start event n+1 while the first still runs n).
/// An event runs on its producer's thread (EventBus.raiseHere) only when every worker sleeps with nothing queued, so
/// the lane is then empty and nobody runs it: that path keeps the order too.
/// A lane lives as long as its producer: when the thread ends (ThreadLanes), the lane is retired (taken out of its
/// bus) at once if it has no job, or else by the worker that runs its last event: events still queued run, in order.
/// A worker whose route waits for a reply from the lane's own box keeps holding the lane meanwhile: handing the lane
/// to another worker would start the box's next event before this one ended (the order is "one at a time"). The box's
/// reader, stopped by the full lane, does not hold that reply up: a caller waiting for its reply reads the socket
/// itself while the reader is in a callback (freeswitch module, Reader.swift), up to the box's own bound on unread
/// events (a larger one once the reader has been stuck in its callback: it may wait for this very worker), and at
/// worst the wait ends at esl_cmd_timeout.
/// Shutdown: once the worker queue is closed nothing joins (a producer waiting for room gives up within 50 ms); a
/// lane's job still queued is handed out, and a worker whose turn ends cannot queue the lane again (push refused), so
/// it runs the rest in place: every event that joined runs before the workers stop.
public final class EventLane: @unchecked Sendable { // every var behind `cond`'s lock; `retire` set once in init
    private let cond = NSCondition()
    private var items: [(RouteBox, ScriptEvent)?] = []
    private var head = 0
    /// A job for this lane is in the worker queue, or a worker runs its events: a new event only joins the lane.
    private var scheduled = false
    private var producerWaiting = false
    /// The producer thread ended: nothing joins any more; the lane goes once it has no job.
    private var producerGone = false
    let capacity: Int
    /// Takes the lane out of its bus (called once, outside the lock).
    private let retire: @Sendable (EventLane) -> Void

    init(capacity: Int, retire: @escaping @Sendable (EventLane) -> Void = { _ in }) {
        self.capacity = max(1, capacity)
        self.retire = retire
    }

    private var count: Int { items.count - head }

    /// `.closed`: refused because shutdown began (the caller counts it as not run, EventBus.stoppedSummary).
    enum Added { case joined, needsJob, timedOut, closed }

    /// Appends an event, waiting for room (backpressure: the producer stops reading its source) until `deadline`
    /// (nil: no limit) or `closed()` (`.closed`). `.needsJob`: the lane had no job, the caller queues one (or calls `abandon`).
    func append(_ route: RouteBox, _ event: ScriptEvent, deadline: Date?, closed: () -> Bool) -> Added {
        cond.lock()
        defer { cond.unlock() }
        // After shutdown began nothing joins: the worker holding the lane must be able to empty it and stop.
        if closed() { return .closed }
        while count >= capacity {
            if closed() { return .closed }
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

    /// The producer thread ended (ThreadLanes, on that thread). With no job (then empty) the lane is retired now;
    /// otherwise the worker holding its job retires it after its last event (next()).
    func producerExited() {
        cond.lock()
        producerGone = true
        let idle = !scheduled
        cond.unlock()
        if idle { retire(self) }
    }

    /// The next event for the worker holding the lane's job; nil when none is left, the lane then has no job (and,
    /// its producer gone, is retired).
    func next() -> (RouteBox, ScriptEvent)? {
        cond.lock()
        guard head < items.count, let e = items[head] else {
            items.removeAll(keepingCapacity: true)
            head = 0
            scheduled = false
            let gone = producerGone
            cond.unlock()
            if gone { retire(self) }
            return nil
        }
        defer { cond.unlock() }
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
