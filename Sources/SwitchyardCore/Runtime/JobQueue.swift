import Foundation

/// A bounded multi-producer, multi-consumer FIFO for work handed to script workers.
/// `offer` never blocks (a full queue refuses, and the caller counts the drop); `put` waits for room (the producer of
/// rt_event_raise_wait, e.g. a plugin's I/O thread, stops reading meanwhile); `take` blocks a worker until work or
/// shutdown.
/// `capacity` bounds the jobs queued by `offer` and `put` (events raised without a lane, tasks); `push` queues a job
/// outside that bound (an EventLane's job: at most one per lane, its events bounded by the lane itself).
/// Wake-ups are batched both ways: a producer waiting for room is woken once the queue has drained to half, and a
/// job wakes a sleeping worker only when the workers already woken are not enough for what is queued; a worker
/// takes several jobs per lock (`take(into:max:)`).
public final class JobQueue<Job>: @unchecked Sendable {
    // Guarded by `mutex`; `cond` signals waiting workers.
    /// Grows when pushed jobs need more room than `capacity`; never shrinks.
    private var ring: [(job: Job, bounded: Bool)?]
    private var head = 0
    /// Every job queued; `bounded` of them count against `capacity`.
    private var count = 0
    private var bounded = 0
    private var closed = false
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    /// Signalled for producers waiting in put() once the queue has drained to `lowWater`: a producer woken per
    /// taken job would hand over one job per wake-up (two context switches per event under load).
    private var notFull = pthread_cond_t()
    private var producersWaiting = 0
    private let lowWater: Int
    /// Workers asleep in take(), and how many of them were signalled and have not run yet.
    private var consumersWaiting = 0
    private var consumersSignalled = 0
    /// Jobs one woken worker is expected to take before another is woken for the same backlog.
    static var jobsPerWake: Int { 4 }
    /// The workers that serve this queue (0 until they start: nothing runs inline before, startup events wait here).
    private var consumers = 0
    /// Jobs running inline (beginInline), on their producers' threads; `inlineDone` is signalled when it drops to 0.
    private var inlineRuns = 0
    private var inlineDone = pthread_cond_t()

    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        lowWater = self.capacity / 2
        ring = Array(repeating: nil, count: self.capacity)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
        pthread_cond_init(&notFull, nil)
        pthread_cond_init(&inlineDone, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&cond)
        pthread_cond_destroy(&notFull)
        pthread_cond_destroy(&inlineDone)
    }

    /// Adds a job; false when the queue is full or closed.
    public func offer(_ job: Job) -> Bool {
        pthread_mutex_lock(&mutex)
        guard !closed, bounded < capacity else { pthread_mutex_unlock(&mutex); return false }
        append(job, bounded: true)
        let wake = needsConsumer()
        pthread_mutex_unlock(&mutex)
        if wake { pthread_cond_signal(&cond) }
        return true
    }

    /// Whether to wake one sleeping worker (the ones already woken are too few for the backlog); counts it as woken.
    /// Called under the mutex; the caller signals after unlocking, so the woken worker does not block on the mutex.
    private func needsConsumer() -> Bool {
        guard consumersWaiting > consumersSignalled, count > consumersSignalled * Self.jobsPerWake else { return false }
        consumersSignalled += 1
        return true
    }

    /// Adds a job, waiting up to `timeout` seconds (nil: forever) for room; false on timeout or close.
    public func put(_ job: Job, timeout: TimeInterval?) -> Bool {
        pthread_mutex_lock(&mutex)
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        while !closed && bounded >= capacity {
            // Woken at low water; after at most 50 ms it looks again anyway: offer() may keep the queue above low
            // water (other producers), and a waiting producer must still get the slots that free up meanwhile.
            var remaining = 0.05
            if let deadline {
                let left = deadline.timeIntervalSinceNow
                if left <= 0 { pthread_mutex_unlock(&mutex); return false }
                remaining = min(remaining, left)
            }
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            let ns = Int(remaining * 1e9) + ts.tv_nsec
            ts.tv_sec += ns / 1_000_000_000
            ts.tv_nsec = ns % 1_000_000_000
            producersWaiting += 1
            pthread_cond_timedwait(&notFull, &mutex, &ts)
            producersWaiting -= 1
        }
        guard !closed else { pthread_mutex_unlock(&mutex); return false }
        append(job, bounded: true)
        let wake = needsConsumer()
        pthread_mutex_unlock(&mutex)
        if wake { pthread_cond_signal(&cond) }
        return true
    }

    /// Adds a job outside the bound (never waits); false once closed. For a job whose count is bounded elsewhere: an
    /// EventLane's (one per lane), so a box's reader waits for room in its own lane only, never behind other sources.
    public func push(_ job: Job) -> Bool {
        pthread_mutex_lock(&mutex)
        guard !closed else { pthread_mutex_unlock(&mutex); return false }
        append(job, bounded: false)
        let wake = needsConsumer()
        pthread_mutex_unlock(&mutex)
        if wake { pthread_cond_signal(&cond) }
        return true
    }

    /// Called under the mutex, room checked by the caller for a bounded job; the ring grows for pushed ones.
    private func append(_ job: Job, bounded isBounded: Bool) {
        if count == ring.count {
            var grown: [(job: Job, bounded: Bool)?] = []
            grown.reserveCapacity(2 * ring.count)
            for i in 0..<count { grown.append(ring[(head + i) % ring.count]) }
            grown.append(contentsOf: repeatElement(nil, count: ring.count))
            ring = grown
            head = 0
        }
        ring[(head + count) % ring.count] = (job, isBounded)
        count += 1
        if isBounded { bounded += 1 }
    }

    /// Next job, or nil once the queue is closed and drained.
    public func take() -> Job? {
        pthread_mutex_lock(&mutex)
        waitForWork()
        guard count > 0 else { pthread_mutex_unlock(&mutex); return nil }
        let job = removeFirst()
        let room = producersWaiting > 0 && bounded <= lowWater
        pthread_mutex_unlock(&mutex)
        if room { pthread_cond_broadcast(&notFull) }
        return job
    }

    /// Appends up to `max` jobs to `jobs` (its share of the backlog: the other sleeping workers get theirs), waiting
    /// for one; false once the queue is closed and drained.
    public func take(into jobs: inout [Job], max: Int) -> Bool {
        pthread_mutex_lock(&mutex)
        waitForWork()
        guard count > 0 else { pthread_mutex_unlock(&mutex); return false }
        let n = Swift.max(1, Swift.min(max, count / (1 + Swift.max(0, consumersWaiting - consumersSignalled))))
        for _ in 0..<n { if let job = removeFirst() { jobs.append(job) } }
        // More left than this worker took: wake another (it was not woken for them).
        let wake = count > 0 && needsConsumer()
        let room = producersWaiting > 0 && bounded <= lowWater
        pthread_mutex_unlock(&mutex)
        if wake { pthread_cond_signal(&cond) }
        if room { pthread_cond_broadcast(&notFull) }
        return true
    }

    /// Sleeps until a job is queued or the queue closes. Called under the mutex.
    private func waitForWork() {
        while count == 0 && !closed {
            consumersWaiting += 1
            pthread_cond_wait(&cond, &mutex)
            consumersWaiting -= 1
            if consumersSignalled > 0 { consumersSignalled -= 1 }
        }
    }

    /// The oldest job. Called under the mutex with count > 0 (the caller wakes waiting producers at low water).
    private func removeFirst() -> Job? {
        let slot = ring[head]
        ring[head] = nil
        head = (head + 1) % ring.count
        count -= 1
        if slot?.bounded == true { bounded -= 1 }
        return slot?.job
    }

    /// The number of workers that take from this queue (WorkerPool, when they start).
    public func setConsumers(_ n: Int) {
        pthread_mutex_lock(&mutex)
        consumers = n
        pthread_mutex_unlock(&mutex)
    }

    /// Whether the producer may run its job on its own thread instead of queueing it: true only when nothing is
    /// queued, every worker sleeps in take() and none was signalled — so every job queued before has finished (a
    /// worker sleeps only after its whole batch), and running here saves waking one. Then counted until endInline().
    public func beginInline() -> Bool {
        pthread_mutex_lock(&mutex)
        let ok = !closed && count == 0 && consumers > 0 && consumersWaiting == consumers && consumersSignalled == 0
        if ok { inlineRuns += 1 }
        pthread_mutex_unlock(&mutex)
        return ok
    }

    public func endInline() {
        pthread_mutex_lock(&mutex)
        inlineRuns -= 1
        if inlineRuns == 0 { pthread_cond_broadcast(&inlineDone) }
        pthread_mutex_unlock(&mutex)
    }

    /// Waits (after close) until no job runs inline any more, at most `ms`; false on timeout.
    public func waitInlineDone(ms: Int) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let ns = ms * 1_000_000 + ts.tv_nsec
        ts.tv_sec += ns / 1_000_000_000
        ts.tv_nsec = ns % 1_000_000_000
        while inlineRuns > 0 {
            if pthread_cond_timedwait(&inlineDone, &mutex, &ts) == ETIMEDOUT { return inlineRuns == 0 }
        }
        return true
    }

    /// Closed (stopping): nothing more is queued.
    public var isClosed: Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return closed
    }

    /// Every job queued, pushed ones included.
    public var depth: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return count
    }

    /// The jobs that count against `capacity` (offer, put): events raised without a lane, and tasks.
    public var boundedDepth: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return bounded
    }

    /// Wakes every worker; remaining jobs are still handed out, then take() returns nil.
    public func close() {
        pthread_mutex_lock(&mutex)
        closed = true
        pthread_cond_broadcast(&cond)
        pthread_cond_broadcast(&notFull)
        pthread_mutex_unlock(&mutex)
    }
}
