import Foundation
import Synchronization

/// DNS answers (one name, one record type) kept for a while, so a SIP worker sending to a name does not block in a
/// lookup on every message. The raw records are kept, not a resolved destination: the SRV weighted order is drawn
/// again on every resolution (as OpenSIPS's sort_srvs on every lookup), so the targets of one priority share the load.
/// An answer is kept for the lowest TTL of its records (as OpenSIPS's dns_cache stores an answer), never longer than
/// `ttl` (30 s: a changed record is seen within that time whatever the zone says) and never shorter than 1 s: with a
/// TTL of 0 every message to the name would block a SIP worker in NAPTR/SRV/A queries (one second bounds that to one
/// lookup per name per second). A TTL with its top bit set counts as 0 (RFC 2181 §8). An answer saying the name has
/// no such record is kept `ttl`; a failed query (no answer in time, a server failure) `failedTTL` (5 s): with DNS
/// unreachable only the first message to a name waits for the timeouts, the next ones in those seconds fail at once,
/// and a server back is used within seconds. Every lifetime counts from when the answer arrived (a query that waited
/// 10 s for its timeouts still keeps its failure 5 s).
final class DNSAnswerCache: Sendable {
    private let entries = Mutex<[String: (answer: DNSAnswer, expires: UInt64)]>([:])
    private let ttlNs: UInt64
    private let failedTTLNs: UInt64
    /// The clock, in nanoseconds (monotonic; tests move it by hand).
    private let now: @Sendable () -> UInt64
    static let maxEntries = 4096
    /// The shortest time an answer with records is kept (a TTL of 0 included).
    static let minTTLNs: UInt64 = 1_000_000_000

    /// `ttl`: the longest an answer is kept (a longer DNS TTL is cut to it); `failedTTL`: how long a failed query is.
    init(ttl: TimeInterval = 30, failedTTL: TimeInterval = 5,
         now: @escaping @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }) {
        ttlNs = UInt64(ttl * 1e9)
        failedTTLNs = UInt64(failedTTL * 1e9)
        self.now = now
    }

    /// The cached records of `type` for `name`, else `fetch()`'s.
    func records(_ name: String, _ type: DNSType, fetch: () -> DNSAnswer) -> [DNSRecord] {
        answer(name, type, fetch: fetch).records
    }

    /// The cached answer of `type` for `name` (its records and whether the query failed), else `fetch()`'s.
    func answer(_ name: String, _ type: DNSType, fetch: () -> DNSAnswer) -> DNSAnswer {
        let key = "\(type.rawValue) \(name.lowercased())"
        if let e = entries.withLock({ $0[key] }), e.expires > now() { return e.answer }
        let answer = fetch()
        let keep = lifetime(answer)
        guard keep > 0 else {
            entries.withLock { _ = $0.removeValue(forKey: key) }
            return answer
        }
        // The clock read again: the query may have waited for its timeouts longer than the entry's lifetime.
        let done = now()
        entries.withLock { m in
            if m.count >= Self.maxEntries { m.removeAll(keepingCapacity: true) }
            m[key] = (answer, done + keep)
        }
        return answer
    }

    /// How long an answer is kept, in nanoseconds (0: not kept, only when the cache's own `ttl` is 0).
    func lifetime(_ answer: DNSAnswer) -> UInt64 {
        if answer.records.isEmpty { return answer.failed ? failedTTLNs : ttlNs }
        guard let ttl = answer.ttl else { return ttlNs }
        let seconds = ttl > UInt32(Int32.max) ? 0 : UInt64(ttl)
        return min(max(seconds * 1_000_000_000, Self.minTTLNs), ttlNs)
    }
}
