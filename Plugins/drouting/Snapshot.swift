// The routing data: gateways, carriers, rules, and the per-group prefix trie, built once per (re)load into an
// immutable Snapshot. Only gateway/carrier runtime state (enabled/disabled) is mutable, in shared atomic cells that a
// reload hands over to the new snapshot (OpenSIPS's inherited state).
import Synchronization

/// Runtime state of a gateway or carrier, shared across reloads by id. Every change goes through `update` (one atomic
/// compare-and-swap loop), so routing workers, MI, dr_disable and probe replies (core threads) never lose a change.
final class StateCell: Sendable {
    static let disabled: UInt8 = 1 // DSBL
    static let byMI: UInt8 = 2     // NOEN: disabled by MI / DB state 1, never re-enabled by probing
    let bits: Atomic<UInt8>
    /// A probe of this gateway is waiting for its reply (no second one is sent meanwhile).
    let probing = Atomic<Bool>(false)
    /// Changed since the state was last written back to the DB (`persistent_state`).
    let dirty = Atomic<Bool>(false)
    /// The gateway's `socket` is not one of our listening sockets: logged once, then not used (reset by a reload).
    let socketRefused = Atomic<Bool>(false)
    /// Probes cannot leave from the gateway's socket / probing_socket: logged once (reset by a reload).
    let probeSocketRefused = Atomic<Bool>(false)
    init(_ bits: UInt8) { self.bits = Atomic(bits) }
    var isDisabled: Bool { bits.load(ordering: .relaxed) & StateCell.disabled != 0 }

    /// Applies `change` atomically; returns the new bits if they differ from the old ones, nil when nothing changed.
    @discardableResult
    func update(_ change: (UInt8) -> UInt8) -> UInt8? {
        var old = bits.load(ordering: .relaxed)
        while true {
            let new = change(old)
            if new == old { return nil }
            let (done, current) = bits.compareExchange(expected: old, desired: new, ordering: .relaxed)
            if done { dirty.store(true, ordering: .releasing); return new }
            old = current
        }
    }
}

/// A string in a snapshot's byte arena (hot-path strings are handed to the host as `sy_str` without conversion).
struct StrRef: Sendable {
    var start: UInt32
    var len: UInt32
    static let empty = StrRef(start: 0, len: 0)
}

