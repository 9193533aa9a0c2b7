// Plain POSIX threads and a blocking job queue for modules that own threads (MI transports, listeners).
// The module starts them in init and stops/joins them in destroy; nothing here is global.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A joinable POSIX thread running one closure.
public final class PluginThread: @unchecked Sendable { // the pthread_t is written once, before any other use
    #if canImport(Darwin)
    private var thread: pthread_t?
    #else
    private var thread = pthread_t()
    #endif
    private var joined = false

    private final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    private init() {}

    /// Stack size of the threads started here (as the script workers').
    public static let stackSize = 8 << 20

    /// Starts `body` on a new thread (`name` documents it). Nil if the thread could not be created (the closure is
    /// then not run).
    public static func start(name: String, _ body: @escaping @Sendable () -> Void) -> PluginThread? {
        let t = PluginThread()
        _ = name // kept for diagnostics; Glibc's module map does not expose pthread_setname_np
        let box = Unmanaged.passRetained(Body(body)).toOpaque()
        // The script workers' stack size: an I/O thread may run event routes itself (rt_event_raise_here), and deep
        // scripts (the route recursion limit of 100) need the room; the core queues instead on smaller stacks.
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        defer { pthread_attr_destroy(&attr) }
        pthread_attr_setstacksize(&attr, PluginThread.stackSize)
        #if os(Linux)
        // A new thread inherits its creator's scheduling policy: one started from a SIP worker (proto_udp's workers
        // run under SCHED_BATCH) would keep that policy for its whole life. Module threads get the default one.
        pthread_attr_setinheritsched(&attr, Int32(PTHREAD_EXPLICIT_SCHED))
        pthread_attr_setschedpolicy(&attr, Int32(SCHED_OTHER))
        var param = sched_param(sched_priority: 0)
        pthread_attr_setschedparam(&attr, &param)
        #endif
        let entry: @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? = { arg in
            let b = Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue()
            b.run()
            return nil
        }
        var rc = pthread_create(&t.thread, &attr, entry, box)
        #if os(Linux)
        if rc == EPERM {  // an explicit policy refused (a sandbox): inherit, as before
            pthread_attr_setinheritsched(&attr, Int32(PTHREAD_INHERIT_SCHED))
            rc = pthread_create(&t.thread, &attr, entry, box)
        }
        #endif
        guard rc == 0 else {
            Unmanaged<Body>.fromOpaque(box).release()
            return nil
        }
        return t
    }

    /// Waits for the thread to end (once; later calls return at once). Never call it from the thread itself.
    public func join() {
        guard !joined else { return }
        joined = true
        #if canImport(Darwin)
        if let thread { pthread_join(thread, nil) }
        #else
        pthread_join(thread, nil)
        #endif
    }
}

/// A FIFO of jobs for a fixed set of consumer threads (pthread mutex + condition variable).
/// `close()` wakes every consumer; `take()` then returns the jobs left and finally nil.
public final class WorkQueue<Job: Sendable>: @unchecked Sendable { // all state guarded by `mutex`
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var jobs: [Job] = []
    private var head = 0
    private var closed = false
    /// Jobs refused once this many are waiting (0: no limit).
    public let limit: Int

    public init(limit: Int = 0) {
        self.limit = limit
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    /// Adds a job; false if the queue is closed or full.
    @discardableResult
    public func put(_ job: Job) -> Bool {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard !closed, limit == 0 || jobs.count - head < limit else { return false }
        jobs.append(job)
        pthread_cond_signal(cond)
        return true
    }

    /// The next job, waiting for one; nil once the queue is closed and empty.
    public func take() -> Job? {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while head == jobs.count {
            if closed { return nil }
            pthread_cond_wait(cond, mutex)
        }
        let job = jobs[head]
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > jobs.count {
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    /// Refuses new jobs and wakes every waiting consumer.
    public func close() {
        pthread_mutex_lock(mutex)
        closed = true
        pthread_cond_broadcast(cond)
        pthread_mutex_unlock(mutex)
    }
}
