// One FreeSWITCH box: one TCP connection, owned by one I/O thread (connect, auth, read, write, timeouts, reconnect).
// The I/O thread reads, parses, matches replies and runs the subscribers' event callbacks itself, in arrival order
// (Reader.swift): the callback hands the event to the script workers' queue, so an event crosses one thread boundary.
// A callback that blocks (that queue full) stops the reading: TCP pushes back on FreeSWITCH. A thread waiting for a
// command's reply meanwhile reads the socket itself up to its reply, so a blocked callback never deadlocks a command;
// one such caller reads its reply itself even when the I/O thread is free (ReplyPark.swift: one wake-up less).
// Other threads only touch the shared state under `state`'s lock and wake the I/O thread through a pipe.
//
// The rest of the box is in: BoxState.swift (shared state), Connection.swift (connect, auth, reconnect loop),
// Reader.swift (reading, event dispatch), CommandQueue.swift (sending commands), Subscription.swift.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardABI
import Synchronization

final class Box: @unchecked Sendable { // shared state behind `state` (and `reader`'s lock); `cHost` immutable
    let key: BoxKey
    let manager: FSManager
    let state: Mutex<State>
    /// Users holding the box (get/put), when it was last used, whether commands were run: atomics, not `state`,
    /// because every freeswitch_esl call touches them and the state lock is the I/O thread's.
    let refs = Atomic<Int>(0)
    let lastUse = Atomic<Int64>(nowMs())
    let commandsRun = Atomic<Bool>(false)
    /// The host string as a stable C buffer (box_id).
    let cHost: UnsafeMutablePointer<CChar>
    let cHostLen: Int
    let wakeRead: Int32
    private let wakeWrite: Int32
    /// Held by whichever thread (a worker after queueing its command, or the I/O thread) is writing outbuf to the
    /// socket; the others leave their bytes to it. A plain pthread mutex: it is only ever try-locked, or locked by the
    /// I/O thread to retire the descriptor.
    let flushMutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    /// The reading half of the connection (socket, parser, events read but not yet handed to subscribers).
    let reader: BoxReader
    /// Blocking commands' replies finished by the I/O thread and by callers that read the socket for their reply
    /// (ReplyPark.swift, readForReply): statistics `replies_read_by_io` / `replies_read_by_caller` (Metrics.swift).
    let repliesReadByIO = Atomic<Int64>(0)
    let repliesReadByCaller = Atomic<Int64>(0)
    /// API 1.1 watches (Watchers.swift), told of UP / HEARTBEAT / DOWN.
    let watchers = BoxWatchers()
    /// Bumped (under `state`) whenever the subscription list changes; the reader's match cache follows it.
    let subsVersion = Atomic<Int>(0)
    /// Where the socket's readers sleep (ReplyPark.swift): the caller parked for its reply, and the I/O thread.
    let sleep = SocketSleep()
    var label: String { "\(key.host):\(key.port)" }

    init(key: BoxKey, user: String?, password: String, manager: FSManager) {
        self.key = key
        self.manager = manager
        reader = BoxReader(bufferBytes: manager.config.readBufferBytes)
        state = Mutex(State(user: user, password: password))
        let utf8 = Array(key.host.utf8CString)
        cHost = .allocate(capacity: utf8.count)
        cHost.initialize(from: utf8, count: utf8.count)
        cHostLen = utf8.count - 1
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        wakeRead = fds[0]
        wakeWrite = fds[1]
        _ = fcntl(wakeRead, F_SETFL, fcntl(wakeRead, F_GETFL) | O_NONBLOCK)
        _ = fcntl(wakeWrite, F_SETFL, fcntl(wakeWrite, F_GETFL) | O_NONBLOCK)
        pthread_mutex_init(flushMutex, nil)
        sleep.watchWakePipe(wakeRead)
    }

    deinit {
        sleep.closeAll()
        pthread_mutex_destroy(flushMutex)
        flushMutex.deallocate()
        close(wakeRead)
        close(wakeWrite)
        cHost.deallocate()
    }

    var pointer: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    func wake() {
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
    }

    func drainWake() {
        var buf = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buf, 64) > 0 {}
    }

    func stats() -> Stats { state.withLock { $0.stats } }
    var isConnected: Bool { state.withLock { $0.phase == .connected } }
}
