import Foundation

/// N script workers, each a thread with its own variable storage and a reused context,
/// pulling jobs from the shared queue.
public final class WorkerPool: @unchecked Sendable {
    // `threads` is written only by start/join on the controlling thread.
    let engine: ScriptEngine
    let queue: JobQueue<WorkerJob>
    public let states: [WorkerState]
    private var threads: [Thread] = []
    private let tidLock = NSLock()
    private var tids: [Int] = []

    /// Kernel thread ids of the workers (what MI `ps` shows as PID).
    public var threadIDs: [Int] {
        tidLock.lock()
        defer { tidLock.unlock() }
        return tids
    }
    private let finished = DispatchGroup()
    /// Per-worker init hooks (module child_init) run on the worker thread before serving.
    let childInit: @Sendable (Int) -> Bool

    init(engine: ScriptEngine, queue: JobQueue<WorkerJob>, count: Int, childInit: @escaping @Sendable (Int) -> Bool) {
        self.engine = engine
        self.queue = queue
        self.states = (1...max(1, count)).map { engine.makeWorkerState(rank: $0) }
        self.childInit = childInit
    }

    /// Starts the threads; `ready` is called once every worker finished its init (false = a failure).
    func start(ready: @escaping @Sendable (Bool) -> Void) {
        queue.setConsumers(states.count)
        let initGroup = DispatchGroup()
        let failures = Counter()
        for state in states {
            initGroup.enter()
            finished.enter()
            let t = Thread { [engine, queue, childInit, finished, self] in
                self.tidLock.lock()
                self.tids.append(WorkerPool.currentThreadID())
                self.tidLock.unlock()
                let ok = childInit(state.rank)
                if !ok { failures.increment() }
                initGroup.leave()
                let ctx = engine.makeContext(worker: state, routeType: .event)
                // Several jobs per wake-up and per lock when they queue up (a burst of events).
                var jobs: [WorkerJob] = []
                jobs.reserveCapacity(WorkerPool.jobsPerTake)
                while queue.take(into: &jobs, max: WorkerPool.jobsPerTake) {
                    for job in jobs {
                        switch job {
                        case .event(let route, let ev):
                            ev.run(route, ctx, engine)
                        case .lane(let lane):
                            var ran = 0
                            while let (route, ev) = lane.next() {
                                ev.run(route, ctx, engine)
                                ran += 1
                                // Its turn ends after a batch's worth (the lane's job queued again, still in order),
                                // so the other jobs this worker took do not wait behind one busy source.
                                if ran >= WorkerPool.jobsPerTake && lane.hasMore && queue.push(.lane(lane)) { break }
                            }
                        case .task(let body):
                            ctx.reset(routeType: .request)
                            body(ctx)
                        }
                    }
                    jobs.removeAll(keepingCapacity: true)
                }
                finished.leave()
            }
            t.name = "worker-\(state.rank)"
            t.stackSize = 8 << 20  // deep scripts and recursion limit 100 need room
            threads.append(t)
            t.start()
        }
        initGroup.notify(queue: .global()) { ready(failures.value == 0) }
    }

    /// Most jobs a worker takes at once.
    static let jobsPerTake = 16

    /// Waits until every worker has drained the (closed) queue.
    func join(timeout: TimeInterval) -> Bool {
        finished.wait(timeout: .now() + timeout) == .success
    }
}

extension WorkerPool {
    /// The kernel id of the calling thread (from /proc/thread-self, which reads "pid/task/tid").
    static func currentThreadID() -> Int {
        let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        return Int(link.split(separator: "/").last ?? "") ?? Int(getpid())
    }
}

/// A tiny thread-safe counter.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() { lock.lock(); n += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}
