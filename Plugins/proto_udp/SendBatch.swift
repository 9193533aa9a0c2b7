// Messages a UDP worker sends while it handles one received batch, sent together with one sendmmsg; the semaphore
// standing-by workers wait on.
#if canImport(Glibc)
import Glibc
#endif
import CUDPBatch

/// A pthread key, created once per listener: which SendBatch (if any) the calling thread is filling.
final class ThreadKey: Sendable {
    let key: pthread_key_t
    init() {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        key = k
    }
    deinit { pthread_key_delete(key) }
}

/// Copies of the outgoing datagrams and their destinations. Owned and used by one serving thread only.
final class SendBatch {
    /// Set while the thread handles received datagrams: only then do sends wait for the batch's end.
    var open = false
    private let capacity: Int
    private static let arenaSize = 256 * 1024
    private let arena = UnsafeMutablePointer<UInt8>.allocate(capacity: SendBatch.arenaSize)
    private var used = 0
    private var starts: [UnsafePointer<UInt8>?]
    private var lens: [Int]
    private let addrs: UnsafeMutablePointer<sockaddr_storage>
    private var addrLens: [socklen_t]
    private var errors: [Int32]
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = min(capacity, Int(CUDP_BATCH_MAX))
        starts = Array(repeating: nil, count: capacity)
        lens = Array(repeating: 0, count: capacity)
        addrs = .allocate(capacity: capacity)
        addrLens = Array(repeating: 0, count: capacity)
        errors = Array(repeating: 0, count: capacity)
    }

    deinit {
        arena.deallocate()
        addrs.deallocate()
    }

    func isFull(adding size: Int) -> Bool {
        count == capacity || used + size > SendBatch.arenaSize
    }

    /// Keeps a copy of one datagram; false when it cannot be kept (too large, or an address that does not fit).
    func add(to address: UnsafePointer<sockaddr>, length: socklen_t, bytes: UnsafeRawBufferPointer) -> Bool {
        guard count < capacity, used + bytes.count <= SendBatch.arenaSize,
              Int(length) <= MemoryLayout<sockaddr_storage>.size, let src = bytes.baseAddress else { return false }
        let at = arena + used
        UnsafeMutableRawPointer(at).copyMemory(from: src, byteCount: bytes.count)
        UnsafeMutableRawPointer(addrs + count).copyMemory(from: address, byteCount: Int(length))
        starts[count] = UnsafePointer(at)
        lens[count] = bytes.count
        addrLens[count] = length
        used += bytes.count
        count += 1
        return true
    }

    /// Sends everything kept and empties the batch; `failed` is told each error (one per refused datagram).
    func send(_ fd: Int32, failed: (Int32) -> Void) {
        let n = count
        _ = starts.withUnsafeBufferPointer { s in
            cudp_send_batch(fd, s.baseAddress, lens, addrs, addrLens, Int32(n), &errors)
        }
        for i in 0..<n where errors[i] != 0 { failed(errors[i]) }
        count = 0
        used = 0
    }
}

/// A POSIX semaphore. @unchecked Sendable: sem_t is made to be shared between threads (sem_post/sem_timedwait are
/// thread-safe), and its storage is allocated once here and never moves or changes owner.
final class Semaphore: @unchecked Sendable {
    private let sem = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)

    init() { sem_init(sem, 0, 0) }

    deinit {
        sem_destroy(sem)
        sem.deallocate()
    }

    func post() { sem_post(sem) }

    /// Until posted (true) or `nanoseconds` have passed (false).
    func wait(nanoseconds: Int) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_nsec += nanoseconds
        while deadline.tv_nsec >= 1_000_000_000 { deadline.tv_sec += 1; deadline.tv_nsec -= 1_000_000_000 }
        return sem_timedwait(sem, &deadline) == 0
    }
}
