// A small DNS server on 127.0.0.1 for resolver tests: answers A, AAAA, SRV and NAPTR questions from a table and
// records every question it gets. Point switchyard at it with SWITCHYARD_DNS_SERVER=127.0.0.1:<port>.
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

public final class FakeDNSServer: @unchecked Sendable { // socket and thread set in init; table and log behind locks
    public enum Record: Sendable {
        case a(String)
        case aaaa(String)
        case srv(priority: Int, weight: Int, port: Int, target: String)
        case naptr(order: Int, preference: Int, flags: String, services: String, regexp: String, replacement: String)

        var type: UInt16 {
            switch self {
            case .a: return 1
            case .aaaa: return 28
            case .srv: return 33
            case .naptr: return 35
            }
        }
    }

    /// A question the server got: the name (lowercased, no trailing dot) and its type number.
    public struct Question: Equatable, Sendable {
        public let name: String
        public let type: Int
    }

    public static let typeA = 1, typeAAAA = 28, typeSRV = 33, typeNAPTR = 35

    private let socket: UDPSocket
    public var port: Int { socket.port }
    /// "ip:port", the value of SWITCHYARD_DNS_SERVER.
    public var address: String { "127.0.0.1:\(port)" }
    private let table = Mutex<[String: [Record]]>([:])
    /// Names whose answer is cut after `n` bytes (a malformed reply).
    private let truncated = Mutex<[String: Int]>([:])
    /// Names whose questions get no answer at all (a DNS server down or unreachable).
    private let silent = Mutex<Set<String>>([])
    /// Names whose records carry another TTL than 30 s.
    private let ttls = Mutex<[String: UInt32]>([:])
    /// Names whose answers wait for release(name) (a slow DNS server), with where each one goes.
    private let held = Mutex<[String: [(reply: [UInt8], to: sockaddr_in)]]>([:])
    private let log = Mutex<[Question]>([])
    private let running = Atomic<Bool>(true)
    private let done = DispatchSemaphore(value: 0)

    public init() throws {
        socket = try UDPSocket(port: LocalPorts.freePorts(1)[0])
        let t = Thread { [self] in serve() }
        t.start()
    }

    deinit { stop() }

    public func stop() {
        if running.exchange(false, ordering: .relaxed) { done.wait() }
    }

    /// Adds records for a name (a name with records of other types only answers "no data" for the rest; a name not
    /// in the table answers NXDOMAIN).
    public func add(_ name: String, _ records: Record...) {
        table.withLock { $0[Self.key(name), default: []] += records }
    }

    /// The records of `name` are replaced by these (what a zone change does).
    public func replace(_ name: String, _ records: Record...) {
        table.withLock { $0[Self.key(name)] = records }
    }

    /// The records of `name` carry this TTL in answers (30 s otherwise).
    public func ttl(_ name: String, _ seconds: UInt32) { ttls.withLock { $0[Self.key(name)] = seconds } }

    /// The answers for `name` are cut after `bytes` bytes.
    public func truncate(_ name: String, after bytes: Int) { truncated.withLock { $0[Self.key(name)] = bytes } }

    /// Questions for `name` are recorded and never answered.
    public func silence(_ name: String) { silent.withLock { _ = $0.insert(Self.key(name)) } }

    /// Answers for `name` are kept back until release(name) sends them (a lookup that takes as long as the test wants).
    public func hold(_ name: String) { held.withLock { $0[Self.key(name)] = [] } }

    /// Sends the answers kept back for `name`; later questions are answered at once.
    public func release(_ name: String) {
        for var w in held.withLock({ $0.removeValue(forKey: Self.key(name)) }) ?? [] { send(w.reply, to: &w.to) }
    }

    public var questions: [Question] { log.withLock { $0 } }

    public func asked(_ name: String, type: Int) -> Int { questions.filter { $0.name == Self.key(name) && $0.type == type }.count }

