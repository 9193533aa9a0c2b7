// The resumed requests whose answer is still on its way out, so stop can wait (bounded) until libmicrohttpd has sent
// them before stopping the daemon.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

final class ResumedRequests: @unchecked Sendable { // `ids` is guarded by `mutex`; `cond` signals it becoming empty
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var ids: Set<ObjectIdentifier> = []

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    // The request is alive while listed: libmicrohttpd's completion callback removes it before releasing it.
    func add(_ r: HTTPRequest) { _ = locked { ids.insert(ObjectIdentifier(r)) } }

    func remove(_ r: HTTPRequest) {
        locked {
            guard ids.remove(ObjectIdentifier(r)) != nil, ids.isEmpty else { return }
            pthread_cond_broadcast(cond)
        }
    }

    var count: Int { locked { ids.count } }

    /// Waits until every listed request completed, at most `ms` milliseconds; true when all did.
    func waitEmpty(ms: Int) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let ns = Int(deadline.tv_nsec) + ms * 1_000_000
        deadline.tv_sec += ns / 1_000_000_000
        deadline.tv_nsec = ns % 1_000_000_000
        return locked {
            while !ids.isEmpty {
                if pthread_cond_timedwait(cond, mutex, &deadline) == ETIMEDOUT { return ids.isEmpty }
            }
            return true
        }
    }
}
