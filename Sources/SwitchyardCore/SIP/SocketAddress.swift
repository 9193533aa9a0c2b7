#if canImport(Glibc)
import Glibc
#endif

/// An IPv4/IPv6 address and port as the kernel wants it (a sockaddr_in or sockaddr_in6), with the text forms the
/// script sees ($si, Via received=) made only when asked for.
public struct SocketAddress: @unchecked Sendable, Equatable {
    /// Room for a sockaddr_in or a sockaddr_in6 (a SIP address is one or the other): 28 bytes, copied inline where a
    /// sockaddr_storage (128 bytes) took a memcpy call at each of the relay path's copies of an address.
    private var raw = sockaddr_in6()
    public var length: socklen_t = 0

    /// The address in a sockaddr_storage (the ABI's sy_sip_target carries one).
    public var storage: sockaddr_storage {
        var s = sockaddr_storage()
        withUnsafeMutableBytes(of: &s) { dst in withUnsafeBytes(of: raw) { dst.copyMemory(from: $0) } }
        return s
    }

    public init() {}

    /// From a numeric IP (IPv6 with or without brackets) and a port; nil if `ip` is not numeric.
    public init?(ip: String, port: Int) {
        let netPort = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
        if let v4 = IPv4Literal.parse(ip) {
            // The usual case (every request's Via host, every reply's next hop): no C string, no inet_pton.
            var sa4 = sockaddr_in()
            sa4.sin_family = sa_family_t(AF_INET)
            sa4.sin_port = netPort
            sa4.sin_addr.s_addr = v4
            store(sa4)
            return
        }
        var host = ip
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var sa4 = sockaddr_in()
        var sa6 = sockaddr_in6()
        // withCString: passing the String itself would copy it into a new array (a heap allocation per request).
        let family = host.withCString { p -> Int32 in
            if inet_pton(AF_INET, p, &sa4.sin_addr) == 1 { return AF_INET }
            if inet_pton(AF_INET6, p, &sa6.sin6_addr) == 1 { return AF_INET6 }
            return AF_UNSPEC
        }
        if family == AF_INET {
            sa4.sin_family = sa_family_t(AF_INET)
            sa4.sin_port = netPort
            store(sa4)
        } else if family == AF_INET6 {
            sa6.sin6_family = sa_family_t(AF_INET6)
            sa6.sin6_port = netPort
            store(sa6)
        } else {
            return nil
        }
    }

    /// An IPv4 address (network byte order, as `IPv4Literal.parse` gives it) and a port.
    init(ipv4 netAddress: UInt32, port: Int) {
        var sa4 = sockaddr_in()
        sa4.sin_family = sa_family_t(AF_INET)
        sa4.sin_port = in_port_t(UInt16(truncatingIfNeeded: port)).bigEndian
        sa4.sin_addr.s_addr = netAddress
        store(sa4)
    }

    /// The IPv4 address in network byte order; nil for another family.
    var ipv4: UInt32? {
        guard family == AF_INET else { return nil }
        return withUnsafeBytes(of: raw) { $0.load(as: sockaddr_in.self).sin_addr.s_addr }
    }

    /// Puts a sockaddr_in / sockaddr_in6 into the storage.
    private mutating func store<T>(_ sa: T) {
        withUnsafeMutableBytes(of: &raw) { dst in withUnsafeBytes(of: sa) { dst.copyMemory(from: $0) } }
        length = socklen_t(MemoryLayout<T>.size)
    }

