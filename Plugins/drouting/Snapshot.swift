// The routing data: gateways, carriers, rules, and the per-group prefix trie, built once per (re)load into an
// immutable Snapshot. Only gateway/carrier runtime state (enabled/disabled) is mutable, in shared atomic cells that a
// reload hands over to the new snapshot (OpenSIPS's inherited state).
import Synchronization

/// Runtime state of a gateway or carrier, shared across reloads by id.
final class StateCell: Sendable {
    static let disabled: UInt8 = 1 // DSBL
    static let byMI: UInt8 = 2     // NOEN: disabled by MI / DB state 1, never re-enabled by probing
    let bits: Atomic<UInt8>
    init(_ bits: UInt8) { self.bits = Atomic(bits) }
    var isDisabled: Bool { bits.load(ordering: .relaxed) & StateCell.disabled != 0 }
}

struct Gateway: Sendable {
    var id: String
    var type: Int
    var address: String
    /// host[:port][;params] — the text that replaces the host part of the R-URI.
    var ipStr: String
    var strip: Int
    var priPrefix: String
    var attrs: String
    var probeMode: Int
    var socket: String
    var description: String
    /// Resolved addresses (IP literal text, normalised) and the port used for matching (0 = any).
    var ips: [String]
    var port: Int
    var state: StateCell

    /// MI/event state name.
    var stateName: String {
        let b = state.bits.load(ordering: .relaxed)
        if b & StateCell.disabled == 0 { return "Active" }
        if b & StateCell.byMI != 0 { return "Disabled MI" }
        return probeMode == 1 ? "Probing" : "Inactive"
    }
}

struct ListItem: Sendable {
    var isCarrier: Bool
    var index: Int32
    var weight: Int
}

struct Carrier: Sendable {
    var id: String
    var gws: [ListItem]
    var firstOnly: Bool
    var weightSort: Bool
    var attrs: String
    var description: String
    var state: StateCell
}

struct Rule: Sendable {
    var id: Int64
    var groups: [UInt32]
    var prefix: String
    var timerec: TimeRec?
    var priority: Int
    var routeID: String
    var items: [ListItem]
    /// The gwlist as written (ids, for dr_number_routing).
    var rawItems: [(isCarrier: Bool, id: String)]
    var weightSort: Bool
    var attrs: String

    func valid(at t: Int64) -> Bool { timerec?.matches(t) ?? true }
}

/// A compact digit trie: node 0 is the root (the empty prefix; prefix-less rules are kept apart). Children of a node
/// are contiguous from `childBase`, present ones marked in `childMask` (bit = alphabet index).
struct PrefixTrie: Sendable {
    /// byte → alphabet index, or -1 for a character that is not allowed in prefixes.
    var alphabet: [Int8]
    var childBase: [Int32] = [0]
    var childMask: [UInt64] = [0]
    /// Per node: entries [entStart, entStart+entCount) in entGroup/entRules.
    var entStart: [Int32] = [0]
    var entCount: [UInt16] = [0]
    var entGroup: [UInt32] = []
    /// Per entry: rules [ruleStart, ruleStart+ruleCount) in ruleRefs, best first.
    var entRuleStart: [Int32] = []
    var entRuleCount: [Int32] = []
    var ruleRefs: [Int32] = []

    var nodeCount: Int { childMask.count }

    @inline(__always)
    func child(_ node: Int, _ idx: Int) -> Int? {
        let m = childMask[node]
        let bit = UInt64(1) << UInt64(idx)
        guard m & bit != 0 else { return nil }
        return Int(childBase[node]) + (m & (bit &- 1)).nonzeroBitCount
    }

    /// The rules of `group` at `node`, best first.
    @inline(__always)
    func rules(_ node: Int, group: UInt32) -> ArraySlice<Int32>? {
        let s = Int(entStart[node]), n = Int(entCount[node])
        for e in s..<(s + n) where entGroup[e] == group {
            let rs = Int(entRuleStart[e])
            return ruleRefs[rs..<(rs + Int(entRuleCount[e]))]
        }
        return nil
    }

