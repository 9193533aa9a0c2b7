#if canImport(Glibc)
import Glibc
#endif

/// One address a SIP destination resolved to, with the transport that reaches it (a NAPTR record may choose it).
struct ResolvedAddress: Sendable, Equatable {
    var address: SocketAddress
    var proto: String
}

/// RFC 3263 as OpenSIPS 3.6's sip_resolvehost does it. An IP is itself; a name with a port gets its A records (AAAA
/// only with dns_try_ipv6 and no A); a name without a port is looked up SRV (_sip._udp, _sip._tcp, _sips._tcp, by the
/// transport), NAPTR first when the URI names no transport and dns_try_naptr is on; a name without SRV records gets
/// its A records at the transport's default port. OpenSIPS resolves the next SRV target only when a failover needs
/// it; here every target is resolved at once and the list, in the order failover walks it (each target's addresses,
/// then the next target's, then the next NAPTR record's targets), stays with the message: no lookup later, on tm's
/// timer thread or elsewhere.
struct SIPResolver: Sendable {
    let settings: DNSSettings
    /// SWITCHYARD_HOSTS_FILE's names: answered before any DNS lookup (SRV targets included); such a name is never
    /// looked up NAPTR or SRV.
    let hosts: [String: [String]]
    let log: (@Sendable (String) -> Void)?
    /// Where answers are kept (the SIP core's); nil: every call asks DNS.
    var cache: DNSAnswerCache? = nil
    /// A number in 0...n, for the weighted order of SRV records of one priority (tests fix it).
    var random: @Sendable (Int) -> Int = { Int.random(in: 0...max(0, $0)) }
    /// At most this many addresses are kept for one destination (the dispatcher keeps as many).
    static let maxAddresses = 32

    /// `port` nil when the URI has none; `proto` nil when it names no transport; `secure` for a sips URI.
    func resolve(_ host: String, port: Int?, proto: String?, secure: Bool) -> [ResolvedAddress] {
        resolve(host, port: port, proto: proto, secure: secure, note: nil)
    }

    /// The same, and whether a DNS query on the way failed (no answer in time, a server failure: not "no such
    /// name"), so a caller given no address can tell "DNS did not answer" from "the name does not exist".
    func resolveNotingFailures(_ host: String, port: Int?, proto: String?, secure: Bool)
        -> (addresses: [ResolvedAddress], dnsFailed: Bool) {
        let note = DNSFailureNote()
        let list = resolve(host, port: port, proto: proto, secure: secure, note: note)
        return (list, note.failed)
    }

    private func resolve(_ host: String, port: Int?, proto: String?, secure: Bool, note: DNSFailureNote?)
        -> [ResolvedAddress] {
        let name = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        let fallbackProto = proto ?? (secure ? "tls" : "udp")
        if let ip = SocketAddress(ip: name, port: port ?? Self.defaultPort(fallbackProto, secure: secure)) {
            return [ResolvedAddress(address: ip, proto: fallbackProto)]
        }
        if let port { return addresses(name, port: port, note: note).map { ResolvedAddress(address: $0, proto: fallbackProto) } }
        // A name of the hosts file has addresses only (as /etc/hosts): no NAPTR or SRV question for it.
        if !hosts.isEmpty, hosts[name.lowercased()] != nil {
            return addresses(name, port: Self.defaultPort(fallbackProto, secure: secure), note: note)
                .map { ResolvedAddress(address: $0, proto: fallbackProto) }
        }
        if let proto, secure, proto != "tls" {
            log?("cannot resolve \(name): transport \(proto) does not match a sips URI")
            return []
        }
        if proto == nil, settings.tryNAPTR {
            var out: [ResolvedAddress] = []
            for (p, replacement) in Self.sipNAPTRs(query(name, .naptr, note), secure: secure) {
                out += srvAddresses(replacement, proto: p, note: note)
                if out.count >= Self.maxAddresses { break }
            }
            if !out.isEmpty { return Array(out.prefix(Self.maxAddresses)) }
        }
        if let prefix = Self.srvPrefix(fallbackProto) {
            let out = srvAddresses(prefix + name, proto: fallbackProto, note: note)
            if !out.isEmpty { return out }
        }
        return addresses(name, port: Self.defaultPort(fallbackProto, secure: secure), note: note)
            .map { ResolvedAddress(address: $0, proto: fallbackProto) }
    }

    /// A name's addresses at `port`: its A records; its AAAA records only when it has no A record and dns_try_ipv6
    /// is on (OpenSIPS's resolvehost).
    func addresses(_ name: String, port: Int, note: DNSFailureNote? = nil) -> [SocketAddress] {
        if let ip = SocketAddress(ip: name, port: port) { return [ip] }
        if !hosts.isEmpty, let list = hosts[name.lowercased()] {
            let all = list.compactMap { SocketAddress(ip: $0, port: port) }
            let v4 = all.filter { $0.family == AF_INET }
            return v4.isEmpty && settings.tryIPv6 ? all : v4
        }
        var out = lookup(name, AF_INET, note)
        if out.isEmpty, settings.tryIPv6 { out = lookup(name, AF_INET6, note) }
        return out.prefix(Self.maxAddresses).map { var a = $0; a.port = port; return a }
    }

