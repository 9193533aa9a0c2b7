// One FreeSWITCH box: one TCP connection, owned by one I/O thread (connect, auth, read, write, timeouts, reconnect),
// plus one delivery thread that runs the subscribers' event callbacks (which may block).
// The I/O thread only reads, parses and matches replies; events go to the box's EventQueue. It never stops reading
// while a command is in flight (its reply may sit behind events), so a blocked callback cannot deadlock a command.
// Other threads only touch the shared state under `state`'s lock and wake the I/O thread through a pipe.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardABI
import SwitchyardESL
import SwitchyardPluginKit
import Synchronization

/// Monotonic milliseconds.
func nowMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// Wall-clock milliseconds since the epoch.
func wallMs() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

struct BoxKey: Hashable, Sendable {
    let host: String
    let port: UInt16
}

/// A command's outcome on the Swift side (C view built at delivery).
struct FSResult: Sendable {
    var status: Int32
    var kind: Int32
    var text: String
    var jobUUID: String

    static func unreachable(_ why: String = "") -> FSResult {
        FSResult(status: Int32(SY_FS_UNREACHABLE.rawValue), kind: Int32(SY_FS_REPLY_NONE.rawValue), text: why, jobUUID: "")
    }

    static func from(_ frame: ESLFrame) -> FSResult {
        if frame.contentType == .apiResponse {
            let body = frame.bodyString
            return FSResult(status: body.hasPrefix("-ERR") ? Int32(SY_FS_ERR.rawValue) : Int32(SY_FS_OK.rawValue),
                            kind: Int32(SY_FS_REPLY_API.rawValue), text: body, jobUUID: "")
        }
        let text = frame.replyText ?? ""
        return FSResult(status: text.hasPrefix("-ERR") ? Int32(SY_FS_ERR.rawValue) : Int32(SY_FS_OK.rawValue),
                        kind: Int32(SY_FS_REPLY_COMMAND.rawValue), text: text, jobUUID: frame.jobUUID ?? "")
    }
}

/// One command sent or waiting to be sent. `finish` delivers the outcome exactly once (a reply, a timeout, a loss).
final class Pending: @unchecked Sendable { // deadline/bytes written before the Pending is shared, then only by the box thread
    let bytes: [UInt8]
    var deadline: Int64
    let timeoutMs: Int64
    private let done: @Sendable (FSResult) -> Void
    private let finished = Atomic<Bool>(false)

    init(bytes: [UInt8], deadline: Int64, timeoutMs: Int64, done: @escaping @Sendable (FSResult) -> Void) {
        self.bytes = bytes
        self.deadline = deadline
        self.timeoutMs = timeoutMs
        self.done = done
    }

    var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Delivers `r` unless an outcome was already delivered; true if this call delivered it.
    @discardableResult
    func finish(_ r: FSResult) -> Bool {
        guard !finished.exchange(true, ordering: .acquiringAndReleasing) else { return false }
        done(r)
        return true
    }
}

/// One subscription (the C `sy_fs_sub`).
final class Subscription: @unchecked Sendable { // immutable after init except the atomics
    let box: Box
    let keys: [String]
    let cb: sy_fs_event_fn
    let user: UnsafeMutableRawPointer?
    let dead = Atomic<Bool>(false)
    let running = Atomic<Int>(0)

    init(box: Box, keys: [String], cb: sy_fs_event_fn, user: UnsafeMutableRawPointer?) {
        self.box = box
        self.keys = keys
        self.cb = cb
        self.user = user
    }

    var cbBits: UInt { UInt(bitPattern: unsafeBitCast(cb, to: UnsafeRawPointer.self)) }

    func matches(name: String, subclass: String) -> Bool {
        for k in keys {
            if k == "ALL" { return true }
            if name == "CUSTOM" { if k == "CUSTOM " + subclass { return true } } else if k == name { return true }
        }
        return false
    }
}

/// Normalised subscription key: "DTMF", "ALL", "CUSTOM sofia::register". Nil for an empty name.
func subscriptionKey(_ raw: String) -> String? {
    let t = raw.trimmingCharacters(in: " \t")
    guard !t.isEmpty else { return nil }
    let words = t.split(whereSeparator: { $0 == " " || $0 == "\t" })
    if words.count >= 2, words[0].uppercased() == "CUSTOM" {
        return "CUSTOM " + words[1...].joined(separator: " ")
    }
    return t.uppercased()
}

func subscribeBytes(_ key: String, on: Bool) -> [UInt8] {
    if key.hasPrefix("CUSTOM ") {
        let sub = String(key.dropFirst(7))
        return on ? ESLEncoder.event(.json, names: [], customSubclasses: [sub]) : ESLEncoder.nixevent(names: [], customSubclasses: [sub])
    }
    return on ? ESLEncoder.event(.json, names: [key]) : ESLEncoder.nixevent(names: [key])
}

