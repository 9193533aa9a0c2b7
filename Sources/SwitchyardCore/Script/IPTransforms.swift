#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The address conversions of the `ip.` class (OpenSIPS's tr_eval_ip): text to the 4 or 16 network-order bytes
/// and back, as str2ip/str2ip6 and ip_addr2a do.
///
/// A binary address travels between transformations as a string whose characters are the bytes (U+0000..U+00FF),
/// because values are strings here; `{ip.pton}{ip.ntop}` and `{ip.pton}{ip.family}` round-trip exactly, but
/// `{s.len}` of a packed address with bytes of 0x80 or more counts their UTF-8 form.
enum IPTransforms {
    /// str2ip, then str2ip6 (which accepts the bracketed form).
    static func pton(_ s: String) -> [UInt8]? {
        var a4 = in_addr()
        if inet_pton(AF_INET, s, &a4) == 1 { return withUnsafeBytes(of: &a4) { Array($0) } }
        var t = s
        if t.hasPrefix("["), t.hasSuffix("]") { t = String(t.dropFirst().dropLast()) }
        var a6 = in6_addr()
        if inet_pton(AF_INET6, t, &a6) == 1 { return withUnsafeBytes(of: &a6) { Array($0) } }
        return nil
    }

    /// ip_addr2a: dotted decimal, or eight uppercase hex groups without leading zeros and without "::".
    static func ntoa(_ b: [UInt8]) -> String? {
        switch b.count {
        case 4: return b.map { String($0) }.joined(separator: ".")
        case 16:
            return stride(from: 0, to: 16, by: 2)
                .map { String(UInt16(b[$0]) << 8 | UInt16(b[$0 + 1]), radix: 16, uppercase: true) }
                .joined(separator: ":")
        default: return nil
        }
    }

    static func packed(_ b: [UInt8]) -> String { String(String.UnicodeScalarView(b.map { Unicode.Scalar($0) })) }

    /// The bytes of a packed address (see the type's note); text that is not one reads as its UTF-8 bytes.
    static func unpacked(_ s: String) -> [UInt8] {
        if s.unicodeScalars.allSatisfy({ $0.value <= 0xFF }) { return s.unicodeScalars.map { UInt8($0.value) } }
        return Array(s.utf8)
    }

    /// `ip/len` with either family; nil when the text, the mask or the families do not fit (matchnet's error).
    static func matches(_ ip: String, _ net: String) -> Bool? {
        guard let a = pton(ip), let slash = net.firstIndex(of: "/"), let b = pton(String(net[..<slash])),
              let bits = Int(net[net.index(after: slash)...]), bits >= 0, bits <= b.count * 8, a.count == b.count
        else { return nil }
        var left = bits
        for i in 0..<a.count where left > 0 {
            let m: UInt8 = left >= 8 ? 0xFF : ~(0xFF >> UInt8(left))
            if a[i] & m != b[i] & m { return false }
            left -= 8
        }
        return true
    }

    /// ip.resolve: the first address of the name (IPv4 first), printed as ip_addr2a prints it; null when the name
    /// does not resolve.
    static func resolve(_ host: String) -> Value {
        if let b = pton(host), let t = ntoa(b) { return .str(t) }
        guard let a = NameResolver.lookup(host, port: 0), let b = pton(a.ip), let t = ntoa(b) else { return .null }
        return .str(t)
    }

    /// ip.resolve4 / ip.resolve6: as ip.resolve, but only an address of that family counts (an address literal of
    /// the other family, or a name without such an address, is null).
    static func resolve(_ host: String, family: Int32) -> Value {
        if let b = pton(host) { return b.count == (family == AF_INET ? 4 : 16) ? ntoa(b).map { .str($0) } ?? .null : .null }
        guard let a = NameResolver.lookupAll(host, port: 0).first(where: { Int32($0.family) == family }),
              let b = pton(a.ip), let t = ntoa(b) else { return .null }
        return .str(t)
    }
}