/// Interns strings into one byte arena: each distinct text is stored once.
struct ArenaBuilder {
    var bytes: [UInt8] = [0] // never empty: a base address exists even for empty strings
    var index: [String: StrRef] = [:]
    mutating func add(_ s: String) -> StrRef {
        if s.isEmpty { return .empty }
        if let r = index[s] { return r }
        let r = StrRef(start: UInt32(bytes.count), len: UInt32(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
        index[s] = r
        return r
    }
}

/// One resolved address of a gateway: IP (normalised text), port, transport.
struct GWAddress: Sendable, Equatable {
    var ip: String
    var port: Int
    var proto: String
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
    /// Resolved addresses, each with the port and transport is_from_gw matches (an IP literal: itself at the given
    /// or default port; a name: as the core resolves a SIP destination, e.g. its SRV targets at their ports).
    var addrs: [GWAddress]
    /// The addresses' IPs (normalised text), each once.
    var ips: [String] { addrs.reduce(into: []) { if !$0.contains($1.ip) { $0.append($1.ip) } } }
    var state: StateCell
    /// Arena copies of the strings do_routing hands to the host.
    var hID = StrRef.empty, hIP = StrRef.empty, hPri = StrRef.empty, hSock = StrRef.empty, hAttrs = StrRef.empty

    /// MI state name.
    var stateName: String { Gateway.stateName(state.bits.load(ordering: .relaxed), probeMode: probeMode) }

    static func stateName(_ b: UInt8, probeMode: Int) -> String {
        if b & StateCell.disabled == 0 { return "Active" }
        if b & StateCell.byMI != 0 { return "Disabled MI" }
        return probeMode == 1 ? "Probing" : "Inactive"
    }

    /// E_DROUTING_STATUS `status`: `active`, `disabled MI`, `probing`, `inactive`.
    static func eventStatus(_ b: UInt8, probeMode: Int) -> String {
        if b & StateCell.disabled == 0 { return "active" }
        if b & StateCell.byMI != 0 { return "disabled MI" }
        return probeMode == 1 ? "probing" : "inactive"
    }
}

/// What do_routing reads of a gateway, without the reference-counted fields of `Gateway` (copying one is free and
/// touches no shared counter; the state cell is borrowed, never retained, on the hot path).
struct GatewayHot: @unchecked Sendable {
    var hID: StrRef, hIP: StrRef, hPri: StrRef, hSock: StrRef, hAttrs: StrRef
    var strip: Int
    /// Owned by the snapshot's `gateways`, which outlives every use of this value.
    var state: Unmanaged<StateCell>

    @inline(__always)
    var isDisabled: Bool { state._withUnsafeGuaranteedRef { $0.isDisabled } }
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
    var hID = StrRef.empty, hAttrs = StrRef.empty
}

/// A rule's destination list, shared by every rule with the same gwlist text.
struct RuleList: Sendable {
    var items: [ListItem]
    /// The gwlist as written (ids, for dr_number_routing).
    var rawItems: [(isCarrier: Bool, id: String)]
    /// Upper bound of the candidates the list expands to (carriers counted with all their gateways).
    var maxCandidates: Int
}

/// One rule, 24 bytes: everything a lookup reads about a rule sits in one cache line (texts, lists, timerecs and
/// routes are shared and referenced by index).
struct RuleRow: Sendable {
    var id: Int64
    /// Index in `timerecs`, -1 = always valid.
    var timerec: Int32
    /// Index in `routes`, -1 = no routeid (or a route that does not exist).
    var route: Int32
    /// Index in `lists`; the sign bit says the rule sorts its list by weight ("W" in sort_alg).
    var listAndSort: Int32
    /// Index in the snapshot's `strs`.
    var attrs: Int32

    init(id: Int64, timerec: Int32, route: Int32, list: Int32, attrs: Int32, weightSort: Bool) {
        self.id = id
        self.timerec = timerec
        self.route = route
        self.listAndSort = weightSort ? ~list : list
        self.attrs = attrs
    }

    var list: Int32 { listAndSort < 0 ? ~listAndSort : listAndSort }
    var weightSort: Bool { listAndSort < 0 }
}

/// The rules; texts, lists, timerecs and routes are shared.
struct RuleTable: Sendable {
    /// Filled while loading; `freeze()` moves them to `frozenRows`, which lookups read.
    var rows: [RuleRow] = []
    private(set) var frozenRows = FrozenArray<RuleRow>([])
    var timerecs: [TimeRec] = []
    var lists: [RuleList] = []
    var routeNames: [String] = []
    var routeHandles: [OpaquePointerBox] = []
    var count: Int { frozenRows.count }

    mutating func freeze() { frozenRows = FrozenArray(rows); rows = [] }

    @inline(__always)
    func row(_ r: Int) -> RuleRow { frozenRows[r] }

    @inline(__always)
    func valid(_ r: Int, at t: Int64) -> Bool {
        let tr = Int(frozenRows[r].timerec)
        return tr < 0 || timerecs[tr].matches(t)
    }
}

/// A sendable wrapper for a core route handle (owned by the core, valid until the server stops).
struct OpaquePointerBox: @unchecked Sendable {
    let raw: OpaquePointer?
}

/// One rule's fields (a view assembled on demand).
struct RuleView {
    var id: Int64
    var attrs: String
    var hAttrs: StrRef
    var list: RuleList
    var weightSort: Bool
    var routeName: String
    var route: OpaquePointer?
    var items: [ListItem] { list.items }
    var rawItems: [(isCarrier: Bool, id: String)] { list.rawItems }
}

/// A compact digit trie: node 0 is the root (the empty prefix; prefix-less rules are kept apart). Children of a node
/// are contiguous from `Node.base`, present ones marked in `Node.mask` (bit = alphabet index).
struct PrefixTrie: Sendable {
    /// One node, 16 bytes, so the downward walk costs one cache line per level (fields interleaved on purpose).
    struct Node: Sendable {
        /// Present children (bit = alphabet index); they are contiguous from `base`.
        var mask: UInt64 = 0
        var base: Int32 = 0
        /// First of this node's group entries in `entries`, or -1 when no rule has exactly this prefix.
        var entStart: Int32 = -1
    }

    /// The rules of one group at one node: ruleRefs[ruleStart..<end]. `endAndLast` is the end, bit-inverted on the
    /// node's last entry (the node stays 16 bytes without a count).
    struct GroupEntry: Sendable {
        var group: UInt32
        var ruleStart: Int32
        var endAndLast: Int32
        /// ruleRefs[ruleStart], the best rule, kept here to save a cache miss on the usual lookup.
        var first: Int32
        var end: Int32 { endAndLast < 0 ? ~endAndLast : endAndLast }
        var isLast: Bool { endAndLast < 0 }
    }

    /// byte → alphabet index, or -1 for a character that is not allowed in prefixes.
    var alphabet: [Int8]
    var nodes: [Node] = [Node()]
    var entries: [GroupEntry] = []
    /// Rule indexes, best first per (prefix, group).
    var ruleRefs: [Int32] = []
    /// The deepest node level (longest prefix).
    var maxDepth = 0
    /// Lookup copies of `nodes`, `entries` and `ruleRefs`, made by `freeze()` once the trie is built.
    private(set) var fNodes = FrozenArray<Node>([Node()])
    private(set) var fEntries = FrozenArray<GroupEntry>([])
    private(set) var fRuleRefs = FrozenArray<Int32>([])

    /// Moves the built tables to their lookup copies (the build arrays are released).
    mutating func freeze() {
        fNodes = FrozenArray(nodes); nodes = []
        fEntries = FrozenArray(entries); entries = []
        fRuleRefs = FrozenArray(ruleRefs); ruleRefs = []
    }

    @inline(__always)
    func ruleRef(_ i: Int) -> Int32 { fRuleRefs[i] }

    @inline(__always)
    func child(_ node: Node, _ idx: Int) -> Int? {
        let bit = UInt64(1) << UInt64(idx)
        guard node.mask & bit != 0 else { return nil }
        return Int(node.base) + (node.mask & (bit &- 1)).nonzeroBitCount
    }

    /// The entry of `group` at `node` (its rules, best first, are ruleRefs[ruleStart..<end]).
    @inline(__always)
    func entry(_ node: Int, group: UInt32) -> GroupEntry? {
        var e = Int(fNodes[node].entStart)
        guard e >= 0 else { return nil }
        while true {
            let g = fEntries[e]
            if g.group == group { return g }
            if g.isLast { return nil }
            e += 1
        }
    }

    /// The downward walk into `path` (path[d] = node of the first d characters; capacity maxDepth+1): the deepest
    /// level reached, or -1 when a character looked at is not allowed (OpenSIPS: the prefix search fails and only
    /// prefix-less rules apply). No allocation.
    @inline(__always)
    func walk(_ number: UnsafeRawBufferPointer, into path: UnsafeMutablePointer<Int32>) -> Int {
        path[0] = 0
        let nb = fNodes.base
        return alphabet.withUnsafeBufferPointer { ab in
            var node = nb[0], depth = 0
            for c in number {
                if node.mask == 0 { break } // nothing deeper: the rest is never looked at
                let idx = ab[Int(c)]
                if idx < 0 { return -1 }
                guard let next = child(node, Int(idx)) else { break }
                node = nb[next]
                depth += 1
                path[depth] = Int32(next)
            }
            return depth
        }
    }
}

/// Immutable routing data published to the workers.
final class Snapshot: Sendable {
    let gateways: [Gateway]
    /// `gateways`' hot fields, same indexes.
    let gwHot: [GatewayHot]
    let gwIndex: [String: Int32]
    let carriers: [Carrier]
    let carrierIndex: [String: Int32]
    /// Resolved gateway IP (normalised text) → gateways having it, in load order (is_from_gw and friends).
    let byIP: [String: [Int32]]
    let rules: RuleTable
    let trie: PrefixTrie
    /// group → prefix-less rules, best first.
    let defaults: [UInt32: [Int32]]
    /// Interned strings (gateway/carrier/rule texts handed to the host) and their bytes.
    let arena: [UInt8]
    let strs: [StrRef]
    /// The longest pri_prefix + hostport of a gateway (rewrite buffer size).
    let maxGatewayText: Int
    let loadedAt: Int64

    init(gateways: [Gateway], carriers: [Carrier], rules: RuleTable, trie: PrefixTrie, defaults: [UInt32: [Int32]],
         arena: ArenaBuilder, strs: [StrRef], loadedAt: Int64) {
        var arena = arena
        var gws = gateways
        for i in gws.indices {
            gws[i].hID = arena.add(gws[i].id); gws[i].hIP = arena.add(gws[i].ipStr)
            gws[i].hPri = arena.add(gws[i].priPrefix); gws[i].hSock = arena.add(gws[i].socket)
            gws[i].hAttrs = arena.add(gws[i].attrs)
        }
        var crs = carriers
        for i in crs.indices { crs[i].hID = arena.add(crs[i].id); crs[i].hAttrs = arena.add(crs[i].attrs) }
        maxGatewayText = gws.reduce(0) { max($0, Int($1.hPri.len + $1.hIP.len)) }
        self.gateways = gws
        gwHot = gws.map {
            GatewayHot(hID: $0.hID, hIP: $0.hIP, hPri: $0.hPri, hSock: $0.hSock, hAttrs: $0.hAttrs, strip: $0.strip,
                       state: Unmanaged.passUnretained($0.state))
        }
        self.carriers = crs
        self.rules = rules
        self.trie = trie
        self.defaults = defaults
        self.arena = arena.bytes
        self.strs = strs
        self.loadedAt = loadedAt
        var gi: [String: Int32] = [:]
        var ipIdx: [String: [Int32]] = [:]
        for (i, g) in gateways.enumerated() {
            gi[g.id] = Int32(i)
            for ip in g.ips where ipIdx[ip]?.last != Int32(i) { ipIdx[ip, default: []].append(Int32(i)) }
        }
        gwIndex = gi
        byIP = ipIdx
        var ci: [String: Int32] = [:]
        for (i, c) in carriers.enumerated() { ci[c.id] = Int32(i) }
        carrierIndex = ci
    }

    static let empty = Snapshot(gateways: [], carriers: [], rules: RuleTable(),
                                trie: PrefixTrie(alphabet: PrefixTrie.makeAlphabet(extra: "")), defaults: [:],
                                arena: ArenaBuilder(), strs: [.empty], loadedAt: 0)

    /// The text of an arena string.
    func string(_ r: StrRef) -> String {
        arena.withUnsafeBufferPointer { String(decoding: $0[Int(r.start)..<Int(r.start + r.len)], as: UTF8.self) }
    }

    func rule(_ i: Int32) -> RuleView {
        let r = Int(i)
        let row = rules.row(r)
        let route = Int(row.route)
        let a = strs[Int(row.attrs)]
        return RuleView(id: row.id, attrs: string(a), hAttrs: a, list: rules.lists[Int(row.list)],
                        weightSort: row.weightSort, routeName: route < 0 ? "" : rules.routeNames[route],
                        route: route < 0 ? nil : rules.routeHandles[route].raw)
    }

    /// Where a rule was found: `level` = matched prefix length (-1 for the prefix-less list), `pos` = index in that
    /// node's (or the prefix-less) list for the group.
    struct Match: Sendable, Equatable {
        var rule: Int32
        var level: Int
        var pos: Int
    }

    func lookup(number: String, group: UInt32, now: Int64, strict: Bool, after: Match? = nil) -> Match? {
        var num = number
        return num.withUTF8 { lookup(UnsafeRawBufferPointer($0), group: group, now: now, strict: strict, after: after) }
    }

    /// Finds the rule for `number` in `group` at time `now`. With `after`, continues the search after that match
    /// (rule fallback): the rest of its list, then shorter prefixes, then the prefix-less rules. No allocation.
    func lookup(_ raw: UnsafeRawBufferPointer, group: UInt32, now: Int64, strict: Bool, after: Match? = nil) -> Match? {
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: trie.maxDepth + 1) { pathBuf -> Match? in
            let path = pathBuf.baseAddress!
            let deepest = trie.walk(raw, into: path)
            if deepest >= 0 {
                var startLevel = deepest, startPos = 0
                if let a = after {
                    if a.level < 0 { return nextDefault(group: group, now: now, from: a.pos + 1) }
                    startLevel = min(a.level, deepest)
                    startPos = a.level <= deepest ? a.pos + 1 : 0
                }
                if strict && startLevel != raw.count { return nil }
                var level = startLevel
                while level >= 1 {
                    if let ent = trie.entry(Int(path[level]), group: group) {
                        var i = level == startLevel ? startPos : 0
                        let count = Int(ent.end - ent.ruleStart)
                        while i < count {
                            let r = i == 0 ? ent.first : trie.ruleRef(Int(ent.ruleStart) + i)
                            if rules.valid(Int(r), at: now) { return Match(rule: r, level: level, pos: i) }
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
            if rules.valid(Int(list[i]), at: now) { return Match(rule: list[i], level: -1, pos: i) }
            i += 1
        }
        return nil
    }
}

/// One (prefix, group, rule) placement while building: sorted by prefix (alphabet order, shorter first), group,
/// priority (highest first), then load order. `key` packs the first characters of the prefix for integer compares.
struct TrieEntry {
    var key: UInt64
    var prefixStart: UInt32
    var prefixLen: UInt16
    var group: UInt32
    var rule: Int32
    var priority: Int64
}

extension PrefixTrie {
    static func makeAlphabet(extra: String) -> [Int8] {
        var a = [Int8](repeating: -1, count: 256)
        var n: Int8 = 0
        for c in UInt8(ascii: "0")...UInt8(ascii: "9") { a[Int(c)] = n; n += 1 }
        for c in extra.utf8 where a[Int(c)] < 0 && n < 64 { a[Int(c)] = n; n += 1 }
        return a
    }

    static func alphabetSize(_ alphabet: [Int8]) -> Int { Int(alphabet.max() ?? -1) + 1 }

    /// Bits per packed character (alphabet index + 1, 0 = end of prefix) and how many fit in the 64-bit key.
    static func keyLayout(_ alphabet: [Int8]) -> (bits: Int, chars: Int) {
        let n = alphabetSize(alphabet) + 1
        let bits = n <= 16 ? 4 : (n <= 32 ? 5 : 7)
        return (bits, 64 / bits)
    }

    static func packKey(_ p: UnsafeBufferPointer<UInt8>, alphabet: [Int8], bits: Int, chars: Int) -> UInt64 {
        var k: UInt64 = 0
        for i in 0..<chars {
            k <<= UInt64(bits)
            if i < p.count { k |= UInt64(Int(alphabet[Int(p[i])]) + 1) }
        }
        return k
    }

    /// Builds the trie from entries (prefixes in `prefixBytes`); sorts them in place.
    static func build(alphabet: [Int8], entries: inout [TrieEntry], prefixBytes: [UInt8]) -> PrefixTrie {
        var t = PrefixTrie(alphabet: alphabet)
        let (_, chars) = keyLayout(alphabet)
        prefixBytes.withUnsafeBufferPointer { pb in
            func prefixLess(_ a: TrieEntry, _ b: TrieEntry) -> Int {
                if a.key != b.key { return a.key < b.key ? -1 : 1 }
                if a.prefixLen <= chars && b.prefixLen <= chars { return 0 }
                var i = chars
                while true {
                    let ea = i >= Int(a.prefixLen), eb = i >= Int(b.prefixLen)
                    if ea || eb { return ea && eb ? 0 : (ea ? -1 : 1) }
                    let ca = alphabet[Int(pb[Int(a.prefixStart) + i])], cb = alphabet[Int(pb[Int(b.prefixStart) + i])]
                    if ca != cb { return ca < cb ? -1 : 1 }
                    i += 1
                }
            }
            entries.sort { a, b in
                let c = prefixLess(a, b)
                if c != 0 { return c < 0 }
                if a.group != b.group { return a.group < b.group }
                if a.priority != b.priority { return a.priority > b.priority }
                return a.rule < b.rule
            }
            // Unique prefixes: their first entry index (in sorted order) and an end sentinel.
            var starts: [Int32] = []
            starts.reserveCapacity(entries.count / 2 + 1)
            var i = 0
            while i < entries.count {
                starts.append(Int32(i))
                var j = i + 1
                while j < entries.count && prefixLess(entries[i], entries[j]) == 0 { j += 1 }
                i = j
            }
            let nPrefixes = starts.count
            starts.append(Int32(entries.count))
            t.ruleRefs.reserveCapacity(entries.count)
            for e in entries { t.ruleRefs.append(e.rule) }
            @inline(__always) func byte(_ p: Int, _ d: Int) -> UInt8 {
                pb[Int(entries[Int(starts[p])].prefixStart) + d]
            }
            @inline(__always) func plen(_ p: Int) -> Int { Int(entries[Int(starts[p])].prefixLen) }
            func attach(_ node: Int, _ p: Int) {
                t.nodes[node].entStart = Int32(t.entries.count)
                var k = Int(starts[p])
                let end = Int(starts[p + 1])
                while k < end {
                    let g = entries[k].group
                    var m = k
                    while m < end && entries[m].group == g { m += 1 }
                    t.entries.append(GroupEntry(group: g, ruleStart: Int32(k), endAndLast: m == end ? ~Int32(m) : Int32(m),
                                                first: entries[k].rule))
                    k = m
                }
            }
            // Depth-first over the sorted unique prefixes [lo, hi), which share their first `depth` characters.
            // The children ranges of a node go to a per-depth scratch area (no allocation per node).
            var scratch: [Int32] = []
            func buildNode(_ node: Int, depth: Int, _ lo: Int, _ hi: Int) {
                var lo = lo
                if depth > t.maxDepth { t.maxDepth = depth }
                if lo < hi && plen(lo) == depth { attach(node, lo); lo += 1 }
                guard lo < hi else { return }
                let base0 = scratch.count
                var mask: UInt64 = 0
                var k = lo
                while k < hi {
                    let c = byte(k, depth)
                    var m = k + 1
                    while m < hi && byte(m, depth) == c { m += 1 }
                    mask |= UInt64(1) << UInt64(alphabet[Int(c)])
                    scratch.append(Int32(k)); scratch.append(Int32(m))
                    k = m
                }
                let n = (scratch.count - base0) / 2
                let base = t.nodes.count
                t.nodes[node].base = Int32(base)
                t.nodes[node].mask = mask
                t.nodes.append(contentsOf: repeatElement(Node(), count: n))
                for c in 0..<n {
                    buildNode(base + c, depth: depth + 1, Int(scratch[base0 + 2 * c]), Int(scratch[base0 + 2 * c + 1]))
                }
                scratch.removeLast(scratch.count - base0)
            }
            buildNode(0, depth: 0, 0, nPrefixes)
        }
        t.freeze()
        return t
    }
}
