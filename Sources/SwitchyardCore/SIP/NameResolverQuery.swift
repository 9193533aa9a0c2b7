#if canImport(Glibc)
import Glibc
#endif
import CResolv

/// A DNS record the SIP resolver uses.
enum DNSRecord: Equatable, Sendable {
    case address(SocketAddress)   // A or AAAA, port 0
    case srv(priority: Int, weight: Int, port: Int, target: String)
    case naptr(order: Int, preference: Int, flags: String, services: String, regexp: String, replacement: String)
}

/// One query's outcome: the records, whether the query failed (no answer in time, a server failure: not "no such
/// record"), and the lowest TTL of the records (nil when unknown: none, or an answer from getaddrinfo).
struct DNSAnswer: Sendable {
    var records: [DNSRecord]
    var failed: Bool
    var ttl: UInt32? = nil
}

enum DNSType: Int32 {
    case a = 1, aaaa = 28, srv = 33, naptr = 35
}

/// One query through the system resolver (res_nsearch with the settings' options), its answer parsed.
enum DNSQuery {
    /// The records of `type` answering `name`; empty when the name has none or the query failed. An answer that does
    /// not parse gives what came before the bad record and one line through `log`.
    static func records(_ name: String, _ type: DNSType, settings: DNSSettings, log: ((String) -> Void)?) -> [DNSRecord] {
        answer(name, type, settings: settings, log: log).records
    }

    /// The same, whether the query failed (no answer in time, a server failure) rather than a server saying the
    /// name has no such record (a failure is cached for a shorter time: DNSAnswerCache), and the lowest TTL of the
    /// records kept (nil when there are none).
    static func answer(_ name: String, _ type: DNSType, settings: DNSSettings, log: ((String) -> Void)?)
        -> DNSAnswer {
        var answer = [UInt8](repeating: 0, count: 8192)
        var rcode: Int32 = 0
        let n: Int32 = withOptions(settings) { opt in
            answer.withUnsafeMutableBufferPointer { b in
                cresolv_query(name, type.rawValue, opt, b.baseAddress, Int32(b.count), &rcode)
            }
        }
        guard n > 0 else {
            // NXDOMAIN or no record of the type is an answer (not logged); no answer at all is worth a line (at most
            // one per name and type every 5 s through the SIP core's cache).
            let failed = rcode != 0 && rcode != 3
            if failed { log?("DNS query for \(name) (\(type)) got no answer (timeout or server failure)") }
            return DNSAnswer(records: [], failed: failed)
        }
        return parseAnswer(Array(answer[0..<Int(n)]), type, name: name, log: log)
    }

    /// The records of `type` in a reply (the answer section; other types, e.g. a CNAME, skipped).
    static func parse(_ msg: [UInt8], _ type: DNSType, name: String, log: ((String) -> Void)?) -> [DNSRecord] {
        parseAnswer(msg, type, name: name, log: log).records
    }

    /// The same, with the lowest TTL of the records kept.
    static func parseAnswer(_ msg: [UInt8], _ type: DNSType, name: String, log: ((String) -> Void)?) -> DNSAnswer {
        msg.withUnsafeBufferPointer { b -> DNSAnswer in
            let count = cresolv_answer_count(b.baseAddress, Int32(b.count))
            guard count >= 0 else {
                log?("DNS answer for \(name) (\(type)) does not parse (\(b.count) bytes): ignored")
                return DNSAnswer(records: [], failed: false)
            }
            var out = DNSAnswer(records: [], failed: false)
            var rr = cresolv_rr()
            for i in 0..<count {
                let rc = cresolv_answer(b.baseAddress, Int32(b.count), i, &rr)
                if rc < 0 {
                    log?("DNS answer for \(name) (\(type)): record \(i + 1) of \(count) is malformed, the rest ignored")
                    break
                }
                guard rc == 0, rr.type == type.rawValue, let r = record(&rr) else { continue }
                out.records.append(r)
                out.ttl = min(out.ttl ?? rr.ttl, rr.ttl)
            }
            return out
        }
    }

    private static func record(_ rr: inout cresolv_rr) -> DNSRecord? {
        switch rr.type {
        case DNSType.a.rawValue, DNSType.aaaa.rawValue:
            return .address(address(rr))
        case DNSType.srv.rawValue:
            return .srv(priority: Int(rr.n1), weight: Int(rr.n2), port: Int(rr.n3), target: string(&rr.name))
        case DNSType.naptr.rawValue:
            return .naptr(order: Int(rr.n1), preference: Int(rr.n2), flags: string(&rr.flags), services: string(&rr.services),
                          regexp: string(&rr.regexp), replacement: string(&rr.name))
        default:
            return nil
        }
    }

    /// The A or AAAA record's address, port 0.
    private static func address(_ rr: cresolv_rr) -> SocketAddress {
        if rr.type == DNSType.a.rawValue {
            return SocketAddress(ipv4: withUnsafeBytes(of: rr.addr) { $0.loadUnaligned(as: UInt32.self) }, port: 0)
        }
        var sa6 = sockaddr_in6()
        sa6.sin6_family = sa_family_t(AF_INET6)
        withUnsafeMutableBytes(of: &sa6.sin6_addr) { dst in withUnsafeBytes(of: rr.addr) { dst.copyMemory(from: $0) } }
        return withUnsafePointer(to: &sa6) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
    }

    /// A NUL-terminated C array field as a string.
    private static func string<T>(_ field: inout T) -> String {
        withUnsafeBytes(of: &field) { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[0..<end], as: UTF8.self)
        }
    }

    private static func withOptions<R>(_ s: DNSSettings, _ body: (UnsafePointer<cresolv_options>) -> R) -> R {
        func run(_ ip: UnsafePointer<CChar>?) -> R {
            var opt = cresolv_options(retrans: Int32(s.retrTime), retry: Int32(s.retrNo), servers: Int32(s.serversNo),
                                      search: Int32(s.searchList), server_ip: ip, server_port: Int32(s.serverPort))
            return withUnsafePointer(to: &opt) { body($0) }
        }
        if let ip = s.serverIP { return ip.withCString { run($0) } }
        return run(nil)
    }
}
