#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs `bgapi` jobs in order on one thread (FreeSWITCH uses a thread per job; here a thread per job cost more than
/// the job, and a flood of transfers measured the simulator instead of Switchyard). Jobs run after their
/// `+OK Job-UUID` reply was sent, so BACKGROUND_JOB still follows the command reply, as on a real box.
final class BackgroundJobs: @unchecked Sendable {
    // `jobs` and `started` are guarded by `mutex`; `cond` signals new jobs.
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var jobs: [@Sendable () -> Void] = []
    private var started = false

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    func add(_ job: @escaping @Sendable () -> Void) {
        pthread_mutex_lock(&mutex)
        jobs.append(job)
        let start = !started
        started = true
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
        if start { spawnThread { [self] in run() } }
    }

    private func run() {
        while true {
            pthread_mutex_lock(&mutex)
            while jobs.isEmpty { pthread_cond_wait(&cond, &mutex) }
            let batch = jobs
            jobs.removeAll(keepingCapacity: true)
            pthread_mutex_unlock(&mutex)
            for job in batch { job() }
        }
    }
}
