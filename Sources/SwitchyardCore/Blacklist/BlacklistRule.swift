#if canImport(Glibc)
import Glibc
#endif

/// One rule of a destination blacklist: `[!](proto, ip[/mask], port, "pattern")`. A destination matches when the
/// protocol (or `any`), the network, the port (0 = any) and the shell-style pattern over the outgoing request's text
/// (none = any) all match; `!` turns the rule around (everything except that).
public struct BlacklistRule: Sendable, Equatable {
    public var negated = false
    /// Lower-case transport name; nil for `any`.
    public var proto: String?
    public var network: IPNetwork
    public var port = 0
    public var pattern: String?
    /// Uptime in nanoseconds after which the rule is gone (0: never); set by add_blacklist_rule with an expire.
    public var expiresAt: UInt64 = 0

    /// Same rule (what del_blacklist_rule and the duplicate check compare): everything but the expiry.
    public func sameRule(_ o: BlacklistRule) -> Bool {
        negated == o.negated && proto == o.proto && network == o.network && port == o.port && pattern == o.pattern
    }

    /// True when the rule, negation applied, says the destination is blacklisted.
    func matches(ip: IPBytes, port p: Int, proto pr: String, text: () -> String) -> Bool {
        var hit = (port == 0 || port == p) && (proto == nil || proto == pr) && network.contains(ip)
        if hit, let pattern {
            hit = text().withCString { t in fnmatch(pattern, t, 0) == 0 }
        }
        return hit != negated
    }

    /// The rule as written back (list_blacklists, messages).
    public var text: String {
        "\(negated ? "!" : "")(\(proto ?? "any"), \(network.text), \(port), \"\(pattern ?? "")\")"
    }
}

/// An address with its family, held as a 128-bit big-endian number (an IPv4 one in the low 32 bits): matched
/// against a rule's network with two masks and compares, no array.
public struct IPBytes: Sendable, Equatable {
    public var v6: Bool
    var hi: UInt64 = 0
    var lo: UInt64 = 0

    public init?(_ text: String) {
        var t = text
        if t.hasPrefix("["), t.hasSuffix("]") { t = String(t.dropFirst().dropLast()) }
        var a4 = in_addr()
        if inet_pton(AF_INET, t, &a4) == 1 {
            self.init(v6: false, bytes: withUnsafeBytes(of: &a4) { Array($0) })
            return
        }
        var a6 = in6_addr()
        guard inet_pton(AF_INET6, t, &a6) == 1 else { return nil }
        self.init(v6: true, bytes: withUnsafeBytes(of: &a6) { Array($0) })
    }

    /// Straight from a socket address (the destination a request is sent to): no text, no allocation.
    init?(_ a: SocketAddress) {
        let s = a.storage
        switch Int32(s.ss_family) {
        case AF_INET:
            v6 = false
            lo = UInt64(UInt32(bigEndian: withUnsafeBytes(of: s) { $0.load(as: sockaddr_in.self).sin_addr.s_addr }))
        case AF_INET6:
            v6 = true
            let a6 = withUnsafeBytes(of: s) { $0.load(as: sockaddr_in6.self).sin6_addr }
            withUnsafeBytes(of: a6) { r in
                hi = UInt64(bigEndian: r.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
                lo = UInt64(bigEndian: r.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
        default:
            return nil
        }
    }

    init(v6: Bool, bytes: [UInt8]) {
        self.v6 = v6
        for (i, b) in bytes.enumerated() {
            if i < bytes.count - 8 { hi = hi << 8 | UInt64(b) } else { lo = lo << 8 | UInt64(b) }
        }
    }

    /// 4 or 16 bytes, network order (for the text forms).
    var bytes: [UInt8] {
        if !v6 { return (0..<4).map { UInt8(truncatingIfNeeded: lo >> (24 - 8 * UInt64($0))) } }
        return (0..<8).map { UInt8(truncatingIfNeeded: hi >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: lo >> (56 - 8 * UInt64($0))) }
    }
}

/// `ip[/bits|/mask]`: the network a rule covers (no mask: the address alone).
public struct IPNetwork: Sendable, Equatable {
    public var address: IPBytes
    var maskBits: IPBytes

    public var mask: [UInt8] { maskBits.bytes }

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let ip = IPBytes(parts[0].blTrimmed) else { return nil }
        let n = ip.v6 ? 16 : 4
        var mask = [UInt8](repeating: 0xff, count: n)
        if parts.count == 2 {
            let m = parts[1].blTrimmed
            if let bits = Int(m) {
                guard bits >= 0, bits <= n * 8 else { return nil }
                for i in 0..<n {
                    let b = max(0, min(8, bits - i * 8))
                    mask[i] = b == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - b))
                }
            } else {
                guard let mb = IPBytes(m), mb.v6 == ip.v6 else { return nil }
                mask = mb.bytes
            }
        }
        maskBits = IPBytes(v6: ip.v6, bytes: mask)
        address = IPBytes(v6: ip.v6, bytes: zip(ip.bytes, mask).map { $0 & $1 })
    }

    func contains(_ ip: IPBytes) -> Bool {
        ip.v6 == address.v6 && ip.hi & maskBits.hi == address.hi && ip.lo & maskBits.lo == address.lo
    }

    var text: String {
        func show(_ b: [UInt8], _ v6: Bool) -> String {
            var buf = [CChar](repeating: 0, count: 64)
            var bytes = b
            _ = bytes.withUnsafeMutableBytes { inet_ntop(v6 ? AF_INET6 : AF_INET, $0.baseAddress, &buf, 64) }
            return String(decoding: buf.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return "\(show(address.bytes, address.v6))/\(show(mask, address.v6))"
    }

    /// The address and the mask as list_blacklists shows them.
    var ipText: String { String(text.split(separator: "/")[0]) }
    var maskText: String { String(text.split(separator: "/")[1]) }
}

extension String {
    var blTrimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\n" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
