// Finding executables and watching loopback ports, for tests that start peers (sipp, switchyard) and wait for them.
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

public enum LocalPorts {
    /// The first executable `name` on PATH.
    public static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        return nil
    }

    /// 127.0.0.1:port.
    public static func loopback(port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return addr
    }

    /// True when a socket of this machine is bound to `port` (UDP, or TCP when `tcp`), read from the kernel's socket
    /// tables (/proc/net/udp, udp6, tcp, tcp6). Probing by binding the port ourselves would hold it for a moment: a
    /// server polled that way while it starts can find its port taken by the probe and exit ("Address already in
    /// use"). Without /proc, falls back to that probe.
    public static func inUse(_ port: Int, tcp: Bool = false) -> Bool {
        let kind = tcp ? "tcp" : "udp"
        var readAny = false
        for table in ["/proc/net/\(kind)", "/proc/net/\(kind)6"] {
            guard let text = readWhole(table) else { continue }
            readAny = true
            if boundPorts(inTable: text).contains(port) { return true }
        }
        return readAny ? false : probeByBinding(port, tcp: tcp)
    }

    /// A /proc file read to its end. The kernel hands such a table out a page at a time and reports its size as 0, so
    /// one read (as a whole-file read sized by stat does) would see only the first sockets.
    static func readWhole(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The local ports in a /proc/net/{udp,tcp}[6] table: its second column is `address:PORT` in hex.
    static func boundPorts(inTable text: String) -> Set<Int> {
        var ports = Set<Int>()
        for line in text.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ", omittingEmptySubsequences: true)
            guard columns.count > 1, let colon = columns[1].lastIndex(of: ":"),
                  let port = Int(columns[1][columns[1].index(after: colon)...], radix: 16) else { continue }
            ports.insert(port)
        }
        return ports
    }

    /// Binds 127.0.0.1:port for a moment: EADDRINUSE means something holds it.
    private static func probeByBinding(_ port: Int, tcp: Bool) -> Bool {
        let fd = socket(AF_INET, Int32(tcp ? SOCK_STREAM.rawValue : SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = loopback(port: port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc != 0 && errno == EADDRINUSE
    }

    /// Polls until the port is bound (true), `alive` turns false or `timeout` passes (false).
    public static func waitFor(_ port: Int, tcp: Bool = false, timeout: TimeInterval = 10, while alive: () -> Bool) -> Bool {
        var gone = false
        let bound = waitUntil(timeout: timeout, poll: 0.02) {
            if inUse(port, tcp: tcp) { return true }
            gone = !alive()
            return gone
        }
        return bound && !gone
    }

    /// A UDP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released), not in `avoid`.
    public static func freeUDPPort(avoid: Set<Int> = []) -> Int {
        for _ in 0..<50 {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var addr = loopback(port: 0)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { continue }
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            }
            let port = Int(UInt16(bigEndian: addr.sin_port))
            if port > 0 && !avoid.contains(port) { return port }
        }
        return 0
    }

    /// `n` distinct ports on 127.0.0.1, each free for UDP and TCP a moment ago (kernel-assigned, as freeUDPPort), not
    /// in `avoid`: a test's proxy and peers, instead of fixed numbers another run may hold. Always `n` of them: when it
    /// cannot find them the test fails (and the missing ones are 0).
    public static func freePorts(_ n: Int, avoid: Set<Int> = []) -> [Int] {
        var taken = avoid
        var out: [Int] = []
        var tries = 0
        while out.count < n && tries < 200 {
            tries += 1
            let p = freeUDPPort(avoid: taken)
            guard p > 0, !inUse(p, tcp: true) else { continue }
            taken.insert(p)
            out.append(p)
        }
        if out.count < n {
            // Fail the test rather than let a caller index past the end; the zeros make anything bound to them fail.
            XCTFail("LocalPorts.freePorts: only \(out.count) of \(n) free ports found")
            out += Array(repeating: 0, count: n - out.count)
        }
        return out
    }
}
