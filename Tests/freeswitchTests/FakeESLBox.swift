import Foundation
#if canImport(Glibc)
import Glibc
import SwitchyardTestSupport
#endif

/// A misbehaving FreeSWITCH on 127.0.0.1:`port` (kernel-assigned) over real TCP: it asks for auth, then per `mode` accepts the password
/// and sends a bad frame, or refuses the password. It records when each connection arrived.
final class FakeESLBox: @unchecked Sendable { // mutable state guarded by lock
    enum Mode { case acceptThenBadFrame(String), refuse }

    let port: Int
    private let listenFD: Int32
    private let lock = NSLock()
    private var _mode: Mode
    private var _arrivals: [Date] = []
    private var _stopped = false
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
}
