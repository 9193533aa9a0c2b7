// The dispatcher's selection rules as pure functions (no ABI, no state): OpenSIPS's hash, the hash → destination
// mapping over running weights, weighted round-robin, the failover order, the flags, and the FreeSWITCH weight
// formula. The plugin calls them with views of its live destinations; the tests call them directly.

/// ds_select_dst flags.
public struct DSSelectFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// `u`: hashes over From/To/R-URI use the user part only.
    public static let userOnly = DSSelectFlags(rawValue: 1)
    /// `f`: fill the failover AVPs.
    public static let failover = DSSelectFlags(rawValue: 2)
    /// `d`: the last destination of the set is the default one.
    public static let useDefault = DSSelectFlags(rawValue: 4)
    /// `a`: append to the failover AVPs instead of replacing them.
    public static let append = DSSelectFlags(rawValue: 8)

    /// A character that is not a flag.
    public struct BadFlag: Error, Sendable { public let character: Character }

    /// Case-insensitive, blanks ignored; any other character is refused.
    public static func parse(_ text: String) -> Result<DSSelectFlags, BadFlag> {
        var f: DSSelectFlags = []
        for c in text {
            switch c {
            case "u", "U": f.insert(.userOnly)
            case "f", "F": f.insert(.failover)
            case "d", "D": f.insert(.useDefault)
            case "a", "A": f.insert(.append)
            case " ", "\t": continue
            default: return .failure(BadFlag(character: c))
            }
        }
        return .success(f)
    }
}

public enum DSHash {
    /// OpenSIPS's dispatcher hash over one or two keys: 4 bytes at a time (C `char`, i.e. signed), XOR-shift sums,
    /// a final mix; never 0.
    public static func hash(_ x: [UInt8]?, _ y: [UInt8]? = nil) -> UInt32 {
        if x == nil && y == nil { return 0 }
        var h: UInt32 = 0
        func add(_ s: [UInt8]) {
            @inline(__always) func c(_ b: UInt8) -> UInt32 { UInt32(bitPattern: Int32(Int8(bitPattern: b))) }
            var p = 0
            if s.count >= 4 {
                while p <= s.count - 4 {
                    let v = (c(s[p]) &<< 24) &+ (c(s[p + 1]) &<< 16) &+ (c(s[p + 2]) &<< 8) &+ c(s[p + 3])
                    h = h &+ (v ^ (v >> 3))
                    p += 4
                }
            }
            var v: UInt32 = 0
            while p < s.count { v = v &<< 8; v = v &+ c(s[p]); p += 1 }
            h = h &+ (v ^ (v >> 3))
        }
        if let x { add(x) }
        if let y { add(y) }
        h = (h &+ (h >> 11)) &+ ((h >> 13) &+ (h >> 23))
        return h == 0 ? 1 : h
    }

    public static func hash(_ x: String, _ y: String? = nil) -> UInt32 { hash(Array(x.utf8), y.map { Array($0.utf8) }) }

    /// The keys of a URI hash (algorithms 1, 2, 3): the user, and unless `userOnly` the host (with ":port" when the
    /// URI has a port that is not the transport's default).
    public static func uriKeys(_ uri: String, userOnly: Bool) -> (String, String?)? {
        var s = Substring(uri.trimmingBlanks())
        if let lt = s.firstIndex(of: "<"), let gt = s.lastIndex(of: ">"), lt < gt { s = s[s.index(after: lt)..<gt] }
        let lower = s.lowercased()
        var tls = false
        if lower.hasPrefix("sips:") { s = s.dropFirst(5); tls = true } else if lower.hasPrefix("sip:") { s = s.dropFirst(4) }
        else if lower.hasPrefix("tel:") { s = s.dropFirst(4) }
        if let q = s.firstIndex(of: "?") { s = s[..<q] }
        var params = Substring("")
        if let sc = s.firstIndex(of: ";") { params = s[s.index(after: sc)...]; s = s[..<sc] }
        var user = Substring("")
        if let at = s.lastIndex(of: "@") {
            user = s[..<at]
            if let c = user.firstIndex(of: ":") { user = user[..<c] }
            s = s[s.index(after: at)...]
        }
        if userOnly { return (String(user), nil) }
        var host = s
        var port: Int? = nil
        if s.hasPrefix("[") {
            if let close = s.firstIndex(of: "]") {
                host = s[...close]
                let rest = s[s.index(after: close)...]
                if rest.first == ":" { port = Int(rest.dropFirst()) }
            }
        } else if let c = s.firstIndex(of: ":") {
            host = s[..<c]
            port = Int(s[s.index(after: c)...])
        }
        if params.lowercased().contains("transport=tls") { tls = true }
        let defaultPort = tls ? 5061 : 5060
        if let port, port != defaultPort { return (String(user), "\(host):\(port)") }
        return (String(user), String(host))
    }
}

