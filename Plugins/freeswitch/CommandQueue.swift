// Sending commands: the commands waiting for the connection, the bytes waiting for the socket, the commands waiting
// for their replies (matched in order), and how a caller waits for its reply.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardABI

extension Box {
    func enqueueInternal(_ s: inout State, _ key: String, on: Bool) {
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
        // socket does not take now is left to the I/O thread (woken for it).
        let pending = outcome == 2 ? flush().pending : true
        if pending { wake() }
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

    /// Waits for a command's outcome until `untilMs` (nil on timeout). While the I/O thread is held up in an event
    /// callback (the workers' queue is full), the reply sits in the socket behind events: this thread then reads the
    /// socket itself, queueing the events it passes for the I/O thread, until the reply is there. It first sends
    /// what the I/O thread left unsent (its command may be among those bytes).
    func awaitReply(_ waiter: Waiter, _ mine: Pending, untilMs: Int64) -> FSResult? {
        // Usually the caller reads its reply itself (ReplyPark.swift); another caller parked already: as below.
        if !reader.isCurrentThread, case .done(let r) = awaitParked(waiter, mine, untilMs: untilMs) { return r }
        var watch = BoxReader.StallWatch()
        while true {
            let now = nowMs()
            if now >= untilMs { return waiter.wait(untilMs: now) }
            if reader.isCurrentThread {
                // A callback running a command: nobody else reads this socket now. It reads past heldMax, but not
                // without end: a box streaming events without the reply would grow `held` until esl_cmd_timeout.
                // The reply first: a caller reading ahead parses whole reads, so it may have read this one already.
                if let r = waiter.current { return r }
                if reader.heldCount >= BoxReader.heldHardMax {
                    // Matched by that caller (out of flight) but not finished yet (it finishes after unlocking): the
                    // reply is on its way, not behind the events.
                    if replyMatched(mine) { return waiter.wait(untilMs: untilMs) }
                    manager.host.log(.warn, "\(label): \(BoxReader.heldHardMax) events ahead of a command's reply; the command fails (unreachable)")
                    _ = mine.finish(.unreachable("\(BoxReader.heldHardMax) events ahead of the reply from \(label)"))
                    return waiter.wait(untilMs: nil)
                }
                flush()
                let waited = readForReply(mine, waitMs: Int32(min(untilMs - now, Self.replySliceMs)), bound: BoxReader.heldHardMax)
                if let r = waiter.wait(untilMs: waited ? now : min(untilMs, now + Self.replySliceMs)) { return r }
                continue
            }
            if let r = waiter.wait(untilMs: min(untilMs, now + Self.replySliceMs)) { return r }
            if reader.inCallback.load(ordering: .acquiring) {
                flush()
                readForReply(mine, waitMs: Int32(Self.replySliceMs), bound: reader.readAheadBound(&watch, now: nowMs()))
            }
        }
    }

    /// Whether `mine`'s reply was read: no longer in flight nor waiting to be sent (a reader matched it).
    func replyMatched(_ mine: Pending) -> Bool {
        state.withLock { s in !s.inflight.contains { $0 === mine } && !s.unsent.contains { $0 === mine } }
    }

    /// How long a caller waits for its reply before it looks whether it must read the socket itself (ms).
    static let replySliceMs: Int64 = 5
}