    /// The downward walk: the node path for `number` (path[d] = node of the first d characters), or nil when a
    /// character looked at is not allowed (OpenSIPS: the prefix search fails and only prefix-less rules apply).
    func walk(_ number: UnsafeRawBufferPointer) -> [Int]? {
        var path = [0]
        path.reserveCapacity(min(number.count + 1, 16))
        var node = 0
        for c in number {
            if childMask[node] == 0 { break } // nothing deeper: the rest is never looked at
            let idx = alphabet[Int(c)]
            if idx < 0 { return nil }
            guard let next = child(node, Int(idx)) else { break }
            node = next
            path.append(node)
        }
        return path
    }
}

/// Immutable routing data published to the workers.
final class Snapshot: Sendable {
    let gateways: [Gateway]
    let gwIndex: [String: Int32]
    let carriers: [Carrier]
    let carrierIndex: [String: Int32]
    let rules: [Rule]
    let trie: PrefixTrie
    /// group → prefix-less rules, best first.
    let defaults: [UInt32: [Int32]]
    let loadedAt: Int64

    init(gateways: [Gateway], carriers: [Carrier], rules: [Rule], trie: PrefixTrie, defaults: [UInt32: [Int32]],
         loadedAt: Int64) {
        self.gateways = gateways
        self.carriers = carriers
        self.rules = rules
        self.trie = trie
        self.defaults = defaults
        self.loadedAt = loadedAt
        var gi: [String: Int32] = [:]
        for (i, g) in gateways.enumerated() { gi[g.id] = Int32(i) }
        gwIndex = gi
        var ci: [String: Int32] = [:]
        for (i, c) in carriers.enumerated() { ci[c.id] = Int32(i) }
        carrierIndex = ci
    }

    static let empty = Snapshot(gateways: [], carriers: [], rules: [],
                                trie: PrefixTrie(alphabet: PrefixTrie.makeAlphabet(extra: "")), defaults: [:],
                                loadedAt: 0)

    /// Where a rule was found: `level` = matched prefix length (-1 for the prefix-less list), `pos` = index in that
    /// node's (or the prefix-less) list for the group.
    struct Match: Sendable, Equatable {
        var rule: Int32
        var level: Int
        var pos: Int
    }

    /// Finds the rule for `number` in `group` at time `now`. With `after`, continues the search after that match
    /// (rule fallback): the rest of its list, then shorter prefixes, then the prefix-less rules.
    func lookup(number: String, group: UInt32, now: Int64, strict: Bool, after: Match? = nil) -> Match? {
        var num = number
        return num.withUTF8 { bytes -> Match? in
            let raw = UnsafeRawBufferPointer(bytes)
            if let path = trie.walk(raw) {
                let deepest = path.count - 1
                var startLevel = deepest, startPos = 0
                if let a = after {
                    if a.level < 0 { return nextDefault(group: group, now: now, from: a.pos + 1) }
                    startLevel = min(a.level, deepest)
                    startPos = a.level <= deepest ? a.pos + 1 : 0
                }
                if strict && startLevel != raw.count { return nil }
                var level = startLevel
                while level >= 1 {
                    if let list = trie.rules(path[level], group: group) {
                        var i = level == startLevel ? startPos : 0
                        while i < list.count {
                            let r = list[list.startIndex + i]
                            if rules[Int(r)].valid(at: now) { return Match(rule: r, level: level, pos: i) }
                            i += 1
                        }
                    }
                    if strict { return nil }
                    level -= 1
                }
            } else if let a = after, a.level < 0 {
                return strict ? nil : nextDefault(group: group, now: now, from: a.pos + 1)
            }
            if strict { return nil }
            return nextDefault(group: group, now: now, from: 0)
        }
    }

