import Foundation
import Synchronization
import SwitchyardSIP

/// Requests the core sends on its own (drouting's OPTIONS probes): each waits for its final reply,
/// matched by the branch of our Via, or times out with 408.
final class LocalRequests: @unchecked Sendable {
    // The pending table is behind a mutex, `kicked` behind `wake`; the timer thread is started and stopped on the
    // controlling thread.
    typealias Done = @Sendable (Int) -> Void
    struct Pending { let done: Done; let deadline: UInt64 }

    private let log: CoreLog
    private let pending = Mutex<[String: Pending]>([:])
    private let sequence = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private var thread: Thread?
    /// Wakes the timer thread early; `kicked` (guarded by it) keeps a wake-up that came before the wait.
    private let wake = NSCondition()
    private var kicked = false
    /// The core that owns this object (so it outlives it). Not `weak`: a weak reference gives the SIPCore a side
    /// table, and every retain and release of the core (several per message) then takes the slow path.
    private unowned(unsafe) var core: SIPCore?
    static let branchPrefixLiteral: StaticString = "z9hG4bKsyl"
    static let branchPrefix = branchPrefixLiteral.description

    init(log: CoreLog) { self.log = log }

    func isLocalBranch(_ b: String) -> Bool { b.hasPrefix(LocalRequests.branchPrefix) }
    /// The same test on a received Via, without making the branch string (every reply asks).
    func isLocalBranch(_ via: SIPVia) -> Bool { via.branchHasPrefix(LocalRequests.branchPrefixLiteral) }

    func start(core: SIPCore) {
        self.core = core
        running.store(true, ordering: .relaxed)
        let t = Thread { [weak self] in
            while let self, self.running.load(ordering: .relaxed) {
                self.waitForNextDeadline()
                self.expire()
            }
        }
        t.name = "sip-local-requests"
        thread = t
        t.start()
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        kick()
        let left = pending.withLock { p -> [Pending] in
            let v = Array(p.values)
            p.removeAll()
            return v
        }
        for p in left { p.done(0) }  // the server stops: no verdict on the peer
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Sleeps until the earliest pending deadline (no deadline: until a request is sent or the server stops), so an
    /// idle server has no timer thread waking up.
    private func waitForNextDeadline() {
        let next = pending.withLock { $0.values.lazy.map(\.deadline).min() }
        wake.lock()
        defer { wake.unlock() }
        if !kicked && running.load(ordering: .relaxed) {
            if let next {
                let t = LocalRequests.now()
                if next > t { _ = wake.wait(until: Date(timeIntervalSinceNow: Double(next - t) / 1e9)) }
            } else {
                wake.wait()
            }
        }
        kicked = false
    }

    /// Wakes the timer thread: a new deadline may be earlier than the one it sleeps for, or the server stops.
    private func kick() {
        wake.lock()
        kicked = true
        wake.signal()
        wake.unlock()
    }

    private func expire() {
        let t = LocalRequests.now()
        let late = pending.withLock { p -> [Pending] in
            let keys = p.filter { $0.value.deadline <= t }.map(\.key)
            return keys.compactMap { p.removeValue(forKey: $0) }
        }
        for p in late { p.done(408) }
    }

    func replyArrived(branch: String, code: Int) {
        guard code >= 200 else { return }
        if let p = pending.withLock({ $0.removeValue(forKey: branch) }) { p.done(code) }
    }

    /// Removes and returns a `From:` (or `f:`) line from CRLF-separated header lines.
    static func takeFrom(_ headers: inout String) -> String? {
        var lines = headers.components(separatedBy: "\r\n")
        guard let i = lines.firstIndex(where: { l in
            let name = l.prefix { $0 != ":" }.trimmingCharacters(in: .whitespaces).lowercased()
            return l.contains(":") && (name == "from" || name == "f")
        }) else { return nil }
        let from = lines.remove(at: i)
        headers = lines.joined(separator: "\r\n")
        return from
    }

    /// Builds and sends a request; `done` is called once (reply code, 408 on timeout, 477 if unsent, 0 at shutdown).
    /// Returns 0 queued, -2 bad arguments.
    /// With `from` (`[proto:]host[:port]`), the request leaves by that listening socket; -3 when it is not one of
    /// ours for the request's transport.
    func send(method: String, ruri: String, dst: String, extraHeaders: String, from: String = "", timeoutMS: UInt32,
              done: @escaping Done) -> Int {
        guard let core, let uri = SIPURI(ruri), !method.isEmpty, !method.contains(" ") else { return -2 }
        let target = SIPURI(dst.isEmpty ? ruri : dst) ?? uri
        let port = target.port.isEmpty ? nil : Int(target.port)
        if !target.port.isEmpty { guard let p = port, (1...65535).contains(p) else { return -2 } }
        var forced: SIPSocket? = nil
        if !from.isEmpty {
            guard let s = core.findSocket(from) else { return -3 }
            forced = s
        }
        let host = target.host.hasPrefix("[") ? String(target.host.dropFirst().dropLast()) : target.host
        // Resolved as a relayed request's destination (SRV when no port). A forced socket of another transport or
        // address family cannot reach the target: refused, so the caller can choose again.
        let socket: SIPSocket, addr: SocketAddress
        switch core.localDestination(host: host, port: port, transport: target.param("transport")?.lowercased(),
                                     secure: target.scheme.lowercased() == "sips", forced: forced) {
        case .success(let found): (socket, addr) = found
        case .failure(let e) where e.code == -3: return -3
        case .failure:
            done(477)
            return 0
        }
        let n = sequence.add(1, ordering: .relaxed).newValue
        let branch = LocalRequests.branchPrefix + String(n, radix: 16) + String(core.secret & 0xffffff, radix: 16)
        let me = "\(socket.viaHost):\(socket.viaPort)"
        var text = "\(method) \(ruri) SIP/2.0\r\n"
        text += "Via: SIP/2.0/\(socket.viaTransport) \(me);branch=\(branch)\r\n"
        let tag = String(core.secret &+ UInt64(n), radix: 16)
        // A From line in extraHeaders (drouting's probing_from) replaces ours; it gets a tag if it has none.
        var extra = extraHeaders
        if let from = LocalRequests.takeFrom(&extra) {
            text += from.lowercased().contains(";tag=") ? "\(from)\r\n" : "\(from);tag=\(tag)\r\n"
        } else {
            text += "From: <sip:switchyard@\(me)>;tag=\(tag)\r\n"
        }
        text += "To: <\(ruri)>\r\n"
        text += "Call-ID: \(branch)@\(socket.viaHost)\r\n"
        text += "CSeq: 1 \(method)\r\n"
        // A Max-Forwards line in extraHeaders (dispatcher's ds_ping_maxfwd) replaces the default.
        if !extra.lowercased().hasPrefix("max-forwards:") && !extra.lowercased().contains("\nmax-forwards:") {
            text += "Max-Forwards: 70\r\n"
        }
        text += extra
        text += "Content-Length: 0\r\n\r\n"
        let deadline = LocalRequests.now() + UInt64(max(timeoutMS, 100)) * 1_000_000
        pending.withLock { $0[branch] = Pending(done: done, deadline: deadline) }
        kick()
        if !socket.send(conn: 0, to: addr, Array(text.utf8)) {
            if let p = pending.withLock({ $0.removeValue(forKey: branch) }) { p.done(477) }
        }
        return 0
    }
}