/// Encodes a caller's command text: first line the command, then optional `Name: value` header lines.
func encodeCommand(_ text: String) -> [UInt8]? {
    // The usual case (one line, e.g. "bgapi uuid_transfer ..."): no splitting.
    if !text.utf8.contains(UInt8(ascii: "\n")) {
        var end = text.utf8.endIndex
        if text.utf8.last == UInt8(ascii: "\r") { end = text.utf8.index(before: end) }
        let line = Substring(text.utf8[..<end])
        guard line.utf8.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) else { return nil }
        return ESLEncoder.command(String(line), headers: [])
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: true).map { l -> Substring in
        l.hasSuffix("\r") ? l.dropLast() : l
    }
    guard let first = lines.first, !String(first).trimmingCharacters(in: " \t").isEmpty else { return nil }
    lines.removeFirst()
    var headers: [ESLHeader] = []
    for l in lines {
        guard let colon = l.firstIndex(of: ":") else { return nil }
        headers.append(ESLHeader(String(l[..<colon]), String(l[l.index(after: colon)...]).trimmingCharacters(in: " \t")))
    }
    return ESLEncoder.command(String(first), headers: headers)
}

/// One event waiting for the delivery thread.
struct QueuedEvent: @unchecked Sendable { // Subscription is thread-safe
    let targets: [Subscription]
    let name: String
    let subclass: String
    let body: String
    var cost: Int { body.utf8.count + name.utf8.count + subclass.utf8.count + 64 }
}

/// A box's event buffer between its I/O thread (producer) and its delivery thread (consumer), with the
/// backpressure levels. All state behind `mutex`; the consumer waits on `cond`.
final class EventQueue: @unchecked Sendable {
    static let highCount = 10_000, lowCount = 5_000
    static let highBytes = 64 << 20, lowBytes = 32 << 20

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var items: [QueuedEvent] = []
    private var count = 0 // queued + taken but not yet delivered
    private var bytes = 0
    private var closed = false
    private var readerPaused = false
    private var readerWoken = false

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
    }

    deinit {
        pthread_cond_destroy(cond); pthread_mutex_destroy(mutex)
        cond.deallocate(); mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    /// I/O thread: appends events (never refused, never dropped).
    func push(_ es: [QueuedEvent]) {
        locked {
            let wasEmpty = items.isEmpty
            items.append(contentsOf: es)
            count += es.count
            for e in es { bytes += e.cost }
            if wasEmpty { pthread_cond_signal(cond) } // the consumer only waits on an empty queue
        }
    }

    /// Delivery thread: every queued event, in order, waiting for one; nil once closed.
    func take() -> [QueuedEvent]? {
        locked {
            while items.isEmpty && !closed { pthread_cond_wait(cond, mutex) }
            if closed { return nil }
            defer { items = [] }
            return items
        }
    }

    var isClosed: Bool { locked { closed } }

    /// True while the I/O thread holds back reading (it must be woken to read a command's reply).
    var readerIsPaused: Bool { locked { readerPaused } }

    /// Delivery thread: one event delivered. True when the paused reader must be woken (below the low-water mark).
    func delivered(_ cost: Int) -> Bool {
        locked {
            count -= 1
            bytes -= cost
            guard readerPaused, !readerWoken, count <= Self.lowCount, bytes <= Self.lowBytes else { return false }
            readerWoken = true
            return true
        }
    }

    /// I/O thread: whether to read the socket now. Reads always while commands are in flight; otherwise pauses
    /// above the high-water mark until the buffer drains below the low-water mark.
    func mayRead(commandsInFlight: Bool) -> Bool {
        locked {
            if commandsInFlight {
                readerPaused = false
            } else if readerPaused {
                if count <= Self.lowCount && bytes <= Self.lowBytes { readerPaused = false }
            } else if count >= Self.highCount || bytes >= Self.highBytes {
                readerPaused = true
                readerWoken = false
            }
            return !readerPaused
        }
    }

    /// Stops the delivery thread (the events still queued are discarded: the box is closing).
    func close() {
        locked {
            closed = true
            items = []
            pthread_cond_broadcast(cond)
        }
    }
}

final class Box: @unchecked Sendable { // shared state behind `state`; `cHost` immutable
    enum Phase: Sendable { case connecting, connected, down }

    struct Stats: Sendable {
        var valid = false
        var idleCPU = 0.0
        var sessions: Int64 = 0
        var maxSessions: Int64 = 0
        var sessionsPerSec: Int64 = 0
        var heartbeatMs: Int64 = 0
        var updatedWallMs: Int64 = 0
        var lastHeartbeatMono: Int64 = 0
    }

