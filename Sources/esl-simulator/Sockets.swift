import Synchronization
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

/// Version-4 style UUIDs from a SplitMix64 stream seeded once from the system generator: the flood makes one per
/// event, and 16 getrandom() calls per UUID were a tenth of the simulator's CPU. Unique, not cryptographic.
private let uuidCounter = Atomic<UInt64>(UInt64.random(in: 0...UInt64.max))

private func splitMix() -> UInt64 {
    var z = uuidCounter.wrappingAdd(0x9E37_79B9_7F4A_7C15, ordering: .relaxed).newValue
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

func randomUUID() -> String {
    let a = splitMix(), b = splitMix()
    var bytes = [UInt8](repeating: 0, count: 16)
    for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: a >> (8 * UInt64(i))); bytes[8 + i] = UInt8(truncatingIfNeeded: b >> (8 * UInt64(i))) }
    bytes[6] = (bytes[6] & 0x0F) | 0x40
    bytes[8] = (bytes[8] & 0x3F) | 0x80
    let hex: StaticString = "0123456789abcdef"
    return String(unsafeUninitializedCapacity: 36) { out in
        var n = 0
        for (i, x) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out[n] = UInt8(ascii: "-"); n += 1 }
            out[n] = hex.utf8Start[Int(x >> 4)]; out[n + 1] = hex.utf8Start[Int(x & 15)]; n += 2
        }
        return n
    }
}

/// Unbuffered write to stdout (fd 1) or stderr (fd 2).
func say(_ s: String, fd: Int32 = 1) {
    _ = Sock.writeAll(fd, Array(s.utf8))
}
