// The reading half of a box's connection. The I/O thread reads a chunk, parses its frames, matches replies to the
// commands in flight, and puts the events into `held`; then it runs the subscribers' callbacks for those events, one
// at a time in arrival order, before it reads again. So there is no event queue in the box: `held` only holds what
// one read brought in, and a callback that blocks (the script workers' queue is full) stops the reading — TCP pushes
// back on FreeSWITCH, nothing is dropped. The exception: a caller waiting for a command's reply reads on while the
// I/O thread is in a callback (awaitReply), because its reply may sit behind those events; the events it passes wait
// in `held` for the I/O thread, in order, and a caller stops parsing at its own reply. How far it reads ahead: up to
// BoxReader.heldMax (1024) items while the callback is young; once that caller has seen the I/O thread in one
// callback for BoxReader.stuckMs, up to heldHardMax (16,384), plus at most one read (64 KiB). That applies to any
// waiting caller, not only the worker draining the box's lane (readAheadBound), and in overload a callback blocks
// that long, so 16,384 is the real bound per box. It counts events, not bytes: at ~2 KB per event about 32 MB per
// box connected, besides the lane's event_queue_size events (an event may be up to ESLParser.maxBodyBytes). Beyond
// it, callers stop reading and TCP pushes back.
// A callback may run the event's route on the I/O thread itself (freeswitch_scripting, when every worker sleeps): a
// command that route sends to this box is read by the I/O thread (readForReply, past the bound: nobody else would
// hand `held` over), while other callers waiting for replies read for themselves as during any callback.
// Only a blocking command's reply is finished by whichever thread read it; the outcomes of command_async and the
// HEARTBEAT notices of watchers go through `held` too, so they run on the I/O thread, in stream order.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardABI
import SwitchyardESL
import SwitchyardJSON
import SwitchyardPluginKit
import Synchronization

/// One event read from the socket, waiting for its subscribers' callbacks.
struct QueuedEvent: @unchecked Sendable { // Subscription is thread-safe
    let targets: [Subscription]
    let name: String
    let subclass: String
    let body: EventBody
}

/// What the I/O thread has to do for one frame read, in stream order.
enum HeldItem {
    case event(QueuedEvent)
    /// A command_async reply: its `done` runs on the I/O thread.
    case reply(Pending, FSResult)
    /// Watchers are told of a HEARTBEAT.
    case heartbeat
}