/// One destination as selection sees it.
public struct DSCandidate: Sendable {
    public var weight: Int
    public var active: Bool
    public init(weight: Int, active: Bool) { self.weight = weight; self.active = active }
}

public enum DSPick {
    /// Hash → index among the first `limit` candidates: over the running weights when the weights sum above 0
    /// (else `hash % limit`); an inactive pick is redone among the active ones only (by active weight, or by count
    /// when their weights are all 0). nil when none is active.
    public static func byHash(_ hash: UInt32, limit: Int, _ at: (Int) -> DSCandidate) -> Int? {
        guard limit > 0 else { return nil }
        var total = 0
        for i in 0..<limit { total += max(0, at(i).weight) }
        var cand: Int
        if total > 0 {
            let r = Int(UInt64(hash) % UInt64(total))
            var run = 0
            cand = limit - 1
            for i in 0..<limit {
                run += max(0, at(i).weight)
                if run > r { cand = i; break }
            }
        } else {
            cand = Int(hash % UInt32(limit))
        }
        if at(cand).active { return cand }
        var activeTotal = 0, activeCount = 0
        for i in 0..<limit where at(i).active { activeTotal += max(0, at(i).weight); activeCount += 1 }
        guard activeCount > 0 else { return nil }
        if activeTotal > 0 {
            let r = Int(UInt64(hash) % UInt64(activeTotal))
            var run = 0
            for i in 0..<limit where at(i).active {
                run += max(0, at(i).weight)
                if run > r { return i }
            }
            return nil
        }
        var k = Int(hash % UInt32(activeCount))
        for i in 0..<limit where at(i).active {
            if k == 0 { return i }
            k -= 1
        }
        return nil
    }

    /// Weighted round-robin (algorithm 4): stay on `last` until it was picked `weight` times, then move on; skip
    /// inactive ones. Returns (index, whether its repeat counter restarts).
    public static func roundRobin(last: Int, rrCount: Int, limit: Int, _ at: (Int) -> DSCandidate) -> (Int, Bool)? {
        guard limit > 0 else { return nil }
        var idx = last >= 0 && last < limit ? last : 0
        var reset = false
        if rrCount >= at(idx).weight || !at(idx).active {
            idx = (idx + 1) % limit
            reset = true
        }
        for _ in 0..<limit {
            if at(idx).active { return (idx, reset || idx != last) }
            idx = (idx + 1) % limit
        }
        return nil
    }

    /// Reading order of the failover list: the chosen one, then the active ones after it (wrapping), at most
    /// `maxRes` in all; the default entry (index `limit`, when `defaultIndex` is given and not chosen) last.
    public static func failoverOrder(chosen: Int, limit: Int, maxRes: Int, defaultIndex: Int?,
                                     _ active: (Int) -> Bool) -> [Int] {
        var out = [chosen]
        if limit > 0 {
            var i = (chosen + 1) % limit
            while i != chosen && out.count < maxRes && chosen < limit {
                if active(i) { out.append(i) }
                i = (i + 1) % limit
            }
        }
        if let d = defaultIndex, d != chosen { out.append(d) }
        return out
    }
}

public enum DSWeight {
    /// OpenSIPS's FreeSWITCH weight: round(max × (1 − sessions/maxSessions) × idle/100), with the C defects fixed:
    /// no division by zero (maxSessions ≤ 0: the session factor is left out), an overloaded box (more sessions than
    /// allowed) or a negative idle figure gives 0, and the result fits the 16-bit field.
    public static func freeswitch(max maxWeight: Int, idleCPU: Double, sessions: Int64, maxSessions: Int64) -> Int {
        var load = 1.0
        if maxSessions > 0 { load = 1.0 - Double(sessions) / Double(maxSessions) }
        let idle = idleCPU.isFinite ? idleCPU : 0
        let w = (Double(maxWeight) * Swift.max(0, load) * Swift.max(0, Swift.min(idle, 100)) / 100).rounded()
        return Int(Swift.min(Swift.max(w, 0), 65535))
    }
}

extension String {
    func trimmingBlanks() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