    struct State: @unchecked Sendable { // Pending/Subscription are thread-safe classes
        var user: String?
        var password: String
        var phase = Phase.connecting
        var nextAttempt: Int64 = 0
        var subs: [Subscription] = []
        var wire: [String: Int] = ["HEARTBEAT": 1] // the module always listens for HEARTBEAT (liveness, stats)
        /// Bytes not yet written to the socket, in the order of `inflight`. Appended under the lock; written only by
        /// the holder of `flushMutex` (see flush()), outside the lock, so the wire order is the append order.
        var outbuf: [UInt8] = []
        /// The connected socket (-1 otherwise), read by flush() under the lock.
        var fd: Int32 = -1
        var inflight: [Pending] = []
        var unsent: [Pending] = []
        var stats = Stats()
        var stop = false
    }

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
    private let wakeRead: Int32
    private let wakeWrite: Int32
    /// Held by whichever thread (a worker after queueing its command, or the I/O thread) is writing outbuf to the
    /// socket; the others leave their bytes to it. A plain pthread mutex: it is only ever try-locked, or locked by the
    /// I/O thread to retire the descriptor.
    private let flushMutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    let events = EventQueue()
    /// API 1.1 watches (Watchers.swift), told of UP / HEARTBEAT / DOWN.
    let watchers = BoxWatchers()
    /// The delivery thread's pthread id once started (unsubscribe from inside a callback must not wait for itself).
    private let deliveryThread = Mutex<pthread_t?>(nil)
    /// Set by the I/O thread while it is not reading (backpressure); a HEARTBEAT period measured across it is skipped.
    private var pausedSinceHeartbeat = false // I/O thread only
    /// Bumped (under `state`) whenever the subscription list changes; the I/O thread's match cache follows it.
    private let subsVersion = Atomic<Int>(0)
    private var subCache: [String: [Subscription]] = [:] // I/O thread only
    private var subCacheVersion = -1 // I/O thread only
    var label: String { "\(key.host):\(key.port)" }

    init(key: BoxKey, user: String?, password: String, manager: FSManager) {
        self.key = key
        self.manager = manager
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
    }

    deinit {
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

    private func drainWake() {
        var buf = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buf, 64) > 0 {}
    }

    // MARK: API (any thread)

    func subscribe(_ keys: [String], cb: sy_fs_event_fn, user: UnsafeMutableRawPointer?) -> Subscription {
        let sub = Subscription(box: self, keys: keys, cb: cb, user: user)
        let woke = state.withLock { s -> Bool in
            s.subs.append(sub)
            subsVersion.add(1, ordering: .releasing)
            var sent = false
            for k in Set(keys) {
                s.wire[k, default: 0] += 1
                if s.wire[k] == 1 && s.phase == .connected { enqueueInternal(&s, k, on: true); sent = true }
            }
            return sent
        }
        if woke { wake() }
        return sub
    }

    func unsubscribe(_ sub: Subscription) {
        sub.dead.store(true, ordering: .releasing)
        state.withLock { s in
            guard let i = s.subs.firstIndex(where: { $0 === sub }) else { return }
            s.subs.remove(at: i)
            subsVersion.add(1, ordering: .releasing)
            for k in Set(sub.keys) {
                guard let n = s.wire[k] else { continue }
                if n <= 1 {
                    s.wire[k] = nil
                    if s.phase == .connected { enqueueInternal(&s, k, on: false) }
                } else {
                    s.wire[k] = n - 1
                }
            }
        }
        lastUse.store(nowMs(), ordering: .relaxed)
        wake() // sends the nixevent; a box left without subscribers may be reaped
        // When this returns the callback is not running for `sub` (no wait from inside a callback: it is running there).
        if let t = deliveryThread.withLock({ $0 }), pthread_equal(t, pthread_self()) != 0 { return }
        let end = nowMs() + 10_000
        while sub.running.load(ordering: .acquiring) > 0 && nowMs() < end { usleep(1000) }
    }

    private func enqueueInternal(_ s: inout State, _ key: String, on: Bool) {
        let label = self.label
        let host = manager.host
        let bytes = subscribeBytes(key, on: on)
        let p = Pending(bytes: bytes, deadline: nowMs() + manager.config.cmdTimeoutMs, timeoutMs: manager.config.cmdTimeoutMs) { r in
            // A subscription change lost with its connection needs no warning: the box forgets a connection's
            // subscriptions when it closes, and every connection subscribes afresh.
            if r.status == Int32(SY_FS_UNREACHABLE.rawValue) {
                host.log(.dbg, "\(label): '\(on ? "event json" : "nixevent") \(key)' not answered: \(r.text)")
            } else if r.status != Int32(SY_FS_OK.rawValue) {
                host.log(.warn, "\(label): '\(on ? "event json" : "nixevent") \(key)' failed: \(r.text.isEmpty ? "no reply" : r.text)")
            }
        }
        s.inflight.append(p)
        s.outbuf.append(contentsOf: bytes)
    }