/// The reader's state: the connected socket and its parser, the events read and not yet delivered. Shared between
/// the I/O thread and callers reading for their reply, so all of it is behind `mutex` (a pthread mutex: try-locked
/// by callers, and never held while a callback or a command's completion runs).
final class BoxReader: @unchecked Sendable { // vars behind `mutex`, but behindLastEvent (I/O thread only); `thread` written once by the I/O thread before use
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    var fd: Int32 = -1
    var parser = ESLParser()
    var held: [HeldItem] = []
    var heldHead = 0
    /// A caller stopped parsing at its reply with bytes left in the parser: the I/O thread parses them.
    var unparsed = false
    /// Why the connection failed, when a caller reading for its reply found out (the I/O thread returns it).
    var failure: String? = nil
    var cache = SubscriberCache()
    /// Events ignored because their body could not be decoded (the log says the first one, then every 20th).
    var undecodable = 0
    /// A HEARTBEAT period measured across a long callback is skipped (the box was not read meanwhile).
    var pausedSinceHeartbeat = false
    var lastRx: Int64 = 0
    var buf: [UInt8]
    /// The I/O thread sleeps (or is about to) with nothing in `held`: a caller that leaves items there wakes it.
    /// Otherwise it is busy and looks at `held` before it sleeps again, so no wake-up is needed.
    var ioAsleep = false
    /// The socket may hold more than was read: the last read filled the buffer, or a caller waiting for its reply
    /// stopped reading at `heldMax`. That caller may have taken the socket's one wake-up (EPOLLEXCLUSIVE,
    /// ReplyPark.swift), so the I/O thread reads (non-blocking) before it sleeps again rather than wait for more bytes.
    var mayHaveMore = false
    /// True while the I/O thread runs an event callback (callers waiting for a reply then read themselves).
    let inCallback = Atomic<Bool>(false)
    /// Counts the I/O thread's callbacks, bumped (relaxed) before inCallback is set: a waiting caller that sees the
    /// same count for stuckMs knows one callback ran that long, and the I/O thread reads no clock per event.
    let callbackSeq = Atomic<UInt64>(0)
    /// Whether more of the stream waited behind the event delivered last (API 1.5 box_burst). Written by the I/O
    /// thread only (deliverHeld; attach clears it for a new connection), so the verdict lives with the stream it
    /// describes: a subscriber keeps no per-box table, and a box that goes away takes its state with it.
    private(set) var behindLastEvent = false
    /// The verdict for the event being delivered: it waits behind more of the stream, as its predecessor did.
    /// Atomic: the I/O thread writes it, box_burst may be asked from any thread.
    let burst = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)

    /// At most this many items wait in `held` before a caller reading for its reply stops reading (one read, at
    /// most 64 KiB (FSConfig.readBufferBytes), may go past it), while the I/O thread's callback is younger than
    /// stuckMs; past that, heldHardMax (readAheadBound).
    static let heldMax = 1024
    /// The I/O thread waiting for its own route's reply reads past heldMax, up to this many held events; beyond, that
    /// command fails as unreachable (a box streaming events without the reply must not grow `held` without end).
    static let heldHardMax = 16 * heldMax
    /// A callback that has run this long may be waiting for the very caller that waits for its reply (ms). Equal to
    /// Box.longDeliveryMs by choice of a round figure only; the two need not move together.
    static let stuckMs: Int64 = 100

    /// A waiting caller's view of the I/O thread's current callback: its number, and when the caller first saw it.
    struct StallWatch {
        var seq: UInt64 = .max
        var since: Int64 = 0
    }

    /// How many items a caller waiting for its reply (not the I/O thread) may leave in `held`: heldMax, or
    /// heldHardMax once this caller has seen the I/O thread in one event callback for stuckMs (read before the lock:
    /// `now` is the caller's clock). That callback may wait for room in the box's lane, which only this caller may
    /// drain: a worker running the box's events one at a time (in order), whose route waits for this box's reply.
    /// Nobody else would then read what the box sent before the reply, and stopping at heldMax would leave the command
    /// waiting out esl_cmd_timeout while every event of the box waits. Any waiting caller reads on so (it cannot tell
    /// whether it drains the lane); in overload that is the bound in force (header of this file).
    func readAheadBound(_ w: inout StallWatch, now: Int64) -> Int {
        guard inCallback.load(ordering: .acquiring) else { w.seq = .max; return Self.heldMax }
        let seq = callbackSeq.load(ordering: .relaxed)
        if seq != w.seq { w.seq = seq; w.since = now; return Self.heldMax }
        return now - w.since >= Self.stuckMs ? Self.heldHardMax : Self.heldMax
    }

    var heldCount: Int { held.count - heldHead }

    init(bufferBytes: Int) {
        buf = [UInt8](repeating: 0, count: bufferBytes)
        pthread_mutex_init(mutex, nil)
    }

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
        unparsed = false
        mayHaveMore = false
        failure = nil
        lastRx = nowMs()
        unlock()
        behindLastEvent = false
        burst.store(false, ordering: .relaxed)
    }

    /// Before an event's callbacks run (I/O thread): a burst when more of the stream waits behind it and waited
    /// behind the previous event too. Two events that arrive together at a paced rate (a late sender, a HEARTBEAT)
    /// are not a burst; a lasting backlog is, from its second event on.
    func noteEventDelivery() {
        let behind = backlog
        burst.store(behind && behindLastEvent, ordering: .relaxed)
        behindLastEvent = behind
    }

    /// The connection is closing: nobody reads the descriptor any more; undelivered events go with it. Returns the
    /// replies of command_async commands not yet finished (the I/O thread finishes them).
    func detach() -> [(Pending, FSResult)] {
        lock()
        fd = -1
        let replies = held[heldHead...].compactMap { item -> (Pending, FSResult)? in
            if case .reply(let p, let r) = item { return (p, r) } else { return nil }
        }
        held = []; heldHead = 0
        unparsed = false
        unlock()
        return replies
    }

    /// More of the stream waits behind what is being delivered (API 1.4 box_backlog): items in `held`, bytes not
    /// parsed, or probably bytes in the socket (the last read filled the buffer). The socket itself is not asked
    /// (an ioctl per event, a sixth system call where the scenario's bare I/O makes five): a burst whose reads
    /// end on frame boundaries shows at the next read, which brings several events while the first one's route
    /// runs (freeswitch_scripting queues from a burst's second event on). A caller reading for its reply may hold
    /// the lock while it polls: then "yes" (not known without waiting).
    var backlog: Bool {
        guard tryLock() else { return true }
        defer { unlock() }
        return heldCount > 0 || unparsed || mayHaveMore || parser.bufferedByteCount > 0
    }

    /// Next item to run, or nil.
    func popHeld() -> HeldItem? {
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
    /// Replies of blocking commands, finished by the thread that read them.
    var replies: [(Pending, FSResult)] = []
    /// The command whose reply was matched last.
    var lastMatched: Pending? = nil
    /// EOF, a socket error or a protocol error: the connection is to be dropped.
    var failure: String? = nil
}

