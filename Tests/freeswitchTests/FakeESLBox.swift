import Foundation
#if canImport(Glibc)
import Glibc
import SwitchyardTestSupport
#endif

/// A misbehaving FreeSWITCH on 127.0.0.1:`port` (kernel-assigned) over real TCP: it asks for auth, then per `mode` accepts the password
/// and sends a bad frame, refuses the password, or accepts it and answers +OK to every command while the test
/// pushes frames of its own (`push`). It records when each connection arrived and the commands it received.
final class FakeESLBox: @unchecked Sendable { // mutable state guarded by lock
    enum Mode { case acceptThenBadFrame(String), refuse, acceptAndServe }

    let port: Int
    private let listenFD: Int32
    private let lock = NSLock()
    private var _mode: Mode
    private var _arrivals: [Date] = []
    private var _stopped = false
    private var _commands: [String] = []
    private var connection: Int32 = -1
    private var _answering = true
    private var _closed = false
    private var thread: Thread?

    init(mode: Mode) throws {
        _mode = mode
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "socket", code: Int(errno)) }
        // Port 0: the kernel picks a free one, read back below.
        var addr = LocalPorts.loopback(port: 0)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard rc == 0, listen(fd, 64) == 0, withUnsafeMutablePointer(to: &addr, {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }) == 0 else {
            let e = errno
            close(fd)
            throw NSError(domain: "bind 127.0.0.1:0", code: Int(e))
        }
        listenFD = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        let t = Thread { [self] in acceptLoop() }
        thread = t
        t.start()
    }

    var mode: Mode {
        get { lock.lock(); defer { lock.unlock() }; return _mode }
        set { lock.lock(); _mode = newValue; lock.unlock() }
    }

    var arrivals: [Date] { lock.lock(); defer { lock.unlock() }; return _arrivals }

    /// A connection was served and has ended (mode acceptAndServe).
    var connectionClosed: Bool { lock.lock(); defer { lock.unlock() }; return _closed }

    /// Whether commands are answered (mode acceptAndServe); when not, they are still recorded.
    var answering: Bool {
        get { lock.lock(); defer { lock.unlock() }; return _answering }
        set { lock.lock(); _answering = newValue; lock.unlock() }
    }

    /// The first line of each command received after auth (mode acceptAndServe).
    var commands: [String] { lock.lock(); defer { lock.unlock() }; return _commands }

    /// Writes `s` to the connection being served (mode acceptAndServe); false when there is none.
    @discardableResult
    func push(_ s: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard connection >= 0 else { return false }
        send(connection, s)
        return true
    }

    /// A text/event-json frame carrying `body` as it is.
    static func jsonEvent(_ body: String) -> String {
        "Content-Length: \(body.utf8.count)\nContent-Type: text/event-json\n\n" + body
    }

    private var stopped: Bool { lock.lock(); defer { lock.unlock() }; return _stopped }

    func stop() {
        lock.lock(); _stopped = true; lock.unlock()
        shutdown(listenFD, Int32(SHUT_RDWR))
        waitUntil(timeout: 3) { thread?.isFinished ?? true }
        close(listenFD)
    }

    private func acceptLoop() {
        while !stopped {
            var p = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let fd = accept(listenFD, nil, nil)
            if fd < 0 { continue }
            lock.lock(); _arrivals.append(Date()); lock.unlock()
            serve(fd)
            close(fd)
        }
    }

    private func send(_ fd: Int32, _ s: String) {
        let b = Array(s.utf8)
        _ = b.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until the peer has sent a blank line (one command) or closed; false when closed or on timeout.
    private func readCommand(_ fd: Int32) -> Bool {
        var got: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        let end = Date().addingTimeInterval(3)
        while Date() < end {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { return false }
            got += buf[0..<n]
            if got.count >= 2 && got.suffix(2) == [10, 10] { return true }
        }
        return false
    }

    private func serve(_ fd: Int32) {
        send(fd, "Content-Type: auth/request\n\n")
        guard readCommand(fd) else { return }
        switch mode {
        case .refuse:
            send(fd, "Content-Type: command/reply\nReply-Text: -ERR invalid\n\n")
        case .acceptAndServe:
            send(fd, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
            lock.lock(); connection = fd; lock.unlock()
            answerCommands(fd)
            lock.lock(); connection = -1; _closed = true; lock.unlock()
        case .acceptThenBadFrame(let frame):

            send(fd, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
            send(fd, frame)
            // The client drops the connection: drain until it has.
            var buf = [UInt8](repeating: 0, count: 4096)
            let end = Date().addingTimeInterval(3)
            while Date() < end {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&p, 1, 100) > 0 else { continue }
                if recv(fd, &buf, buf.count, 0) <= 0 { return }
            }
        }
    }

    /// Answers +OK to each command (a block ending in a blank line) until the peer closes or the box stops.
    private func answerCommands(_ fd: Int32) {
        var got: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while !stopped {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { return }
            got += buf[0..<n]
            while let end = got.indices.dropFirst().first(where: { got[$0] == 10 && got[$0 - 1] == 10 }) {
                let text = String(decoding: got[...end], as: UTF8.self)
                got.removeSubrange(...end)
                lock.lock()
                _commands.append(String(text.split(separator: "\n").first ?? ""))
                if _answering { send(fd, "Content-Type: command/reply\nReply-Text: +OK\n\n") }
                lock.unlock()
            }
        }
    }
}
