// The reading half of a box's connection. The I/O thread reads a chunk, parses its frames, matches replies to the
// commands in flight, and puts the events into `held`; then it runs the subscribers' callbacks for those events, one
// at a time in arrival order, before it reads again. So there is no event queue in the box: `held` only holds what
// one read brought in, and a callback that blocks (the script workers' queue is full) stops the reading — TCP pushes
// back on FreeSWITCH, nothing is dropped. The exception: a caller waiting for a command's reply reads on while the
// I/O thread is in a callback (awaitReply), because its reply may sit behind those events; the events it passes wait
// in `held` for the I/O thread.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardABI
import SwitchyardESL
import SwitchyardPluginKit
import Synchronization

/// One event read from the socket, waiting for its subscribers' callbacks.
struct QueuedEvent: @unchecked Sendable { // Subscription is thread-safe
    let targets: [Subscription]
    let name: String
    let subclass: String
    let body: String
}

/// The reader's state: the connected socket and its parser, the events read and not yet delivered. Shared between
/// the I/O thread and callers reading for their reply, so all of it is behind `mutex` (a pthread mutex: try-locked
/// by callers, and never held while a callback or a command's completion runs).
final class BoxReader: @unchecked Sendable { // vars behind `mutex`; `thread` written once by the I/O thread before use
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    var fd: Int32 = -1
    var parser = ESLParser()
    var held: [QueuedEvent] = []
    var heldHead = 0
    /// Why the connection failed, when a caller reading for its reply found out (the I/O thread returns it).
    var failure: String? = nil
    var cache = SubscriberCache()
    /// A HEARTBEAT period measured across a long callback is skipped (the box was not read meanwhile).
    var pausedSinceHeartbeat = false
    var lastRx: Int64 = 0
    var buf = [UInt8](repeating: 0, count: 65536)
    /// True while the I/O thread runs an event callback (callers waiting for a reply then read themselves).
    let inCallback = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func tryLock() -> Bool { pthread_mutex_trylock(mutex) == 0 }
    func unlock() { pthread_mutex_unlock(mutex) }

    func bindToCurrentThread() { thread.withLock { $0 = pthread_self() } }

    /// True on the I/O thread (an unsubscribe from inside a callback must not wait for that callback).
    var isCurrentThread: Bool {
        guard let t = thread.withLock({ $0 }) else { return false }
        return pthread_equal(t, pthread_self()) != 0
    }

    /// A new connection: its socket and the parser that already read the greeting and auth reply.
    func attach(fd: Int32, parser: ESLParser) {
        lock()
        self.fd = fd
        self.parser = parser
        held = []; heldHead = 0
        failure = nil
        lastRx = nowMs()
        unlock()
    }

    /// The connection is closing: nobody reads the descriptor any more; undelivered events go with it.
    func detach() {
        lock()
        fd = -1
        held = []; heldHead = 0
        unlock()
    }

    /// Next event to deliver, or nil.
    func popHeld() -> QueuedEvent? {
        lock()
        defer { unlock() }
        guard heldHead < held.count else { return nil }
        let e = held[heldHead]
        heldHead += 1
        if heldHead == held.count { held.removeAll(keepingCapacity: true); heldHead = 0 }
        return e
    }
}

/// What one read found that must be acted on outside the reader's lock.
struct ReadOutcome {
    var replies: [(Pending, FSResult)] = []
    var heartbeat = false
    /// EOF, a socket error or a protocol error: the connection is to be dropped.
    var failure: String? = nil
}

