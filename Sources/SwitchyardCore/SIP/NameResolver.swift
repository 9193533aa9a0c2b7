#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Name lookups of the socket= and alias= names: A and AAAA through the system resolver. SIP destinations go
/// through NameCache (SRV, NAPTR, and the DNS globals: NameResolverSIP.swift).
enum NameResolver {
    /// Every address of a name, the IPv4 ones first (most SIP peers listen there), each family in the resolver's
    /// order.
    static func lookupAll(_ host: String, port: Int) -> [SocketAddress] {
        if let a = SocketAddress(ip: host, port: port) { return [a] }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let first = res else { return [] }
        defer { freeaddrinfo(res) }
        var v4: [SocketAddress] = [], v6: [SocketAddress] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let cur = p {
            if let sa = cur.pointee.ai_addr {
                let a = SocketAddress(sa, cur.pointee.ai_addrlen)
                if cur.pointee.ai_family == AF_INET { if !v4.contains(a) { v4.append(a) } } else if !v6.contains(a) { v6.append(a) }
            }
            p = cur.pointee.ai_next
        }
        return v4 + v6
    }

    static func lookup(_ host: String, port: Int) -> SocketAddress? { lookupAll(host, port: port).first }

    /// A hosts(5)-style table ("address name [name...]" per line; a name on several lines has several addresses, in
    /// the file's order). Read from the file `SWITCHYARD_HOSTS_FILE` names (DNSSettings.hostsFile), if set: names a test or a lab needs
    /// (several addresses for one name) without editing /etc/hosts.
    static func hostsTable(file: String?) -> [String: [String]] {
        guard let file, let text = try? String(contentsOfFile: file, encoding: .utf8) else { return [:] }
        var table: [String: [String]] = [:]
        for line in text.split(whereSeparator: { $0 == "\n" }) {
            let words = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
                .split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard words.count >= 2, SocketAddress(ip: words[0], port: 0) != nil else { continue }
            for name in words.dropFirst() { table[name.lowercased(), default: []].append(words[0]) }
        }
        return table
    }
}

/// The SIP core's resolver: SIPResolver with a DNSAnswerCache, so forward() to a gateway given by name does not
/// block a SIP worker in DNS lookups on every request. Numeric addresses never reach the cache (they need no lookup).
final class NameCache: Sendable {
    let resolver: SIPResolver

    /// `hosts`: the names of settings.hostsFile (read here when not given).
    init(ttl: TimeInterval = 30, settings: DNSSettings = DNSSettings(), hosts: [String: [String]]? = nil,
         log: (@Sendable (String) -> Void)? = nil) {
        resolver = SIPResolver(settings: settings, hosts: hosts ?? NameResolver.hostsTable(file: settings.hostsFile), log: log,
                               cache: DNSAnswerCache(ttl: ttl))
    }

    func lookup(_ host: String, port: Int) -> SocketAddress? {
        if let a = SocketAddress(ip: host, port: port) { return a }
        return lookupAll(host, port: port).first
    }

    /// A name's addresses at a port (A records; AAAA as dns_try_ipv6 says), no SRV: empty when it does not resolve.
    func lookupAll(_ host: String, port: Int) -> [SocketAddress] {
        resolver.addresses(host, port: port)
    }

    /// A SIP destination's addresses in the order DNS failover tries them (SIPResolver: NAPTR, SRV, A): `port` nil
    /// when the URI has none, `proto` nil when it names no transport. Empty when it does not resolve. The answers
    /// come from the cache; the SRV order is drawn anew on each call.
    func resolveSIP(_ host: String, port: Int?, proto: String?, secure: Bool) -> [ResolvedAddress] {
        resolver.resolve(host, port: port, proto: proto, secure: secure)
    }
}
