import Foundation
import Synchronization

/// DNS answers (one name, one record type) kept for a while, so a SIP worker sending to a name does not block in a
/// lookup on every message. The raw records are kept, not a resolved destination: the SRV weighted order is drawn
/// again on every resolution (as OpenSIPS's sort_srvs on every lookup), so the targets of one priority share the load.
final class DNSAnswerCache: Sendable {
    private let entries = Mutex<[String: (records: [DNSRecord], expires: UInt64)]>([:])
    private let ttlNs: UInt64
    static let maxEntries = 4096

    /// `ttl`: how long an answer is kept, whatever its DNS TTL.
    init(ttl: TimeInterval = 30) {
        ttlNs = UInt64(ttl * 1e9)
    }

    /// The cached records of `type` for `name`, else `fetch()`'s, kept when there are any.
    func records(_ name: String, _ type: DNSType, fetch: () -> [DNSRecord]) -> [DNSRecord] {
        let key = "\(type.rawValue) \(name.lowercased())"
        let now = DispatchTime.now().uptimeNanoseconds
        if let e = entries.withLock({ $0[key] }), e.expires > now { return e.records }
        let records = fetch()
        guard !records.isEmpty else { return [] }
        entries.withLock { m in
            if m.count >= Self.maxEntries { m.removeAll(keepingCapacity: true) }
            m[key] = (records, now + ttlNs)
        }
        return records
    }
}