    /// The addresses of the SRV targets of `name`, in the order failover tries them, each at its record's port.
    func srvAddresses(_ name: String, proto: String, note: DNSFailureNote? = nil) -> [ResolvedAddress] {
        var out: [ResolvedAddress] = []
        for case let .srv(_, _, port, target) in Self.ordered(query(name, .srv, note), random: random) {
            // "." is RFC 2782's "no service here"; port 0 cannot be sent to.
            guard !target.isEmpty, target != ".", port != 0 else { continue }
            out += addresses(target, port: port, note: note).map { ResolvedAddress(address: $0, proto: proto) }
            if out.count >= Self.maxAddresses { break }
        }
        return Array(out.prefix(Self.maxAddresses))
    }

    private func lookup(_ name: String, _ family: Int32, _ note: DNSFailureNote?) -> [SocketAddress] {
        query(name, family == AF_INET ? .a : .aaaa, note).compactMap {
            if case .address(let a) = $0 { return a } else { return nil }
        }
    }

    /// The records of `type` for `name`, from the cache when there is one. A and AAAA go to getaddrinfo (hence
    /// /etc/hosts and nsswitch) unless SWITCHYARD_DNS_SERVER names a server.
    private func query(_ name: String, _ type: DNSType, _ note: DNSFailureNote?) -> [DNSRecord] {
        let answer = cache?.answer(name, type) { fetch(name, type) } ?? fetch(name, type)
        if answer.failed { note?.failed = true }
        return answer.records
    }

    private func fetch(_ name: String, _ type: DNSType) -> DNSAnswer {
        guard settings.serverIP == nil, type == .a || type == .aaaa else {
            return DNSQuery.answer(name, type, settings: settings, log: log)
        }
        var hints = addrinfo()
        hints.ai_family = type == .a ? AF_INET : AF_INET6
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(name, nil, &hints, &res)
        // EAI_NONAME / EAI_NODATA (-5, a glibc extension Swift does not import): the name has no such address (an
        // answer); anything else (EAI_AGAIN: no answer in time) a failure.
        guard rc == 0, let first = res else { return DNSAnswer(records: [], failed: rc != EAI_NONAME && rc != -5) }
        defer { freeaddrinfo(first) }
        var out: [DNSRecord] = []
        var p: UnsafeMutablePointer<addrinfo>? = first
        while let cur = p {
            if let sa = cur.pointee.ai_addr {
                let a = DNSRecord.address(SocketAddress(sa, cur.pointee.ai_addrlen))
                if !out.contains(a) { out.append(a) }
            }
            p = cur.pointee.ai_next
        }
        // getaddrinfo gives no TTL: the cache keeps the answer its longest time.
        return DNSAnswer(records: out, failed: false)
    }

    static func defaultPort(_ proto: String, secure: Bool) -> Int { secure || proto == "tls" ? 5061 : 5060 }

    /// The SRV name prefix of a transport (OpenSIPS's SRV_*_PREFIX); nil for one without.
    static func srvPrefix(_ proto: String) -> String? {
        switch proto {
        case "udp": return "_sip._udp."
        case "tcp": return "_sip._tcp."
        case "tls": return "_sips._tcp."
        case "sctp": return "_sip._sctp."
        default: return nil
        }
    }

    /// SRV records by priority, lowest first; records of one priority in RFC 2782's weighted random order (a record
    /// is picked with a chance of its weight over the sum of those left), as OpenSIPS's sort_srvs.
    static func ordered(_ records: [DNSRecord], random: (Int) -> Int) -> [DNSRecord] {
        let srvs = records.compactMap { r -> (prio: Int, weight: Int, record: DNSRecord)? in
            if case .srv(let p, let w, _, _) = r { return (p, w, r) } else { return nil }
        }
        var out: [DNSRecord] = []
        for prio in Set(srvs.map(\.prio)).sorted() {
            var group = srvs.filter { $0.prio == prio }
            while group.count > 1 {
                let sum = group.reduce(0) { $0 + $1.weight }
                let pick = random(sum)
                var running = 0
                var chosen = 0
                for (i, r) in group.enumerated() {
                    running += r.weight
                    if running >= pick { chosen = i; break }
                }
                out.append(group.remove(at: chosen).record)
            }
            out += group.map(\.record)
        }
        return out
    }

    /// The NAPTR records a SIP resolver follows, in order then preference: flag "s", a replacement and no regexp,
    /// service SIP+D2U / SIP+D2T / SIP+D2S, or SIPS+D2T / SIPS+D2S (only those for a sips URI); with the transport
    /// each names (TLS for both SIPS services, as OpenSIPS).
    static func sipNAPTRs(_ records: [DNSRecord], secure: Bool) -> [(proto: String, replacement: String)] {
        var out: [(key: Int, proto: String, replacement: String)] = []
        for case let .naptr(order, pref, flags, services, regexp, replacement) in records {
            guard flags.lowercased() == "s", !replacement.isEmpty, replacement != ".", regexp.isEmpty else { continue }
            let s = services.lowercased()
            let proto: String
            switch s {
            case "sip+d2u" where !secure: proto = "udp"
            case "sip+d2t" where !secure: proto = "tcp"
            case "sip+d2s" where !secure: proto = "sctp"
            case "sips+d2t": proto = "tls"
            case "sips+d2s": proto = "tls"   // OpenSIPS: every SIPS service is TLS (never a plain-SCTP downgrade)
            default: continue
            }
            out.append(((order << 16) + pref, proto, replacement))
        }
        // Stable: records of the same order and preference keep the answer's order.
        return out.enumerated().sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }
            .map { ($0.element.proto, $0.element.replacement) }
    }
}

/// Set when a query of one resolution failed (SIPResolver.resolveNotingFailures). Lives on one thread, for one call.
final class DNSFailureNote {
    var failed = false
}
