import Foundation

/// A bounded multi-producer, multi-consumer FIFO for work handed to script workers.
/// `offer` never blocks (a full queue refuses, and the caller counts the drop);
/// `take` blocks a worker until work or shutdown.
public final class JobQueue<Job>: @unchecked Sendable {
    // Guarded by `mutex`; `cond` signals waiting workers.
    private var ring: [Job?]
    private var head = 0
    private var count = 0
    private var closed = false
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()

    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        ring = Array(repeating: nil, count: self.capacity)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&cond)
    }

    /// Adds a job; false when the queue is full or closed.
    public func offer(_ job: Job) -> Bool {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        guard !closed, count < capacity else { return false }
        ring[(head + count) % capacity] = job
        count += 1
        pthread_cond_signal(&cond)
        return true
    }

    /// Next job, or nil once the queue is closed and drained.
    public func take() -> Job? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        while count == 0 && !closed { pthread_cond_wait(&cond, &mutex) }
        guard count > 0 else { return nil }
        let job = ring[head]
        ring[head] = nil
        head = (head + 1) % capacity
        count -= 1
        return job
    }

    public var depth: Int {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return count
    }

    /// Wakes every worker; remaining jobs are still handed out, then take() returns nil.
    public func close() {
        pthread_mutex_lock(&mutex)
        closed = true
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
    }
}