    /// Queues a command (sent at once when connected, after the connection when connecting; refused when down).
    /// Returns false (after finishing `p` with unreachable) when the box is known to be down.
    func submit(_ p: Pending) -> Bool {
        commandsRun.store(true, ordering: .relaxed)
        lastUse.store(nowMs(), ordering: .relaxed)
        let outcome = state.withLock { s -> Int in
            if s.stop { return 0 }
            switch s.phase {
            case .connected:
                p.deadline = nowMs() + p.timeoutMs
                s.inflight.append(p)
                s.outbuf.append(contentsOf: p.bytes)
                return 2
            case .connecting:
                p.deadline = nowMs() + manager.config.connectTimeoutMs
                s.unsent.append(p)
                return 1
            case .down:
                return 0
            }
        }
        if outcome == 0 {
            p.finish(.unreachable("\(label) is not connected"))
            return false
        }
        // Written from this thread: one thread hop (and a wake-up of the I/O thread) less per command. What the
        // socket does not take now is left to the I/O thread (woken for it). A paused reader resumes only when it
        // sees the command in flight: wake it then too.
        let pending = outcome == 2 ? flush().pending : true
        if pending || events.readerIsPaused { wake() }
        return true
    }

    /// Writes outbuf to the socket without holding the state lock during send(). Only the holder of flushMutex takes
    /// bytes out of outbuf (everyone else appends), so bytes leave in append order; a thread that finds the mutex
    /// taken leaves its bytes to the holder, which looks again after unlocking. Returns the errno of a failed send
    /// (0 if none) and whether bytes are still waiting for the socket to take them (the I/O thread polls for that).
    @discardableResult
    func flush() -> (err: Int32, pending: Bool) {
        while true {
            // Taken: its holder sends our bytes too, and wakes the I/O thread if the socket is full.
            guard pthread_mutex_trylock(flushMutex) == 0 else { return (0, false) }
            var chunk: [UInt8] = []
            let fd = state.withLock { s -> Int32 in
                if s.fd >= 0 { swap(&chunk, &s.outbuf) }
                return s.fd
            }
            if chunk.isEmpty {
                pthread_mutex_unlock(flushMutex)
                // Bytes appended while we held the mutex (their writer's try-lock failed) are ours to send.
                if fd >= 0 && state.withLock({ !$0.outbuf.isEmpty }) { continue }
                return (0, false)
            }
            let n = chunk.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            let err: Int32 = n < 0 && errno != EAGAIN && errno != EINTR ? errno : 0
            let sent = max(n, 0)
            if sent < chunk.count {
                // Back in front of whatever was appended meanwhile; the I/O thread waits for POLLOUT.
                state.withLock { s in s.outbuf.insert(contentsOf: chunk[sent...], at: 0) }
                pthread_mutex_unlock(flushMutex)
                return (err, true)
            }
            pthread_mutex_unlock(flushMutex)
        }
    }

    func stats() -> Stats { state.withLock { $0.stats } }
    var isConnected: Bool { state.withLock { $0.phase == .connected } }

    // MARK: I/O thread

