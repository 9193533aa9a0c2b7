import Foundation
import Synchronization

/// DNS answers (one name, one record type) kept for a while, so a SIP worker sending to a name does not block in a
/// lookup on every message. The raw records are kept, not a resolved destination: the SRV weighted order is drawn
/// again on every resolution (as OpenSIPS's sort_srvs on every lookup), so the targets of one priority share the load.
/// An answer is kept for the lowest TTL of its records (as OpenSIPS's dns_cache stores an answer), never longer than
/// `ttl` (30 s: a changed record is seen within that time whatever the zone says); a TTL of 0 means the answer is
/// not kept (asked again next time). An answer saying the name has no such record is kept `ttl`; a failed query (no
/// answer in time, a server failure) `failedTTL` (5 s): with DNS unreachable only the first message to a name waits
/// for the timeouts, the next ones in those seconds fail at once, and a server back is used within seconds.
final class DNSAnswerCache: Sendable {
    private let entries = Mutex<[String: (records: [DNSRecord], expires: UInt64)]>([:])
    private let ttlNs: UInt64
    private let failedTTLNs: UInt64
    static let maxEntries = 4096

    /// `ttl`: the longest an answer is kept (a longer DNS TTL is cut to it); `failedTTL`: how long a failed query is.
    init(ttl: TimeInterval = 30, failedTTL: TimeInterval = 5) {
        ttlNs = UInt64(ttl * 1e9)
        failedTTLNs = UInt64(failedTTL * 1e9)
    }

    /// The cached records of `type` for `name`, else `fetch()`'s.
    func records(_ name: String, _ type: DNSType, fetch: () -> DNSAnswer) -> [DNSRecord] {
        let key = "\(type.rawValue) \(name.lowercased())"
        let now = DispatchTime.now().uptimeNanoseconds
        if let e = entries.withLock({ $0[key] }), e.expires > now { return e.records }
        let answer = fetch()
        let keep = lifetime(answer)
        guard keep > 0 else {
            entries.withLock { _ = $0.removeValue(forKey: key) }
            return answer.records
        }
        entries.withLock { m in
            if m.count >= Self.maxEntries { m.removeAll(keepingCapacity: true) }
            m[key] = (answer.records, now + keep)
        }
        return answer.records
    }

    /// How long an answer is kept, in nanoseconds (0: not kept).
    func lifetime(_ answer: DNSAnswer) -> UInt64 {
        if answer.records.isEmpty { return answer.failed ? failedTTLNs : ttlNs }
        guard let ttl = answer.ttl else { return ttlNs }
        return min(UInt64(ttl) * 1_000_000_000, ttlNs)
    }
}
