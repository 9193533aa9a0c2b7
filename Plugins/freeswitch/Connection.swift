// A box's connection lifecycle on its I/O thread: resolve, connect (bounded by esl_connect_timeout), authenticate,
// subscribe, serve until failure, back off (Reconnect.swift), again — until the box is stopped or reaped.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardABI
import SwitchyardESL
import SwitchyardPluginKit

extension Box {
    func run() {
        reader.bindToCurrentThread()
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
                // Under the reader's lock too: no caller waiting for a reply is reading it.
                pthread_mutex_lock(flushMutex)
                state.withLock { $0.fd = -1 }
                pthread_mutex_unlock(flushMutex)
                let leftReplies = reader.detach()
                close(conn.fd)
                for (p, r) in leftReplies { p.finish(r) } // command_async replies read but not yet run
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

    func waitWake(_ ms: Int32) {
        var p = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        _ = poll(&p, 1, ms)
        drainWake()
    }

    func expireUnsent() {
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
    func connectAndAuth() -> ConnectResult {
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
    func waitFD(_ fd: Int32, events: Int16, deadline: Int64) -> Bool {
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

    func readFrame(_ conn: inout Conn, deadline: Int64) -> Result<ESLFrame, Failure> {
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

    func sendAll(_ fd: Int32, _ bytes: [UInt8], deadline: Int64) -> Bool {
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
    func handshake(_ conn: inout Conn, deadline: Int64) -> String? {
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
}