extension Box {
    /// Serves a connected socket until it fails; returns the reason.
    /// One pass of the loop takes the state lock once for its bookkeeping (stop, unsent bytes, commands in flight,
    /// heartbeat period); the reaper and the command timeouts are looked at every `housekeepingMs` only.
    func serve(_ c: Conn) -> String {
        reader.attach(fd: c.fd, parser: c.parser)
        var lastHousekeeping = nowMs()
        var stopDeadline: Int64 = 0
        while true {
            // The events of the last read first: the socket is read again only once they are handed over.
            let delivered = deliverHeld()
            let (sendError, pendingOut) = flush()
            if sendError != 0 { return "send: \(String(cString: strerror(sendError)))" }
            let (stop, inFlight, hb) = state.withLock { s in (s.stop, !s.inflight.isEmpty, s.stats.heartbeatMs) }
            if stop {
                // Shutting down: commands already sent (the last unsubscriptions) get a moment for their replies.
                if !inFlight { return "stopping" }
                if stopDeadline == 0 { stopDeadline = nowMs() + Self.stopGraceMs } else if nowMs() >= stopDeadline { return "stopping" }
            }
            reader.lock()
            if delivered >= Self.longDeliveryMs {
                // Not read meanwhile on purpose (the workers were busy): no liveness verdict on that time.
                reader.lastRx = nowMs()
                reader.pausedSinceHeartbeat = true
            }
            let failed = reader.failure
            let more = reader.heldHead < reader.held.count // left by a caller that read for its reply
            let lastRx = reader.lastRx
            reader.unlock()
            if let failed { return failed }
            if more { continue }
            var fds = (pollfd(fd: c.fd, events: Int16(POLLIN) | (pendingOut ? Int16(POLLOUT) : 0), revents: 0),
                       pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
            let pr = withUnsafeMutableBytes(of: &fds) { poll($0.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, 200) }
            if pr < 0 && errno != EINTR { return "poll: \(String(cString: strerror(errno)))" }
            if fds.1.revents != 0 { drainWake() }
            if fds.0.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                reader.lock()
                let out = readAvailable()
                reader.unlock()
                complete(out)
                if let f = out.failure { return f }
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

    /// Delivering events for this long means the socket was left unread on purpose (ms).
    static let longDeliveryMs: Int64 = 100

    /// A caller waiting for its reply while the I/O thread is in a callback: reads what the socket has (waiting up to
    /// `waitMs` for it), unless another thread is reading.
    func readForReply(waitMs: Int32) {
        guard reader.tryLock() else { return }
        guard reader.fd >= 0, reader.failure == nil else { reader.unlock(); return }
        var p = pollfd(fd: reader.fd, events: Int16(POLLIN), revents: 0)
        var out = ReadOutcome()
        if poll(&p, 1, waitMs) > 0 {
            out = readAvailable()
            if let f = out.failure { reader.failure = f }
        }
        reader.unlock()
        complete(out)
        if out.failure != nil { wake() }
    }

    /// Reads once from the socket and handles every complete frame: replies are matched (finished later, outside the
    /// lock, by complete()), events go to `held`. Called with the reader's lock held.
    func readAvailable() -> ReadOutcome {
        var out = ReadOutcome()
        let n = reader.buf.withUnsafeMutableBytes { recv(reader.fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { out.failure = "closed by FreeSWITCH"; return out }
        if n < 0 {
            if errno != EAGAIN && errno != EINTR { out.failure = "recv: \(String(cString: strerror(errno)))" }
            return out
        }
        reader.lastRx = nowMs()
        reader.parser.append(reader.buf[0..<n])
        while true {
            let frame: ESLFrame?
            do { frame = try reader.parser.next() } catch { out.failure = "protocol error: \(error)"; break }
            guard let frame else { break }
            if let why = handle(frame, &out) { out.failure = why; break }
        }
        return out
    }

    /// The part of a read done outside the reader's lock: replies delivered, watchers told of a HEARTBEAT.
    func complete(_ out: ReadOutcome) {
        for (p, r) in out.replies { p.finish(r) }
        if out.heartbeat { watchers.notify(self, SY_FS_WATCH_HEARTBEAT) }
    }

    /// Handles one frame (reader's lock held); returns a reason to drop the connection, or nil.
    private func handle(_ frame: ESLFrame, _ out: inout ReadOutcome) -> String? {
        switch frame.contentType {
        case .commandReply, .apiResponse:
            let p = state.withLock { s -> Pending? in s.inflight.isEmpty ? nil : s.inflight.removeFirst() }
            if let p { out.replies.append((p, .from(frame))) } else { manager.host.log(.dbg, "\(label): reply with no command in flight, ignored") }
        case .eventJSON, .eventPlain:
            if let e = dispatch(frame, &out) { reader.held.append(e) }
        case .disconnectNotice, .rudeRejection:
            if frame.endsConnection { return "disconnect notice: \(frame.bodyString.split(separator: "\n").first ?? "")" }
        default:
            break
        }
        return nil
    }

    /// The queued form of an event for its subscribers (nil when nobody wants it); HEARTBEAT also updates the stats.
    private func dispatch(_ frame: ESLFrame, _ out: inout ReadOutcome) -> QueuedEvent? {
        // JSON events that are not HEARTBEAT: the name and subclass are read by a scan, the body is passed on as it
        // is (the subscriber parses it anyway).
        if frame.contentType == .eventJSON, let fast = Self.scanNames(frame.body), fast.name.uppercased() != "HEARTBEAT" {
            let name = fast.name.uppercased()
            let targets = matchingSubscribers(name: name, subclass: fast.subclass, cache: &reader.cache)
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
            let paused = reader.pausedSinceHeartbeat
            state.withLock { s in
                let now = nowMs()
                if s.stats.lastHeartbeatMono > 0 && !paused { s.stats.heartbeatMs = now - s.stats.lastHeartbeatMono }
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
            reader.pausedSinceHeartbeat = false
            out.heartbeat = true
        }
        let targets = matchingSubscribers(name: name, subclass: subclass, cache: &reader.cache)
        guard !targets.isEmpty else { return nil }
        let body = frame.contentType == .eventJSON ? frame.bodyString : String(decoding: event.jsonPayload(), as: UTF8.self)
        return QueuedEvent(targets: targets, name: event.name ?? "", subclass: subclass, body: body)
    }

    /// Runs the subscribers' callbacks for the events read so far, one event at a time, in arrival order (I/O thread).
    /// Returns how long it took (ms).
    func deliverHeld() -> Int64 {
        var start: Int64 = 0
        while let e = reader.popHeld() {
            if start == 0 { start = nowMs() }
            reader.inCallback.store(true, ordering: .releasing)
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
            reader.inCallback.store(false, ordering: .releasing)
        }
        return start == 0 ? 0 : nowMs() - start
    }
}
