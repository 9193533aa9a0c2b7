// A caller waiting for its command's reply reads the socket itself ("parks" on it), so the reply wakes one thread,
// the caller, instead of two (the I/O thread, which then wakes the caller). One caller at a time is parked on a box.
//
// Both the parked caller and the I/O thread sleep in epoll on the socket with EPOLLEXCLUSIVE: the kernel then wakes
// only the first sleeper in the socket's wait list, in the order the socket was added. It is added to the parked
// caller's set first, so data wakes the parked caller when there is one, and the I/O thread otherwise (nobody
// parked, or the parked caller busy, not sleeping): nothing read is ever left without a reader. What the parked
// caller reads besides its reply (events, other callers' replies) is handled as the I/O thread would: replies are
// finished, events go to `held` in stream order and the I/O thread is woken to deliver them.
// A reply read by another thread (or a timeout, or a lost connection) reaches the parked caller through a doorbell
// pipe in its set (Waiter.set).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CEpoll
import Synchronization

/// The epoll sets a box's socket readers sleep in, and the parked caller's token and doorbell.
final class SocketSleep: @unchecked Sendable { // descriptors fixed in init; the socket added/removed by the I/O thread
    /// The parked caller's set: the socket (exclusive, first in its wait list) and the doorbell.
    let parkSet: Int32
    /// The I/O thread's set: the socket (exclusive, second) and the wake pipe.
    let ioSet: Int32
    /// Rung when a parked caller's outcome was set by another thread (a pipe: read end, write end).
    let doorbell: Int32
    private let doorbellWrite: Int32
    /// Taken by the one caller parked on the socket.
    let parked = Atomic<Bool>(false)

    private static let doorbellTag: UInt64 = 1
    private static let socketTag: UInt64 = 2
    private static let wakeTag: UInt64 = 3

    init() {
        parkSet = epoll_create1(Int32(EPOLL_CLOEXEC))
        ioSet = epoll_create1(Int32(EPOLL_CLOEXEC))
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        doorbell = fds[0]
        doorbellWrite = fds[1]
        add(parkSet, doorbell, EPOLLIN.rawValue, Self.doorbellTag)
    }

    func closeAll() {
        for fd in [parkSet, ioSet, doorbell, doorbellWrite] { _ = close(fd) }
    }

    func watchWakePipe(_ fd: Int32) { add(ioSet, fd, EPOLLIN.rawValue, Self.wakeTag) }

    /// False once the socket could not be added to the epoll sets (EPOLLEXCLUSIVE refused: kernel before 4.5, some
    /// sandboxes): callers then never park on this box, and its I/O thread waits in plain poll().
    let usable = Atomic<Bool>(true)
    /// The refusal was logged (once per box).
    let fallbackLogged = Atomic<Bool>(false)

    /// A new connection's socket: into the parked caller's set first, so it is first in the socket's wait list.
    /// Returns 0, or epoll's errno when it refuses the socket (then in neither set, `usable` cleared). `failAdd`
    /// is a test hook (EINVAL, as an old kernel says).
    func attach(_ fd: Int32, failAdd: Bool = false) -> Int32 {
        let ev = EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue
        var err = EINVAL
        if !failAdd {
            if add(parkSet, fd, ev, Self.socketTag) {
                if add(ioSet, fd, ev, Self.socketTag) { return 0 }
                err = errno
                _ = epoll_ctl(parkSet, EPOLL_CTL_DEL, fd, nil as UnsafeMutablePointer<epoll_event>?)
            } else {
                err = errno
            }
        }
        usable.store(false, ordering: .releasing)
        return err
    }

    /// Before the socket is closed (a parked caller then only waits for its doorbell).
    func detach(_ fd: Int32) {
        _ = epoll_ctl(parkSet, EPOLL_CTL_DEL, fd, nil as UnsafeMutablePointer<epoll_event>?)
        _ = epoll_ctl(ioSet, EPOLL_CTL_DEL, fd, nil as UnsafeMutablePointer<epoll_event>?)
    }

    @discardableResult
    private func add(_ set: Int32, _ fd: Int32, _ events: UInt32, _ tag: UInt64) -> Bool {
        var ev = epoll_event()
        ev.events = events
        ev.data.u64 = tag
        return epoll_ctl(set, EPOLL_CTL_ADD, fd, &ev) == 0
    }

    /// The I/O thread sleeps until the socket is readable, the wake pipe rings, or `ms` passed.
    /// Returns poll's count (-1 on error, errno set) and which of the two is ready.
    func ioWait(_ ms: Int32) -> (n: Int32, socket: Bool, wake: Bool) {
        var evs = (epoll_event(), epoll_event())
        let n = withUnsafeMutableBytes(of: &evs) { epoll_wait(ioSet, $0.baseAddress!.assumingMemoryBound(to: epoll_event.self), 2, ms) }
        var socket = false, wake = false
        if n > 0 {
            for e in [evs.0, evs.1].prefix(Int(n)) {
                if e.data.u64 == Self.socketTag { socket = true } else if e.data.u64 == Self.wakeTag { wake = true }
            }
        }
        return (n, socket, wake)
    }