    func run() {
        let delivery = PluginThread.start(name: "fs ev \(label)") { [self] in
            deliveryThread.withLock { $0 = pthread_self() }
            deliver()
        }
        if delivery == nil { manager.host.log(.err, "\(label): cannot start its event delivery thread") }
        defer {
            events.close() // wakes the delivery thread (between callbacks) so it ends
            delivery?.join()
        }
        var policy = ReconnectPolicy()
        while true {
            if state.withLock({ $0.stop }) { break }
            if manager.maybeReap(self) { break }
            let (phase, next) = state.withLock { ($0.phase, $0.nextAttempt) }
            if phase == .down {
                expireUnsent()
                let wait = next - nowMs()
                if wait > 0 { waitWake(Int32(min(wait, 250))); continue }
                state.withLock { $0.phase = .connecting }
            }
            let result = connectAndAuth()
            switch result {
            case .failure(let why):
                let next = policy.failed(cause: why, connectedForMs: nil)
                let dropped = state.withLock { s -> [Pending] in
                    s.phase = .down
                    s.nextAttempt = nowMs() + next.delayMs
                    let u = s.unsent
                    s.unsent = []
                    return u
                }
                for p in dropped { p.finish(.unreachable("cannot connect to \(label)")) }
                watchers.notify(self, SY_FS_WATCH_DOWN)
                if next.log {
                    manager.host.log(.warn, "\(label): cannot connect (\(ReconnectPolicy.loggable(why))); retrying in \(next.delayMs) ms (attempt \(next.attempt))")
                }
            case .success(let conn):
                let connectedAt = nowMs()
                let why = serve(conn)
                let next = policy.failed(cause: why, connectedForMs: nowMs() - connectedAt)
                // Before close, under the flush mutex: no flush() is writing to a descriptor number that may be reused.
                pthread_mutex_lock(flushMutex)
                state.withLock { $0.fd = -1 }
                pthread_mutex_unlock(flushMutex)
                close(conn.fd)
                let lost = state.withLock { s -> [Pending] in
                    let l = s.inflight + s.unsent
                    s.inflight = []
                    s.unsent = []
                    s.outbuf = []
                    s.phase = .down
                    s.nextAttempt = nowMs() + next.delayMs // at once after a healthy connection
                    s.stats.valid = false
                    s.stats.heartbeatMs = 0
                    s.stats.lastHeartbeatMono = 0
                    return l
                }
                for p in lost { p.finish(.unreachable("connection to \(label) lost")) }
                watchers.notify(self, SY_FS_WATCH_DOWN)
                if state.withLock({ $0.stop }) { break }
                if next.log {
                    let when = next.delayMs == 0 ? "" : " in \(next.delayMs) ms (attempt \(next.attempt))"
                    manager.host.log(.warn, "\(label): connection lost (\(ReconnectPolicy.loggable(why))); reconnecting\(when)")
                }
            }
        }
        let lost = state.withLock { s -> [Pending] in
            let l = s.inflight + s.unsent
            s.inflight = []; s.unsent = []; s.phase = .down; s.stats.valid = false
            return l
        }
        for p in lost { p.finish(.unreachable("\(label) closed")) }
    }

    private func waitWake(_ ms: Int32) {
        var p = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        _ = poll(&p, 1, ms)
        drainWake()
    }

    private func expireUnsent() {
        let now = nowMs()
        let expired = state.withLock { s -> [Pending] in
            let e = s.unsent.filter { $0.deadline <= now }
            s.unsent.removeAll { $0.deadline <= now }
            return e
        }
        for p in expired { p.finish(.unreachable("no connection to \(label) within esl_connect_timeout")) }
    }

    struct Conn {
        let fd: Int32
        var parser: ESLParser
    }

    enum ConnectResult { case success(Conn), failure(String) }