    private func nextDefault(group: UInt32, now: Int64, from: Int) -> Match? {
        guard let list = defaults[group] else { return nil }
        var i = from
        while i < list.count {
            if rules[Int(list[i])].valid(at: now) { return Match(rule: list[i], level: -1, pos: i) }
            i += 1
        }
        return nil
    }
}

extension PrefixTrie {
    static func makeAlphabet(extra: String) -> [Int8] {
        var a = [Int8](repeating: -1, count: 256)
        var n: Int8 = 0
        for c in UInt8(ascii: "0")...UInt8(ascii: "9") { a[Int(c)] = n; n += 1 }
        for c in extra.utf8 where a[Int(c)] < 0 && n < 64 { a[Int(c)] = n; n += 1 }
        return a
    }

    /// Builds the trie from (prefix bytes, group, rule) entries; rules of one (prefix, group) keep the given order.
    /// `entries` must already be ordered by priority (best first), then load order.
    static func build(alphabet: [Int8], entries: [(prefix: [UInt8], group: UInt32, rule: Int32)]) -> PrefixTrie {
        var t = PrefixTrie(alphabet: alphabet)
        // Sort by (prefix, group) keeping the priority order inside each key (stable: index tie-break).
        let order = entries.indices.sorted { a, b in
            let pa = entries[a].prefix, pb = entries[b].prefix
            if pa != pb { return pa.lexicographicallyPrecedes(pb) }
            if entries[a].group != entries[b].group { return entries[a].group < entries[b].group }
            return a < b
        }
        // Unique prefixes with their entry ranges (in `order`).
        var prefixes: [[UInt8]] = []
        var ranges: [Range<Int>] = []
        var i = 0
        while i < order.count {
            let p = entries[order[i]].prefix
            var j = i + 1
            while j < order.count && entries[order[j]].prefix == p { j += 1 }
            prefixes.append(p)
            ranges.append(i..<j)
            i = j
        }
        t.entStart.reserveCapacity(prefixes.count * 2)
        // Attach entries to a node.
        func attach(_ node: Int, _ range: Range<Int>) {
            t.entStart[node] = Int32(t.entGroup.count)
            var k = range.lowerBound
            var groups = 0
            while k < range.upperBound {
                let g = entries[order[k]].group
                var m = k
                t.entGroup.append(g)
                t.entRuleStart.append(Int32(t.ruleRefs.count))
                while m < range.upperBound && entries[order[m]].group == g {
                    t.ruleRefs.append(entries[order[m]].rule)
                    m += 1
                }
                t.entRuleCount.append(Int32(m - k))
                groups += 1
                k = m
            }
            t.entCount[node] = UInt16(min(groups, Int(UInt16.max)))
        }
        // Recursive build over the sorted unique prefixes: [lo, hi) all share the first `depth` bytes.
        func buildNode(_ node: Int, depth: Int, _ lo: Int, _ hi: Int) {
            var lo = lo
            if lo < hi && prefixes[lo].count == depth { attach(node, ranges[lo]); lo += 1 }
            guard lo < hi else { return }
            // Group children by the byte at `depth`.
            var groups: [(idx: Int, lo: Int, hi: Int)] = []
            var k = lo
            while k < hi {
                let c = prefixes[k][depth]
                var m = k + 1
                while m < hi && prefixes[m][depth] == c { m += 1 }
                groups.append((Int(alphabet[Int(c)]), k, m))
                k = m
            }
            groups.sort { $0.idx < $1.idx } // alphabet order may differ from byte order for extra chars
            let base = t.childMask.count
            t.childBase[node] = Int32(base)
            var mask: UInt64 = 0
            for g in groups { mask |= UInt64(1) << UInt64(g.idx) }
            t.childMask[node] = mask
            for _ in groups {
                t.childBase.append(0); t.childMask.append(0); t.entStart.append(0); t.entCount.append(0)
            }
            for (n, g) in groups.enumerated() { buildNode(base + n, depth: depth + 1, g.lo, g.hi) }
        }
        buildNode(0, depth: 0, 0, prefixes.count)
        return t
    }
}
