// t_write_*: the text goes to a FIFO (t_write_req) or as one datagram to a unix socket (t_write_unix).
#if canImport(Glibc)
import Glibc
#endif

extension TWrite {
    /// Writes the text to a FIFO in one go, without waiting for a reader (nil, or why it failed).
    static func writeFIFO(_ path: String, _ bytes: [UInt8]) -> String? {
        let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENXIO { return "nobody listening on [\(path)] fifo for reading" }
            return "failed to open [\(path)] fifo: \(String(cString: strerror(errno)))"
        }
        defer { close(fd) }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                return "write to [\(path)] failed: \(String(cString: strerror(errno)))"
            }
            off += n
        }
        return nil
    }

    /// Sends the text as one datagram to a unix socket, waiting at most `timeoutMS` for room in its queue; nil:
    /// one try only, failing at once when the queue is full.
    static func sendUnix(_ path: String, _ bytes: [UInt8], timeoutMS: Int?) -> String? {
        var sa = sockaddr_un()
        let p = Array(path.utf8)
        guard !p.isEmpty else { return "empty socket name" }
        guard p.count < MemoryLayout.size(ofValue: sa.sun_path) else { return "socket name too long" }
        sa.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &sa.sun_path) { dst in
            dst.copyBytes(from: p)
            dst[p.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return "socket(): \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { return "failed to connect to [\(path)]: \(String(cString: strerror(errno)))" }
        let deadline = nowMS() + Int64(max(0, timeoutMS ?? 0))
        while true {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n >= 0 { return nil }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else {
                return "send to [\(path)] failed: \(String(cString: strerror(errno)))"
            }
            // The receiver's queue is full: wait for room until unix_tx_timeout (request route only).
            guard timeoutMS != nil else { return "send to [\(path)] would block (receiver's queue full; no wait here)" }
            let left = deadline - nowMS()
            guard left > 0 else { return "send to [\(path)] timed out (unix_tx_timeout)" }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&pfd, 1, Int32(clamping: left))
        }
    }
}