    /// The parked caller sleeps until the socket is readable (when `socket`), the doorbell rings, or `ms` passed.
    func parkWait(_ ms: Int32, socket: Bool) {
        var rang = false
        if socket {
            var evs = (epoll_event(), epoll_event())
            let n = withUnsafeMutableBytes(of: &evs) { epoll_wait(parkSet, $0.baseAddress!.assumingMemoryBound(to: epoll_event.self), 2, ms) }
            rang = n > 0 && [evs.0, evs.1].prefix(Int(n)).contains { $0.data.u64 == Self.doorbellTag }
        } else {
            var p = pollfd(fd: doorbell, events: Int16(POLLIN), revents: 0)
            rang = poll(&p, 1, ms) > 0
        }
        // Only when it rang: a ring meant for an earlier parked caller costs this one a pass of its loop, no more.
        if rang { clearDoorbell() }
    }

    func clearDoorbell() {
        var buf = (UInt64(0), UInt64(0))
        while withUnsafeMutableBytes(of: &buf, { read(doorbell, $0.baseAddress, $0.count) }) > 0 {}
    }

    func ring() {
        var b: UInt8 = 1
        _ = write(doorbellWrite, &b, 1)
    }
}

extension Box {
    enum ParkOutcome {
        /// Another caller is parked, or there is no connection: wait the ordinary way.
        case notParked
        /// The outcome, or nil at `untilMs`.
        case done(FSResult?)
    }

    /// Waits for `mine` reading the socket itself (see the top of this file). Not on the I/O thread.
    func awaitParked(_ waiter: Waiter, _ mine: Pending, untilMs: Int64) -> ParkOutcome {
        guard sleep.usable.load(ordering: .acquiring),
              sleep.parked.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return .notParked
        }
        defer { sleep.parked.store(false, ordering: .releasing) }
        if let r = waiter.park(sleep) { waiter.unpark(); return .done(r) }
        defer { waiter.unpark() }
        // The command was just sent: its reply is not there yet (if it is, the socket is readable and this returns
        // at once), so sleep first, then read.
        sleep.parkWait(Int32(max(0, min(untilMs - nowMs(), Self.replySliceMs))), socket: true)
        var watch = BoxReader.StallWatch()
        while true {
            // Worked out before the lock: the clock is not read while the reader's lock is held.
            let bound = reader.readAheadBound(&watch, now: nowMs())
            // The I/O thread holds the reader's lock only while it reads and parses (never during a callback).
            reader.lock()
            guard reader.fd >= 0, reader.failure == nil else {
                reader.unlock()
                if let r = waiter.current { return .done(r) }
                // No connection to read: the I/O thread finishes `mine` (lost, timed out) and rings.
                let now = nowMs()
                if now >= untilMs { return .done(nil) }
                sleep.parkWait(Int32(min(untilMs - now, Self.replySliceMs)), socket: false)
                continue
            }
            var out = ReadOutcome()
            var readable = false
            if reader.heldCount < bound {
                // At the bound, nothing more is read (TCP pushes back) until the I/O thread delivers `held` (past
                // heldMax once the I/O thread is stuck in a callback: it may wait for this caller, readAheadBound).
                if reader.unparsed { reader.unparsed = false; parseFrames(until: nil, &out) }
                if out.failure == nil, let f = receive() { out.failure = f }
                if out.failure == nil { parseFrames(until: nil, &out) }
                if let f = out.failure { reader.failure = f }
                readable = out.failure == nil && reader.heldCount < bound
            }
            // Not read on (held is full) or not all read (the buffer filled): this caller may have taken the socket's
            // one wake-up, so the I/O thread reads on after it (Reader.swift, mayHaveMore).
            if out.failure == nil && !readable { reader.mayHaveMore = true }
            let wakeIO = out.failure != nil || ((reader.heldCount > 0 || reader.unparsed || reader.mayHaveMore) && reader.ioAsleep)
            reader.unlock()
            complete(out)
            if wakeIO { wake() }
            if let r = waiter.current { return .done(r) }
            let now = nowMs()
            if now >= untilMs { return .done(nil) }
            // A callback blocked on the I/O thread does not send what the socket did not take at once.
            if reader.inCallback.load(ordering: .acquiring) { flush() }
            sleep.parkWait(Int32(min(untilMs - now, Self.replySliceMs)), socket: readable)
        }
    }
}