extension Box {
    /// Serves a connected socket until it fails; returns the reason.
    /// One pass of the loop takes the state lock once for its bookkeeping (stop, unsent bytes, commands in flight,
    /// heartbeat period); the reaper and the command timeouts are looked at every `housekeepingMs` only.
    func serve(_ c: Conn) -> String {
        reader.attach(fd: c.fd, parser: c.parser)
        // Refused by epoll: no caller parks on this box, its I/O thread sleeps in plain poll() (said once per box).
        let refused = sleep.usable.load(ordering: .acquiring) ? sleep.attach(c.fd, failAdd: manager.config.epollRefused) : 0
        let parking = sleep.usable.load(ordering: .acquiring)
        if refused != 0 && !sleep.fallbackLogged.exchange(true, ordering: .relaxed) {
            manager.host.log(.notice, "\(label): epoll refused the socket (EPOLLEXCLUSIVE: \(String(cString: strerror(refused)))); replies are read by the I/O thread, in poll()")
        }
        defer { if parking { sleep.detach(c.fd) } }
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
            var failed = reader.failure
            var out = ReadOutcome()
            if failed == nil && reader.unparsed {
                // Frames a caller left in the parser (it stopped at its reply): handled now, not at the next read.
                reader.unparsed = false
                parseFrames(until: nil, &out)
                failed = out.failure
                if let failed { reader.failure = failed }
            }
            let more = reader.heldCount > 0 // left by a caller that read for its reply
            let lastRx = reader.lastRx
            reader.unlock()
            complete(out)
            if let failed {
                // The events read before the failure are delivered first.
                _ = deliverHeld()
                return failed
            }
            if more { continue }
            // Asleep only with nothing left to hand over: a caller that leaves items after this wakes the I/O thread.
            reader.lock()
            let idle = reader.heldCount == 0 && !reader.unparsed && reader.failure == nil
            // Bytes possibly left in the socket with its wake-up spent: read them instead of sleeping.
            let drain = idle && reader.mayHaveMore
            reader.ioAsleep = idle && !drain
            reader.unlock()
            if !idle { continue }
            let (pr, readable, woken) = drain ? (1, true, false) : waitIO(c.fd, plainPoll: pendingOut || !parking)
            reader.lock()
            reader.ioAsleep = false
            reader.unlock()
            if pr < 0 && errno != EINTR { return "poll: \(String(cString: strerror(errno)))" }
            if woken { drainWake() }
            if readable {
                reader.lock()
                let out = readAvailable()
                reader.unlock()
                complete(out)
                if let f = out.failure {
                    _ = deliverHeld()
                    return f
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

    /// Sleeps until the socket is readable (or writable, when bytes wait for it), the wake pipe rings, or 200 ms
    /// passed. Usually in the epoll set that yields the socket's data to a caller parked for its reply
    /// (ReplyPark.swift); with bytes waiting to be sent (or epoll refused the socket), in a plain poll (woken by
    /// data too, which is harmless).
    private func waitIO(_ fd: Int32, plainPoll: Bool) -> (n: Int32, readable: Bool, woken: Bool) {
        guard plainPoll else {
            let w = sleep.ioWait(200)
            return (w.n, w.socket, w.wake)
        }
        var fds = (pollfd(fd: fd, events: Int16(POLLIN) | Int16(POLLOUT), revents: 0),
                   pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
        let pr = withUnsafeMutableBytes(of: &fds) { poll($0.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, 200) }
        return (pr, fds.0.revents & Int16(POLLIN | POLLHUP | POLLERR) != 0, fds.1.revents != 0)
    }

    /// How long a stopping connection waits for the replies to commands in flight (ms).
    static let stopGraceMs: Int64 = 1000

    /// How often the serve loop looks at command timeouts and whether the box is still needed (ms).
    static let housekeepingMs: Int64 = 20

    /// Delivering events for this long means the socket was left unread on purpose (ms).
    static let longDeliveryMs: Int64 = 100

    /// A caller waiting for its reply while the I/O thread is in a callback: handles the frames a caller before it
    /// left in the parser, then reads what the socket has (waiting up to `waitMs` for it), unless another thread is
    /// reading, its reply is already there, or `held` is full. Stops parsing at its own reply. Returns whether it
    /// waited on the socket (if not, the caller waits on its reply instead).
    /// `bound`: how many items it may leave in `held` (BoxReader.readAheadBound). The I/O thread itself waiting (a
    /// route it runs sent a command) passes heldHardMax: nobody else delivers `held`, so it reads on past heldMax up to
    /// its reply (what the box sent before that reply, then TCP pushes back again).
    @discardableResult
    func readForReply(_ mine: Pending, waitMs: Int32, bound: Int) -> Bool {
        guard reader.tryLock() else { return false }
        guard reader.fd >= 0, reader.failure == nil else { reader.unlock(); return false }
        var out = ReadOutcome()
        var waited = false
        if reader.unparsed {
            reader.unparsed = false
            parseFrames(until: mine, &out)
        }
        if out.lastMatched !== mine && out.failure == nil && reader.heldCount < bound {
            var p = pollfd(fd: reader.fd, events: Int16(POLLIN), revents: 0)
            waited = true
            if poll(&p, 1, waitMs) > 0 {
                if let f = receive() { out.failure = f } else { parseFrames(until: mine, &out) }
            }
        }
        if let f = out.failure { reader.failure = f }
        // The I/O thread may be polling already: told at once of what is left for it.
        let wakeIO = out.failure != nil || reader.heldCount > 0 || reader.unparsed || reader.mayHaveMore
        reader.unlock()
        complete(out)
        if wakeIO { wake() }
        return waited
    }

    /// Reads once from the socket and handles every complete frame: blocking commands' replies are matched (finished
    /// later, outside the lock, by complete()), the rest goes to `held`. Called with the reader's lock held.
    func readAvailable() -> ReadOutcome {
        var out = ReadOutcome()
        if let f = receive() { out.failure = f; return out }
        reader.unparsed = false
        parseFrames(until: nil, &out)
        return out
    }

    /// Reads once from the socket into the parser (reader's lock held). Returns why the connection failed, or nil.
    func receive() -> String? {
        let n = reader.buf.withUnsafeMutableBytes { recv(reader.fd, $0.baseAddress, $0.count, 0) }
        reader.mayHaveMore = n == reader.buf.count
        if n == 0 { return "closed by FreeSWITCH" }
        if n < 0 {
            if errno != EAGAIN && errno != EINTR { return "recv: \(String(cString: strerror(errno)))" }
            return nil
        }
        reader.lastRx = nowMs()
        reader.parser.append(reader.buf[0..<n])
        return nil
    }

    /// Handles the complete frames in the parser (reader's lock held), stopping after the reply of `mine` if given
    /// (what follows stays in the parser, flagged `unparsed`).
    func parseFrames(until mine: Pending?, _ out: inout ReadOutcome) {
        while true {
            let frame: ESLFrame?
            do { frame = try reader.parser.next() } catch { out.failure = "protocol error: \(error)"; return }
            guard let frame else { return }
            if let why = handle(frame, &out) { out.failure = why; return }
            if let mine, out.lastMatched === mine {
                reader.unparsed = reader.parser.bufferedByteCount > 0
                return
            }
        }
    }

    /// The part of a read done outside the reader's lock: blocking commands' replies delivered.
    func complete(_ out: ReadOutcome) {
        guard !out.replies.isEmpty else { return }
        // Counted before they are finished: a caller woken by its reply sees itself counted.
        let n = Int64(out.replies.count)
        if reader.isCurrentThread {
            repliesReadByIO.add(n, ordering: .relaxed)
        } else {
            repliesReadByCaller.add(n, ordering: .relaxed)
        }
        for (p, r) in out.replies { p.finish(r) }
    }

    /// Handles one frame (reader's lock held); returns a reason to drop the connection, or nil.
    private func handle(_ frame: ESLFrame, _ out: inout ReadOutcome) -> String? {
        // Read once: each read looks the header up and folds its case.
        let type = frame.contentType
        switch type {
        case .commandReply, .apiResponse:
            let p = state.withLock { s -> Pending? in s.inflight.isEmpty ? nil : s.inflight.removeFirst() }
            if let p {
                out.lastMatched = p
                let r = FSResult.from(frame, type)
                if p.blocking { out.replies.append((p, r)) } else { reader.held.append(.reply(p, r)) }
            } else { manager.host.log(.dbg, "\(label): reply with no command in flight, ignored") }
        case .eventJSON, .eventPlain:
            if let e = dispatch(frame, type) { reader.held.append(.event(e)) }
        case .disconnectNotice, .rudeRejection:
            if frame.endsConnection { return "disconnect notice: \(frame.bodyString.split(separator: "\n").first ?? "")" }
        default:
            break
        }
        return nil
    }

    /// The queued form of an event for its subscribers (nil when nobody wants it); HEARTBEAT also updates the stats.
    private func dispatch(_ frame: ESLFrame, _ type: ESLContentType) -> QueuedEvent? {
        // JSON events that are not HEARTBEAT: the name and subclass are read by a scan, the body is passed on as it
        // is (the subscriber parses it anyway).
        if type == .eventJSON, let fast = Self.scanNames(frame.body), case let name = fast.name.uppercased(), name != "HEARTBEAT" {
            let targets = matchingSubscribers(name: name, subclass: fast.subclass, cache: &reader.cache)
            guard !targets.isEmpty else { return nil }
            // OpenSIPS parses the body and takes Event-Name from it: a body that is not JSON is never dispatched. The
            // scan above only found the name, so the text is checked here, once, for events someone wants.
            guard frame.body.withUnsafeBufferPointer({ JSONParser().isValid($0) }) else {
                undecodable("not valid JSON: \(ReconnectPolicy.loggable(String(decoding: frame.body.prefix(Self.quotedBytes), as: UTF8.self)))")
                return nil
            }
            return QueuedEvent(targets: targets, name: fast.name, subclass: fast.subclass, body: EventBody.json(frame.body))
        }
        let event: ESLEvent
        do {
            guard let e = try frame.event() else { return nil }
            event = e
        } catch {
            undecodable("\(error)")
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
            reader.held.append(.heartbeat) // before the event itself, as before
        }
        let targets = matchingSubscribers(name: name, subclass: subclass, cache: &reader.cache)
        guard !targets.isEmpty else { return nil }
        // A plain event goes on decoded: written as JSON only for a subscriber that takes text (EventBody).
        let body = type == .eventJSON ? EventBody.json(frame.body) : EventBody(.plain(event))
        return QueuedEvent(targets: targets, name: event.name ?? "", subclass: subclass, body: body)
    }

    /// At most this many bytes of an undecodable body are quoted in the log.
    static let quotedBytes = 80

    /// An event dropped because its body could not be decoded (reader's lock held): logged the first time, then every
    /// 20th, as the reconnect failures are; `why` quotes a capped prefix of the body, never all of it.
    private func undecodable(_ why: String) {
        reader.undecodable += 1
        let n = reader.undecodable
        guard n == 1 || n % 20 == 0 else { return }
        manager.host.log(.warn, "\(label): undecodable event ignored (\(why))" + (n > 1 ? " [\(n) so far]" : ""))
    }

    /// Runs the subscribers' callbacks for the events read so far, one event at a time, in arrival order, with the
    /// command_async outcomes and HEARTBEAT notices read between them (I/O thread). Returns how long it took (ms).
    func deliverHeld() -> Int64 {
        var start: Int64 = 0
        while let item = reader.popHeld() {
            if start == 0 { start = nowMs() } // the clock once per batch, not per event
            reader.callbackSeq.wrappingAdd(1, ordering: .relaxed)
            reader.inCallback.store(true, ordering: .releasing)
            switch item {
            case .event(let e):
                reader.noteEventDelivery()
                deliver(e)
            case .reply(let p, let r): p.finish(r)
            case .heartbeat: watchers.notify(self, SY_FS_WATCH_HEARTBEAT)
            }
            reader.inCallback.store(false, ordering: .releasing)
        }
        return start == 0 ? 0 : nowMs() - start
    }

    private func deliver(_ e: QueuedEvent) {
        for sub in e.targets {
            sub.running.wrappingAdd(1, ordering: .acquiringAndReleasing)
            if !sub.dead.load(ordering: .acquiring) {
                sy_str.with(key.host) { h in
                    sy_str.with(e.name) { n in
                        sy_str.with(e.subclass) { sc in
                            switch sub.cb {
                            case .text(let cb): e.body.withText { b in cb(sub.user, pointer, h, n, sc, b) }
                            case .value(let cb): e.body.withValue { v in cb(sub.user, pointer, h, n, sc, v) }
                            }
                        }
                    }
                }
            }
            sub.running.wrappingSubtract(1, ordering: .acquiringAndReleasing)
        }
    }
}
