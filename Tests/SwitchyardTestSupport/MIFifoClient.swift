// opensips-cli's FIFO handshake done by hand, for tests that need what the real CLI cannot do (concurrent or partial
// writers, chosen reply names). One copy for mi_fifo's and tm's tests.
import Foundation

public enum MIFifoClient {
    /// A reply FIFO opened for reading, with a writer of our own held open until the server's first bytes arrive:
    /// poll() reports a FIFO with no writer readable at once, so without it the wait for the server would spin.
    public final class ReplyFIFO {
        public let fd: Int32
        private var holder: Int32

        /// Opens `path` (a FIFO that exists); nil if it cannot.
        public init?(path: String) {
            fd = open(path, O_RDONLY | O_NONBLOCK)  // our read end first, so the server's open never sees ENXIO
            guard fd >= 0 else { return nil }
            holder = open(path, O_WRONLY | O_NONBLOCK)
            guard holder >= 0 else { close(fd); return nil }
        }

        deinit {
            if holder >= 0 { close(holder) }
            close(fd)
        }

        /// The whole reply: read until the server closes its end. Nil if nothing came within `timeout`.
        public func read(timeout: Double) -> String? {
            var data: [UInt8] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            let end = Date().addingTimeInterval(timeout)
            while true {
                let left = end.timeIntervalSinceNow
                if left <= 0 { break }
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, Int32(left * 1000) + 1) > 0 else { continue }
                let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    data += buf[0..<n]
                    // The server has its end open now: drop ours, so its close is seen as the end of the reply.
                    if holder >= 0 { close(holder); holder = -1 }
                    continue
                }
                if n == 0 { break }  // every writer closed: the reply is complete
                if errno != EAGAIN && errno != EINTR { break }
            }
            return data.isEmpty ? nil : String(decoding: data, as: UTF8.self)
        }
    }

    /// Creates `<dir>/<name>`, writes `:name:body` into `<dir>/fifo` and returns the reply (nil after `timeout` with
    /// none; a short text naming the step if the FIFO handshake itself failed).
    public static func request(dir: String, body: [UInt8], name: String, timeout: Double = 5) -> String? {
        let replyPath = "\(dir)/\(name)"
        unlink(replyPath)
        guard mkfifo(replyPath, 0o666) == 0 else { return "mkfifo failed" }
        defer { unlink(replyPath) }
        guard let reply = ReplyFIFO(path: replyPath) else { return "open reply failed" }
        let wfd = open("\(dir)/fifo", O_WRONLY)
        guard wfd >= 0 else { return "open fifo failed" }
        let frame = Array(":\(name):".utf8) + body
        var off = 0
        while off < frame.count {
            let n = frame.withUnsafeBytes { write(wfd, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { break }
            off += n
        }
        close(wfd)
        return reply.read(timeout: timeout)
    }
}
