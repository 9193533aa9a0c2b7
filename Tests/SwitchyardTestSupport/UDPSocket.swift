// A UDP socket on the loopback address for tests that play a SIP peer by hand.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A UDP socket on 127.0.0.1 (port 0 = ephemeral) with a 100 ms receive timeout.
public final class UDPSocket: @unchecked Sendable { // fd and port immutable after init
    public let fd: Int32
    public let port: Int

    public static func loopback(port: Int) -> sockaddr_in { LocalPorts.loopback(port: port) }

    public init(port: Int = 0) throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "socket", code: Int(errno)) }
        var addr = Self.loopback(port: port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw NSError(domain: "bind", code: Int(errno)) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: addr.sin_port))
        var tv = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    public func send(_ text: String, to port: Int) {
        var addr = Self.loopback(port: port)
        send(text, to: &addr)
    }

    /// Sends bytes as they are (a binary body, bytes that are not UTF-8).
    public func send(bytes: [UInt8], to port: Int) {
        var addr = Self.loopback(port: port)
        send(bytes: bytes, to: &addr)
    }

    public func send(_ text: String, to addr: inout sockaddr_in) {
        send(bytes: Array(text.utf8), to: &addr)
    }

    public func send(bytes: [UInt8], to addr: inout sockaddr_in) {
        _ = withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    /// One datagram and its source, or nil after the 100 ms receive timeout.
    public func receive() -> (String, sockaddr_in)? {
        var buf = [UInt8](repeating: 0, count: 65536)
        var from = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = withUnsafeMutablePointer(to: &from) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buf, buf.count, 0, $0, &len) } }
        guard n > 0 else { return nil }
        return (String(decoding: buf[0..<n], as: UTF8.self), from)
    }
}
