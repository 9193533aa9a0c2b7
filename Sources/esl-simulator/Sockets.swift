#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin POSIX socket helpers (IPv4 TCP, TCP_NODELAY everywhere).
enum Sock {
    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Listens on host:port (port 0 = ephemeral); returns (fd, bound port).
    static func listen(host: String, port: Int) throws -> (Int32, Int) {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw SimulatorError("socket: errno \(errno)") }
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setNoDelay(fd)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { close(fd); throw SimulatorError("bad IPv4 address \(host)") }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { let e = errno; close(fd); throw SimulatorError("bind \(host):\(port): \(String(cString: strerror(e)))") }
        guard Glibc.listen(fd, 128) == 0 else { close(fd); throw SimulatorError("listen: errno \(errno)") }
        var bound = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return (fd, Int(UInt16(bigEndian: bound.sin_port)))
    }

    static func accept(_ fd: Int32) -> Int32 {
        while true {
            let c = Glibc.accept(fd, nil, nil)
            if c < 0 && errno == EINTR { continue }
            if c >= 0 { setNoDelay(c) }
            return c
        }
    }

    /// Writes everything; false on error.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes {
                fd <= 2 ? write(fd, $0.baseAddress! + off, bytes.count - off)
                    : send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL))
            }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            off += n
        }
        return true
    }

    /// Reads up to 64 KiB; nil on EOF/error.
    static func read(_ fd: Int32) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, 65536, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            return Array(buf[0..<n])
        }
    }
}

/// A mutex (pthread) usable from any thread.
final class Mutex: @unchecked Sendable {
    private var m = pthread_mutex_t()
    init() { pthread_mutex_init(&m, nil) }
    deinit { pthread_mutex_destroy(&m) }
    @discardableResult
    func with<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&m)
        defer { pthread_mutex_unlock(&m) }
        return try body()
    }
}

final class ThreadBox: @unchecked Sendable {
    let f: @Sendable () -> Void
    init(_ f: @escaping @Sendable () -> Void) { self.f = f }
}

/// Starts a detached POSIX thread running `body`.
func spawnThread(_ body: @escaping @Sendable () -> Void) {
    let box = Unmanaged.passRetained(ThreadBox(body)).toOpaque()
    var tid = pthread_t()
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    let rc = pthread_create(&tid, &attr, { p in
        let b = Unmanaged<ThreadBox>.fromOpaque(p!).takeRetainedValue()
        b.f()
        return nil
    }, box)
    pthread_attr_destroy(&attr)
    if rc != 0 { Unmanaged<ThreadBox>.fromOpaque(box).release() }
}

func sleepSeconds(_ s: Double) {
    guard s > 0 else { return }
    var ts = timespec(tv_sec: Int(s), tv_nsec: Int((s - Double(Int(s))) * 1e9))
    var rem = timespec()
    while nanosleep(&ts, &rem) != 0 && errno == EINTR { ts = rem }
}

func nowMicros() -> Int64 {
    var tv = timeval()
    gettimeofday(&tv, nil)
    return Int64(tv.tv_sec) * 1_000_000 + Int64(tv.tv_usec)
}

func randomUUID() -> String {
    var b = (0..<16).map { _ in UInt8.random(in: 0...255) }
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    let hx = Array("0123456789abcdef")
    var s = ""
    for (i, x) in b.enumerated() {
        if i == 4 || i == 6 || i == 8 || i == 10 { s.append("-") }
        s.append(hx[Int(x >> 4)]); s.append(hx[Int(x & 15)])
    }
    return s
}

/// Unbuffered write to stdout (fd 1) or stderr (fd 2).
func say(_ s: String, fd: Int32 = 1) {
    _ = Sock.writeAll(fd, Array(s.utf8))
}
