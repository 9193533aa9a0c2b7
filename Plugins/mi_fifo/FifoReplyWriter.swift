// Writes one reply into the client's reply FIFO, `reply_dir + name`, never blocking for long: the FIFO is opened
// non-blocking (ENXIO = no reader yet: retried after 1, 5 and 20 ms, then 4 times 80 ms apart as OpenSIPS does — the
// client usually opens its end within a millisecond of writing — then the reply is dropped), must be a FIFO with
// a single link (O_NOFOLLOW refuses a symlink), and is written with a deadline.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardPluginKit

struct FifoReplyWriter: Sendable {
    let host: PluginHost
    let replyDir: String
    /// Waits before each retry of an open that failed with ENXIO (OpenSIPS: 4 × 80 ms; short ones first here).
    /// The client opens its reply FIFO right after writing the request, so the first retries come quickly (the reply
    /// is usually ready before the client has opened it); the total wait stays about a third of a second.
    static let retryDelaysUs: [UInt32] = [10, 20, 50, 100, 200, 500, 1_000, 5_000, 20_000, 80_000, 80_000, 80_000, 80_000]
    /// A reader that stops reading mid-reply gets this long in total.
    static let writeTimeoutMs = 5_000

    /// Worker threads block SIGPIPE so a client closing its reply FIFO early gives EPIPE, not a dead process;
    /// a pending SIGPIPE is consumed after each EPIPE.
    static func blockSIGPIPE() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    private static func consumeSIGPIPE() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        var ts = timespec(tv_sec: 0, tv_nsec: 0)
        while sigtimedwait(&set, nil, &ts) == SIGPIPE {}
    }

    func write(_ reply: [UInt8], to name: String) {
        let path = replyDir + name
        var fd: Int32 = -1
        for attempt in 0...Self.retryDelaysUs.count {
            fd = open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 { break }
            let e = errno
            guard e == ENXIO || e == EINTR, attempt < Self.retryDelaysUs.count else {
                host.log(.err, "cannot open reply FIFO \(path): \(errorText(e))\(e == ENXIO ? " (no reader): reply dropped" : "")")
                return
            }
            if e == ENXIO { usleep(Self.retryDelaysUs[attempt]) }
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFIFO, st.st_nlink == 1 else {
            host.log(.err, "reply file \(path) is not a FIFO with a single link: reply dropped")
            return
        }
        let deadline = monotonicNs() + UInt64(Self.writeTimeoutMs) * 1_000_000
        var off = 0
        while off < reply.count {
            let n = reply.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n > 0 { off += n; continue }
            let e = errno
            if n < 0 && e == EINTR { continue }
            if n < 0 && e == EAGAIN {
                let now = monotonicNs()
                guard now < deadline else { host.log(.err, "reply FIFO \(path): client not reading, reply cut"); return }
                var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                _ = poll(&pfd, 1, Int32(min(UInt64(200), (deadline - now) / 1_000_000 + 1)))
                continue
            }
            if e == EPIPE { Self.consumeSIGPIPE() }
            host.log(.err, "cannot write reply FIFO \(path): \(errorText(e))")
            return
        }
    }
}