    static func key(_ name: String) -> String {
        var n = name.lowercased()
        if n.hasSuffix(".") { n.removeLast() }
        return n
    }

    private func serve() {
        defer { done.signal() }
        var buf = [UInt8](repeating: 0, count: 4096)
        while running.load(ordering: .relaxed) {
            var from = sockaddr_in()
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(socket.fd, &buf, buf.count, 0, $0, &len) }
            }
            guard n >= 12, let (name, reply) = answer(Array(buf[0..<n])) else { continue }
            let kept = held.withLock { h in
                guard h[name] != nil else { return false }
                h[name]!.append((reply, from))
                return true
            }
            if !kept { send(reply, to: &from) }
        }
    }

    private func send(_ reply: [UInt8], to: inout sockaddr_in) {
        _ = withUnsafePointer(to: &to) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                reply.withUnsafeBytes { sendto(socket.fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    /// The name asked and the reply to a query: its question echoed, the table's records of that type (no name
    /// compression).
    private func answer(_ q: [UInt8]) -> (String, [UInt8])? {
        var i = 12
        var labels: [String] = []
        while i < q.count, q[i] != 0 {
            let l = Int(q[i])
            guard i + 1 + l <= q.count else { return nil }
            labels.append(String(decoding: q[(i + 1)..<(i + 1 + l)], as: UTF8.self))
            i += 1 + l
        }
        guard i + 5 <= q.count else { return nil }
        let questionEnd = i + 5
        let type = UInt16(q[i + 1]) << 8 | UInt16(q[i + 2])
        let name = Self.key(labels.joined(separator: "."))
        log.withLock { $0.append(Question(name: name, type: Int(type))) }
        if silent.withLock({ $0.contains(name) }) { return nil }
        let all = table.withLock { $0[name] }
        let records = (all ?? []).filter { $0.type == type }
        let ttl = ttls.withLock { $0[name] } ?? 30
        var out: [UInt8] = [q[0], q[1], 0x81 | (q[2] & 0x01), all == nil ? 0x83 : 0x80, 0, 1, 0, UInt8(records.count), 0, 0, 0, 0]
        out += q[12..<questionEnd]
        for r in records {
            out += Self.encodeName(name)
            out += [UInt8(type >> 8), UInt8(type & 0xff), 0, 1,
                    UInt8(ttl >> 24), UInt8((ttl >> 16) & 0xff), UInt8((ttl >> 8) & 0xff), UInt8(ttl & 0xff)]
            let data = Self.rdata(r)
            out += [UInt8(data.count >> 8), UInt8(data.count & 0xff)] + data
        }
        if let cut = truncated.withLock({ $0[name] }), cut < out.count { out = Array(out[0..<cut]) }
        return (name, out)
    }

    static func encodeName(_ name: String) -> [UInt8] {
        var out: [UInt8] = []
        for label in name.split(separator: ".") where !label.isEmpty {
            out.append(UInt8(label.utf8.count))
            out += Array(label.utf8)
        }
        return out + [0]
    }

    static func rdata(_ r: Record) -> [UInt8] {
        func u16(_ n: Int) -> [UInt8] { [UInt8((n >> 8) & 0xff), UInt8(n & 0xff)] }
        func str(_ s: String) -> [UInt8] { [UInt8(s.utf8.count)] + Array(s.utf8) }
        switch r {
        case .a(let ip):
            var a = in_addr()
            _ = inet_pton(AF_INET, ip, &a)
            return withUnsafeBytes(of: a) { Array($0) }
        case .aaaa(let ip):
            var a = in6_addr()
            _ = inet_pton(AF_INET6, ip, &a)
            return withUnsafeBytes(of: a) { Array($0) }
        case .srv(let p, let w, let port, let target):
            return u16(p) + u16(w) + u16(port) + encodeName(target)
        case .naptr(let o, let p, let flags, let services, let regexp, let replacement):
            return u16(o) + u16(p) + str(flags) + str(services) + str(regexp) + encodeName(replacement)
        }
    }
}