    /// Resolves, connects (non-blocking, bounded by esl_connect_timeout), waits for auth/request, authenticates.
    private func connectAndAuth() -> ConnectResult {
        let deadline = nowMs() + manager.config.connectTimeoutMs
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(key.host, String(key.port), &hints, &res)
        guard rc == 0, let first = res else { return .failure("cannot resolve \(key.host)") }
        defer { freeaddrinfo(res) }
        var ai: UnsafeMutablePointer<addrinfo>? = first
        var lastErr = "no address"
        while let a = ai {
            ai = a.pointee.ai_next
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd < 0 { lastErr = "socket: \(String(cString: strerror(errno)))"; continue }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(4))
            _ = setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(4))
            var idle: Int32 = 10, intvl: Int32 = 5, cnt: Int32 = 3
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, socklen_t(4))
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &intvl, socklen_t(4))
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_KEEPCNT, &cnt, socklen_t(4))
            if connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 && errno != EINPROGRESS {
                lastErr = String(cString: strerror(errno)); close(fd); continue
            }
            guard waitFD(fd, events: Int16(POLLOUT), deadline: deadline) else {
                lastErr = state.withLock({ $0.stop }) ? "stopping" : "connect timeout"; close(fd); continue
            }
            var soErr: Int32 = 0
            var len = socklen_t(4)
            _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &soErr, &len)
            if soErr != 0 { lastErr = String(cString: strerror(soErr)); close(fd); continue }
            var conn = Conn(fd: fd, parser: ESLParser())
            switch handshake(&conn, deadline: deadline) {
            case nil: return .success(conn)
            case let why?: close(fd); return .failure(why)
            }
        }
        return .failure(lastErr)
    }

    /// Waits until fd is ready for `events` (or the wake pipe / stop); false on deadline or stop.
    private func waitFD(_ fd: Int32, events: Int16, deadline: Int64) -> Bool {
        while true {
            if state.withLock({ $0.stop }) { return false }
            let left = deadline - nowMs()
            if left <= 0 { return false }
            var p = pollfd(fd: fd, events: events, revents: 0)
            let n = poll(&p, 1, Int32(min(left, 200)))
            if n > 0 { return true }
            if n < 0 && errno != EINTR { return false }
        }
    }

    private func readFrame(_ conn: inout Conn, deadline: Int64) -> Result<ESLFrame, Failure> {
        while true {
            do {
                if let f = try conn.parser.next() { return .success(f) }
            } catch { return .failure(Failure("\(error)")) }
            guard waitFD(conn.fd, events: Int16(POLLIN), deadline: deadline) else { return .failure(Failure("timeout waiting for FreeSWITCH")) }
            var buf = [UInt8](repeating: 0, count: 16384)
            let n = recv(conn.fd, &buf, buf.count, 0)
            if n == 0 { return .failure(Failure("closed by FreeSWITCH")) }
            if n < 0 {
                if errno == EAGAIN || errno == EINTR { continue }
                return .failure(Failure(String(cString: strerror(errno))))
            }
            conn.parser.append(buf[0..<n])
        }
    }

    struct Failure: Error { let text: String; init(_ t: String) { text = t } }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8], deadline: Int64) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 { off += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EINTR) {
                guard waitFD(fd, events: Int16(POLLOUT), deadline: deadline) else { return false }
                continue
            }
            return false
        }
        return true
    }

    /// nil on success, else the reason (never containing the password).
    private func handshake(_ conn: inout Conn, deadline: Int64) -> String? {
        switch readFrame(&conn, deadline: deadline) {
        case .failure(let f): return f.text
        case .success(let f):
            if f.contentType == .rudeRejection { return "rejected by FreeSWITCH's ACL" }
            guard f.contentType == .authRequest else { return "unexpected greeting '\(f.contentTypeString ?? "")'" }
        }
        let (user, password) = state.withLock { ($0.user, $0.password) }
        let bytes = user.map { ESLEncoder.command("userauth \($0):\(password)") } ?? ESLEncoder.auth(password: password)
        guard sendAll(conn.fd, bytes, deadline: deadline) else { return "cannot send auth" }
        switch readFrame(&conn, deadline: deadline) {
        case .failure(let f): return f.text
        case .success(let f):
            guard f.contentType == .commandReply else { return "unexpected auth reply" }
            guard (f.replyText ?? "").lowercased() == "+ok accepted" else {
                return "authentication refused (\(user == nil ? "auth" : "userauth \(user!)")): \(f.replyText ?? "")"
            }
        }
        // Connected: subscribe everything (HEARTBEAT first), then send the commands that waited for the connection.
        let n = state.withLock { s -> Int in
            s.phase = .connected
            s.fd = conn.fd
            s.stats = Stats()
            let keys = s.wire.keys.sorted { a, b in a == "HEARTBEAT" ? true : b == "HEARTBEAT" ? false : a < b }
            for k in keys { enqueueInternal(&s, k, on: true) }
            let now = nowMs()
            for p in s.unsent where !p.isFinished {
                p.deadline = now + p.timeoutMs
                s.inflight.append(p)
                s.outbuf.append(contentsOf: p.bytes)
            }
            s.unsent = []
            return keys.count
        }
        manager.host.log(.notice, "\(label): connected and authenticated, \(n) event subscription(s) sent")
        watchers.notify(self, SY_FS_WATCH_UP)
        return nil
    }

    /// Serves a connected socket until it fails; returns the reason.
    /// One pass of the loop takes the state lock once for its bookkeeping (stop, unsent bytes, commands in flight,
    /// heartbeat period); the reaper and the command timeouts are looked at every `housekeepingMs` only.
    private func serve(_ c: Conn) -> String {
        var conn = c
        var lastRx = nowMs()
        var lastHousekeeping = nowMs()
        var buf = [UInt8](repeating: 0, count: 65536)
        var batch: [QueuedEvent] = []
        var stopDeadline: Int64 = 0
        while true {
            let (sendError, pendingOut) = flush()
            if sendError != 0 { return "send: \(String(cString: strerror(sendError)))" }
            let (stop, inFlight, hb) = state.withLock { s in (s.stop, !s.inflight.isEmpty, s.stats.heartbeatMs) }
            if stop {
                // Shutting down: commands already sent (the last unsubscriptions) get a moment for their replies.
                if !inFlight { return "stopping" }
                if stopDeadline == 0 { stopDeadline = nowMs() + Self.stopGraceMs } else if nowMs() >= stopDeadline { return "stopping" }
            }
            // Backpressure: stop reading while too many events wait for delivery, unless a command is in flight
            // (its reply may be behind those events). Resumed by the delivery thread or submit() via the wake pipe.
            let reading = events.mayRead(commandsInFlight: inFlight)
            if !reading { lastRx = nowMs(); pausedSinceHeartbeat = true } // not reading on purpose: no liveness verdict
            var fds = (pollfd(fd: conn.fd, events: (reading ? Int16(POLLIN) : 0) | (pendingOut ? Int16(POLLOUT) : 0), revents: 0),
                       pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
            let pr = withUnsafeMutableBytes(of: &fds) { poll($0.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, 200) }
            if pr < 0 && errno != EINTR { return "poll: \(String(cString: strerror(errno)))" }
            if fds.1.revents != 0 { drainWake() }
            if reading && fds.0.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                let n = recv(conn.fd, &buf, buf.count, 0)
                if n == 0 { return "closed by FreeSWITCH" }
                if n < 0 && errno != EAGAIN && errno != EINTR { return "recv: \(String(cString: strerror(errno)))" }
                if n > 0 {
                    lastRx = nowMs()
                    conn.parser.append(buf[0..<n])
                    var failure: String? = nil
                    while true {
                        let frame: ESLFrame?
                        do { frame = try conn.parser.next() } catch { failure = "protocol error: \(error)"; break }
                        guard let frame else { break }
                        if let why = handle(frame, into: &batch) { failure = why; break }
                    }
                    // The events of one read go to the delivery thread together: one lock and one wake-up.
                    if !batch.isEmpty { events.push(batch); batch.removeAll(keepingCapacity: true) }
                    if let failure { return failure }
                }
            }
            let now = nowMs()
            if pr == 0 || now - lastHousekeeping >= Self.housekeepingMs {
                lastHousekeeping = now
                // Reaped: `stop` is now set, and the next pass flushes the last unsubscriptions and waits for their replies.
                if refs.load(ordering: .relaxed) == 0 && manager.maybeReap(self) { continue }
                // Timeouts of commands in flight (they keep their place: replies are matched in order).
                let expired = state.withLock { s -> [Pending] in s.inflight.filter { !$0.isFinished && $0.deadline <= now } }
                for p in expired { p.finish(.unreachable("no reply from \(label) within esl_cmd_timeout")) }
            }
            // Liveness: nothing received for 3× the heartbeat period the box has shown (at least 3 s).
            if hb > 0 {
                let limit = max(3 * hb, 3000)
                if now - lastRx > limit { return "nothing received for \(limit) ms (heartbeat every \(hb) ms)" }
            }
        }
    }

    /// How long a stopping connection waits for the replies to commands in flight (ms).
    static let stopGraceMs: Int64 = 1000

    /// How often the serve loop looks at command timeouts and whether the box is still needed (ms).
    static let housekeepingMs: Int64 = 20

    /// Handles one frame; returns a reason to drop the connection, or nil.
    private func handle(_ frame: ESLFrame, into batch: inout [QueuedEvent]) -> String? {
        switch frame.contentType {
        case .commandReply, .apiResponse:
            let p = state.withLock { s -> Pending? in s.inflight.isEmpty ? nil : s.inflight.removeFirst() }
            if let p { p.finish(.from(frame)) } else { manager.host.log(.dbg, "\(label): reply with no command in flight, ignored") }
        case .eventJSON, .eventPlain:
            if let e = dispatch(frame) { batch.append(e) }
        case .disconnectNotice, .rudeRejection:
            if frame.endsConnection { return "disconnect notice: \(frame.bodyString.split(separator: "\n").first ?? "")" }
        default:
            break
        }
        return nil
    }

    /// The queued form of an event for its subscribers (nil when nobody wants it); HEARTBEAT also updates the stats.
    private func dispatch(_ frame: ESLFrame) -> QueuedEvent? {
        // JSON events that are not HEARTBEAT: the name and subclass are read by a scan, the body is passed on as it
        // is (the subscriber parses it anyway); the I/O thread is the one serial stage of every event, so a full
        // decode here would bound the whole box's throughput.
        if frame.contentType == .eventJSON, let fast = Self.scanNames(frame.body), fast.name.uppercased() != "HEARTBEAT" {
            let name = fast.name.uppercased()
            let targets = matchingSubscribers(name: name, subclass: fast.subclass)
            guard !targets.isEmpty else { return nil }
            return QueuedEvent(targets: targets, name: fast.name, subclass: fast.subclass, body: frame.bodyString)
        }
        let event: ESLEvent
        do {
            guard let e = try frame.event() else { return nil }
            event = e
        } catch {
            manager.host.log(.warn, "\(label): undecodable event ignored (\(error))")
            return nil
        }
        let name = (event.name ?? "").uppercased()
        let subclass = event.subclass ?? ""
        if name == "HEARTBEAT" {
            let idle = event["Idle-CPU"].flatMap { Double($0.trimmingCharacters(in: " ")) }
            let sess = event["Session-Count"].flatMap { Int64($0.trimmingCharacters(in: " ")) }
            let maxS = event["Max-Sessions"].flatMap { Int64($0.trimmingCharacters(in: " ")) }
            let sps = event["Session-Per-Sec"].flatMap { Int64($0.trimmingCharacters(in: " ")) }
            state.withLock { s in
                let now = nowMs()
                if s.stats.lastHeartbeatMono > 0 && !pausedSinceHeartbeat { s.stats.heartbeatMs = now - s.stats.lastHeartbeatMono }
                s.stats.lastHeartbeatMono = now
                if let idle, let sess, let maxS {
                    s.stats.idleCPU = idle; s.stats.sessions = sess; s.stats.maxSessions = maxS
                    s.stats.sessionsPerSec = sps ?? 0
                    s.stats.valid = true
                    s.stats.updatedWallMs = wallMs()
                } else {
                    manager.host.log(.warn, "\(label): HEARTBEAT without Idle-CPU/Session-Count/Max-Sessions, stats unchanged")
                }
            }
            pausedSinceHeartbeat = false
            watchers.notify(self, SY_FS_WATCH_HEARTBEAT)
        }
        let targets = matchingSubscribers(name: name, subclass: subclass)
        guard !targets.isEmpty else { return nil }
        let body = frame.contentType == .eventJSON ? frame.bodyString : String(decoding: event.jsonPayload(), as: UTF8.self)
        return QueuedEvent(targets: targets, name: event.name ?? "", subclass: subclass, body: body)
    }

    /// Matching subscribers, each (cb, user) once. Cached per event name on the I/O thread until a subscription
    /// changes (`subsVersion`): the state lock is not taken per event. A cached subscriber that was removed since
    /// is skipped at delivery (`dead`).
    private func matchingSubscribers(name: String, subclass: String) -> [Subscription] {
        let v = subsVersion.load(ordering: .acquiring)
        if v != subCacheVersion { subCache.removeAll(keepingCapacity: true); subCacheVersion = v }
        let key = subclass.isEmpty ? name : name + "\u{0}" + subclass
        if let hit = subCache[key] { return hit }
        let out = state.withLock { s -> [Subscription] in
            var out: [Subscription] = []
            for sub in s.subs where sub.matches(name: name, subclass: subclass) {
                if !out.contains(where: { $0.cbBits == sub.cbBits && $0.user == sub.user }) { out.append(sub) }
            }
            return out
        }
        if subCache.count < 1024 { subCache[key] = out }
        return out
    }

    /// `"Event-Name":"X"` and `"Event-Subclass":"Y"` of a JSON event body, found by a byte scan; nil when the name is
    /// missing or written with escapes (the caller then decodes the whole event).
    static func scanNames(_ body: [UInt8]) -> (name: String, subclass: String)? {
        func value(of key: StaticString) -> String?? {
            let k = UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount)
            guard body.count > k.count else { return .none }
            var i = 0
            let last = body.count - k.count
            while i <= last {
                if body[i] == k[0] {
                    var j = 1
                    while j < k.count && body[i + j] == k[j] { j += 1 }
                    if j == k.count {
                        var e = i + k.count
                        let start = e
                        while e < body.count && body[e] != UInt8(ascii: "\"") {
                            if body[e] == UInt8(ascii: "\\") { return .some(nil) }  // escaped: let the decoder do it
                            e += 1
                        }
                        guard e < body.count else { return .some(nil) }
                        return .some(String(decoding: body[start..<e], as: UTF8.self))
                    }
                }
                i += 1
            }
            return .none
        }
        guard case .some(.some(let name)) = value(of: "\"Event-Name\":\""), !name.isEmpty else { return nil }
        switch value(of: "\"Event-Subclass\":\"") {
        case .none: return (name, "")
        case .some(.some(let sub)): return (name, sub)
        case .some(.none): return nil
        }
    }

    // MARK: Delivery thread

    /// Runs the subscribers' callbacks, one event at a time, in arrival order, until the box closes.
    private func deliver() {
        while let batch = events.take() {
            for e in batch {
                if events.isClosed { return }
                for sub in e.targets {
                    sub.running.wrappingAdd(1, ordering: .acquiringAndReleasing)
                    if !sub.dead.load(ordering: .acquiring) {
                        sy_str.with(key.host) { h in
                            sy_str.with(e.name) { n in
                                sy_str.with(e.subclass) { sc in
                                    sy_str.with(e.body) { b in sub.cb(sub.user, pointer, h, n, sc, b) }
                                }
                            }
                        }
                    }
                    sub.running.wrappingSubtract(1, ordering: .acquiringAndReleasing)
                }
                if events.delivered(e.cost) { wake() }
            }
        }
    }
}
