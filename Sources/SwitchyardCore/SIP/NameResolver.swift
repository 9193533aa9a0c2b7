#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Name lookups for SIP destinations (A/AAAA through the system resolver; no SRV/NAPTR).
enum NameResolver {
    static func lookup(_ host: String, port: Int) -> SocketAddress? {
        if let a = SocketAddress(ip: host, port: port) { return a }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let first = res else { return nil }
        defer { freeaddrinfo(res) }
        var p: UnsafeMutablePointer<addrinfo>? = first
        // Prefer IPv4, as most SIP peers listen there.
        while let cur = p {
            if cur.pointee.ai_family == AF_INET, let sa = cur.pointee.ai_addr {
                return SocketAddress(sa, cur.pointee.ai_addrlen)
            }
            p = cur.pointee.ai_next
        }
        guard let sa = first.pointee.ai_addr else { return nil }
        return SocketAddress(sa, first.pointee.ai_addrlen)
    }
}

/// Resolved destination names, kept for `ttl` seconds: forward() to a gateway given by name would otherwise block
/// a SIP worker in getaddrinfo on every request. Numeric addresses are never cached (they need no lookup).
final class NameCache: Sendable {
    private let entries = Mutex<[String: (address: SocketAddress, expires: UInt64)]>([:])
    private let ttlNs: UInt64
    static let maxEntries = 4096

    init(ttl: TimeInterval = 30) { ttlNs = UInt64(ttl * 1e9) }

    func lookup(_ host: String, port: Int) -> SocketAddress? {
        if let a = SocketAddress(ip: host, port: port) { return a }
        let key = "\(host.lowercased()):\(port)"
        let now = DispatchTime.now().uptimeNanoseconds
        if let e = entries.withLock({ $0[key] }), e.expires > now { return e.address }
        guard let a = NameResolver.lookup(host, port: port) else { return nil }
        entries.withLock { m in
            if m.count >= Self.maxEntries { m.removeAll(keepingCapacity: true) }
            m[key] = (a, now + ttlNs)
        }
        return a
    }
}
