#if canImport(Glibc)
import Glibc
#endif

/// One `socket =` / `listen =` line: `[proto:]host[:port] [as host[:port]] [use_workers N] ...`.
struct SocketSpec: Equatable {
    var proto = "udp"
    var host: String
    var port: Int?
    var advertisedHost: String?
    var advertisedPort: Int?
    var workers: Int?
    /// `tag NAME` and `anycast`: read back by `$socket_in(tag)` / `$socket_out(anycast)`.
    var tag: String?
    var anycast = false

    static let knownProtos: Set<String> = ["udp", "tcp", "tls", "ws", "wss", "sctp", "hep_udp", "hep_tcp", "bin", "smpp", "msrp", "ipsec"]

    static func parse(_ text: String) throws(SIPConfigError) -> SocketSpec {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = words.first else { throw SIPConfigError("empty socket definition") }
        var spec = try parseAddress(first, protoAllowed: true)
        var i = 1
        while i < words.count {
            let w = words[i].lowercased()
            func next() throws(SIPConfigError) -> String {
                guard i + 1 < words.count else { throw SIPConfigError("'\(w)' needs a value in socket '\(text)'") }
                i += 1
                return words[i]
            }
            switch w {
            case "as":
                let a = try parseAddress(try next(), protoAllowed: false)
                spec.advertisedHost = a.host
                spec.advertisedPort = a.port
            case "use_workers":
                guard let n = Int(try next()), n >= 1 else { throw SIPConfigError("use_workers needs a positive number in socket '\(text)'") }
                spec.workers = n
            case "anycast":
                spec.anycast = true
            case "frag", "reuse_port", "accept_subdomain":
                break
            case "tag":
                spec.tag = try next()
            case "use_auto_scaling_profile", "tos":
                _ = try next()
            default:
                throw SIPConfigError("unknown socket option '\(words[i])' in '\(text)'")
            }
            i += 1
        }
        return spec
    }

    /// `[proto:]host[:port]`, host possibly `[v6]`, `*`, a quoted string.
    static func parseAddress(_ raw: String, protoAllowed: Bool) throws(SIPConfigError) -> SocketSpec {
        var t = Substring(raw)
        var spec = SocketSpec(host: "")
        if protoAllowed, let c = t.firstIndex(of: ":"), SocketSpec.knownProtos.contains(t[..<c].lowercased()) {
            spec.proto = t[..<c].lowercased()
            t = t[t.index(after: c)...]
        }
        if t.hasPrefix("\"") && t.hasSuffix("\"") && t.count >= 2 { t = t.dropFirst().dropLast() }
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]") else { throw SIPConfigError("bad IPv6 address in '\(raw)'") }
            spec.host = String(t[t.index(after: t.startIndex)..<close])
            t = t[t.index(after: close)...]
            if t.hasPrefix(":") {
                guard let p = Int(t.dropFirst()), (1...65535).contains(p) else { throw SIPConfigError("bad port in '\(raw)'") }
                spec.port = p
            } else if !t.isEmpty { throw SIPConfigError("bad address '\(raw)'") }
        } else if let c = t.lastIndex(of: ":"), t.filter({ $0 == ":" }).count == 1 {
            spec.host = String(t[..<c])
            // 3.6 port lists/ranges: the first port is used here.
            let portText = t[t.index(after: c)...].split(whereSeparator: { $0 == "," || $0 == "-" }).first ?? ""
            guard let p = Int(portText), (1...65535).contains(p) else { throw SIPConfigError("bad port in '\(raw)'") }
            spec.port = p
        } else {
            spec.host = String(t)
        }
        guard !spec.host.isEmpty else { throw SIPConfigError("no host in '\(raw)'") }
        return spec
    }

    /// The address to bind: `*` is every IPv4 address, a name is resolved (first address).
    func bindAddress(defaultPort: Int) throws(SIPConfigError) -> SocketAddress {
        let port = self.port ?? defaultPort
        if host == "*" { return SocketAddress(ip: "0.0.0.0", port: port)! }
        if let a = SocketAddress(ip: host, port: port) { return a }
        guard let a = NameResolver.lookup(host, port: port) else { throw SIPConfigError("cannot resolve '\(host)'") }
        return a
    }
}

struct SIPConfigError: Error {
    let message: String
    init(_ m: String) { message = m }
}