    /// Copies a kernel address.
    public init(_ sa: UnsafePointer<sockaddr>, _ len: socklen_t) {
        let n = min(Int(len), MemoryLayout<sockaddr_in6>.size)
        withUnsafeMutableBytes(of: &raw) { $0.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: n)) }
        length = socklen_t(n)
    }

    public var family: Int32 { Int32(raw.sin6_family) }

    public var port: Int {
        get {
            withUnsafeBytes(of: raw) { raw in
                switch Int32(self.raw.sin6_family) {
                case AF_INET: return Int(UInt16(bigEndian: raw.load(as: sockaddr_in.self).sin_port))
                case AF_INET6: return Int(UInt16(bigEndian: raw.load(as: sockaddr_in6.self).sin6_port))
                default: return 0
                }
            }
        }
        set {
            // The same address at another port, without formatting and parsing the IP again.
            let netPort = in_port_t(UInt16(truncatingIfNeeded: newValue)).bigEndian
            let family = Int32(raw.sin6_family)
            withUnsafeMutableBytes(of: &raw) { raw in
                switch family {
                case AF_INET: raw.storeBytes(of: netPort, toByteOffset: MemoryLayout<sockaddr_in>.offset(of: \sockaddr_in.sin_port)!, as: in_port_t.self)
                case AF_INET6: raw.storeBytes(of: netPort, toByteOffset: MemoryLayout<sockaddr_in6>.offset(of: \sockaddr_in6.sin6_port)!, as: in_port_t.self)
                default: break
                }
            }
        }
    }

    /// The numeric IP text (IPv6 without brackets).
    public var ip: String {
        var buf = [CChar](repeating: 0, count: 64)
        withUnsafeBytes(of: raw) { raw in
            switch Int32(self.raw.sin6_family) {
            case AF_INET:
                var a = raw.load(as: sockaddr_in.self).sin_addr
                _ = inet_ntop(AF_INET, &a, &buf, socklen_t(buf.count))
            case AF_INET6:
                var a = raw.load(as: sockaddr_in6.self).sin6_addr
                _ = inet_ntop(AF_INET6, &a, &buf, socklen_t(buf.count))
            default: break
            }
        }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// IP as it goes into a URI or Via (IPv6 in brackets).
    public var uriHost: String { family == AF_INET6 ? "[\(ip)]" : ip }

    public var text: String { "\(uriHost):\(port)" }

    /// True for 0.0.0.0 / ::.
    public var isAny: Bool {
        withUnsafeBytes(of: raw) { raw in
            switch Int32(self.raw.sin6_family) {
            case AF_INET: return raw.load(as: sockaddr_in.self).sin_addr.s_addr == 0
            case AF_INET6:
                let a = raw.load(as: sockaddr_in6.self).sin6_addr
                return withUnsafeBytes(of: a) { $0.allSatisfy { $0 == 0 } }
            default: return false
            }
        }
    }

    /// True when `text` (an IP, IPv6 with or without brackets) is this address's IP. No formatting:
    /// this runs for every request (does the sender's Via need `received=`?).
    public func hasIP(_ text: String) -> Bool {
        guard let other = SocketAddress(ip: text, port: 0), other.family == family else { return false }
        return withUnsafeBytes(of: raw) { a in
            withUnsafeBytes(of: other.raw) { b in
                switch family {
                case AF_INET:
                    return a.load(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \sockaddr_in.sin_addr)!, as: UInt32.self)
                        == b.load(fromByteOffset: MemoryLayout<sockaddr_in>.offset(of: \sockaddr_in.sin_addr)!, as: UInt32.self)
                case AF_INET6:
                    let off = MemoryLayout<sockaddr_in6>.offset(of: \sockaddr_in6.sin6_addr)!
                    return memcmp(a.baseAddress! + off, b.baseAddress! + off, 16) == 0
                default: return false
                }
            }
        }
    }

    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafeBytes(of: raw) { raw in body(raw.baseAddress!.assumingMemoryBound(to: sockaddr.self), length) }
    }

    public static func == (a: SocketAddress, b: SocketAddress) -> Bool {
        a.length == b.length && withUnsafeBytes(of: a.raw) { x in
            withUnsafeBytes(of: b.raw) { y in memcmp(x.baseAddress!, y.baseAddress!, Int(a.length)) == 0 }
        }
    }
}
