// A destination's SIP URI as the loader needs it: its parts, the "dst_uri" selection writes (user, password and
// headers stripped: scheme:host[:port][;params]), and the addresses its host resolves to (ds_is_in_list, ds_list).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardPluginKit

struct DestURI: Sendable, Equatable {
    var scheme: String      // "sip" / "sips"
    var user: String?
    var password: String?
    var host: String        // as written (IPv6 with brackets)
    var port: Int?
    var params: String      // without the leading ';' ("" when none)
    var headers: String?

    /// Parses `[sip:|sips:][user[:password]@]host[:port][;params][?headers]`; nil when it is not a usable SIP URI.
    static func parse(_ text: String) -> DestURI? {
        var s = Substring(text.trimmingSpaces())
        var scheme = "sip"
        let lower = s.lowercased()
        if lower.hasPrefix("sips:") { scheme = "sips"; s = s.dropFirst(5) } else if lower.hasPrefix("sip:") { s = s.dropFirst(4) }
        else if let c = s.firstIndex(of: ":"), !s.hasPrefix("["), s[..<c].allSatisfy(\.isLetter),
                s[s.index(after: c)...].first?.isNumber != true {
            return nil // another scheme (tel:, http:): not a destination; a bare host:port has digits after the colon
        }
        var headers: String? = nil
        if let q = s.firstIndex(of: "?") { headers = String(s[s.index(after: q)...]); s = s[..<q] }
        var user: String? = nil, password: String? = nil
        if let at = s.lastIndex(of: "@") {
            let ui = s[..<at]
            if let c = ui.firstIndex(of: ":") { user = String(ui[..<c]); password = String(ui[ui.index(after: c)...]) } else { user = String(ui) }
            s = s[s.index(after: at)...]
        }
        var params = ""
        if let sc = s.firstIndex(of: ";") { params = String(s[s.index(after: sc)...]); s = s[..<sc] }
        var host: Substring
        var port: Int? = nil
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { return nil }
            host = s[...close]
            let rest = s[s.index(after: close)...]
            if !rest.isEmpty {
                guard rest.first == ":", let p = Int(rest.dropFirst()), (1...65535).contains(p) else { return nil }
                port = p
            }
        } else if let c = s.firstIndex(of: ":") {
            host = s[..<c]
            guard let p = Int(s[s.index(after: c)...]), (1...65535).contains(p) else { return nil }
            port = p
        } else {
            host = s
        }
        guard !host.isEmpty, host.utf8.count <= 254,
              host.allSatisfy({ $0.isLetter || $0.isNumber || "-._[]:".contains($0) }) else { return nil }
        return DestURI(scheme: scheme, user: user, password: password, host: String(host), port: port, params: params,
                       headers: headers)
    }

    var hostPort: String { port.map { "\(host):\($0)" } ?? host }

    /// `text` with the password of its userinfo replaced by `***` (for log lines: never a password in a log).
    static func redacted(_ text: String) -> String {
        guard let at = text.lastIndex(of: "@") else { return text }
        let head = text[..<at]
        let lower = head.lowercased()
        let start = lower.hasPrefix("sips:") ? head.index(head.startIndex, offsetBy: 5)
            : lower.hasPrefix("sip:") ? head.index(head.startIndex, offsetBy: 4) : head.startIndex
        guard let colon = head[start...].firstIndex(of: ":") else { return text }
        return String(text[...colon]) + "***" + String(text[at...])
    }

    /// What selection writes into $du: the URI as written unless it has a user, password or headers, which are
    /// dropped (scheme:host[:port][;params]).
    func dstURI(written: String) -> String {
        guard user != nil || password != nil || headers != nil else { return written.trimmingSpaces() }
        return scheme + ":" + hostPort + (params.isEmpty ? "" : ";" + params)
    }

    /// The transport named by ;transport= (udp when none; tls for sips).
    var transport: String {
        for p in params.split(separator: ";") {
            let kv = p.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].lowercased().trimmingSpaces() == "transport" { return kv[1].lowercased().trimmingSpaces() }
        }
        return scheme == "sips" ? "tls" : "udp"
    }

    var defaultPort: Int { scheme == "sips" || transport == "tls" ? 5061 : 5060 }

    /// The transport ;transport= names, nil when none.
    var explicitTransport: String? {
        for p in params.split(separator: ";") {
            let kv = p.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].lowercased().trimmingSpaces() == "transport" { return kv[1].lowercased().trimmingSpaces() }
        }
        return nil
    }

    /// Resolved (ip, port) pairs, at most 32, as the core resolves a request's destination (ABI 1.12: NAPTR, SRV, A,
    /// with the dns_* globals; an SRV name gives its targets at their ports), and whether a DNS query failed (no
    /// answer in time, a server failure; 1.13); empty when the host does not resolve. On an older core, the host's
    /// addresses through getaddrinfo.
    func resolve(using host: PluginHost) -> (addrs: [(ip: String, port: Int)], dnsFailed: Bool) {
        guard let r = host.sipResolve(self.host, port: port, proto: explicitTransport, sips: scheme == "sips") else {
            return (resolve().map { ($0.ip, $0.port) }, false)
        }
        return (r.addresses.map { ($0.ip, $0.port) }, r.dnsFailed)
    }

    /// Resolved (ip, port, transport) triples, at most 32, through getaddrinfo (a core older than ABI 1.12): the
    /// URI's transport.
    func resolve() -> [(ip: String, port: Int, proto: String)] {
        var name = host
        if name.hasPrefix("[") { name = String(name.dropFirst().dropLast()) }
        let p = port ?? defaultPort
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(name, nil, &hints, &res) == 0, let first = res else { return [] }
        defer { freeaddrinfo(first) }
        var out: [(String, Int, String)] = []
        var cur: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cur, out.count < 32 {
            if let ip = Self.numeric(ai.pointee.ai_addr, ai.pointee.ai_addrlen), !out.contains(where: { $0.0 == ip }) {
                out.append((ip, p, transport))
            }
            cur = ai.pointee.ai_next
        }
        return out
    }

    static func numeric(_ sa: UnsafeMutablePointer<sockaddr>?, _ len: socklen_t) -> String? {
        guard let sa else { return nil }
        var buf = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(sa, len, &buf, socklen_t(buf.count), nil, 0, NI_NUMERICHOST) == 0 else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A literal IPv4/IPv6 address in its canonical text form, or nil when `text` is not one.
    static func canonicalIP(_ text: String) -> String? {
        var t = text.trimmingSpaces()
        if t.hasPrefix("[") && t.hasSuffix("]") { t = String(t.dropFirst().dropLast()) }
        var a4 = in_addr(), a6 = in6_addr()
        if inet_pton(AF_INET, t, &a4) == 1 {
            var buf = [CChar](repeating: 0, count: 64)
            inet_ntop(AF_INET, &a4, &buf, 64)
            return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        if inet_pton(AF_INET6, t, &a6) == 1 {
            var buf = [CChar](repeating: 0, count: 64)
            inet_ntop(AF_INET6, &a6, &buf, 64)
            return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return nil
    }
}
