// Loading dr_gateways, dr_carriers and dr_rules into a Snapshot. Bad rows are skipped with a log line; a missing table,
// a wrong table version or a DB error fails the whole load (the caller keeps the old snapshot).
import Foundation
import SwitchyardABI
import SwitchyardPluginKit

/// Module parameters (set by modparam before init, then read-only).
struct DRConfig: Sendable {
    var dbURL = ""
    var drdTable = "dr_gateways"
    var drrTable = "dr_rules"
    var drgTable = "dr_groups"
    var drcTable = "dr_carriers"
    var useDomain = true
    var drgUserCol = "username"
    var drgDomainCol = "domain"
    var drgGrpidCol = "groupid"
    var ruriAVP = "$avp(___dr_ruri__)"
    var gwIdAVP = "$avp(___dr_gw_id__)"
    var gwSockAVP = "$avp(___dr_sock__)"
    var gwPriprefixAVP: String? = nil
    var ruleIdAVP: String? = nil
    var rulePrefixAVP: String? = nil
    var carrierIdAVP: String? = nil
    var defaultGroup: Int64? = nil
    var forceDNS = true
    var persistentState = true
    var noConcurrentReload = false
    var extraPrefixChars = ""
    var extraIdChars = "_-."
    /// Probing: seconds between rounds (0 = off), method, From URI, extra success codes (200 always),
    /// and (Switchyard) the reply timeout in ms (0 = min(interval/2, 2 s)).
    var probingInterval: Int64 = 30
    var probingMethod = "OPTIONS"
    var probingFrom = "sip:prober@localhost"
    var probingReplyCodes: [Int] = []
    var probingTimeoutMS: Int64 = 0
    /// Where probes leave from when the gateway has no `socket` ("" = the core's choice).
    var probingSocket = ""
    /// Switchyard: a fixed "now" (Unix seconds) for timerec checks; 0 = the real clock (tests, benchmarks).
    var fixedTime: Int64 = 0
    /// Switchyard: seed for the weighted ordering (0 = random).
    var randomSeed: UInt64 = 0
}

struct LoadResult {
    var snapshot: Snapshot
    var skipped: [String]
}

struct LoadError: Error, CustomStringConvertible {
    let description: String
    init(_ s: String) { description = s }
}

enum Loader {
    /// Table versions this module understands (2.4 / 3.1+).
    static let versions: [String: Set<Int64>] = [
        "dr_gateways": [6], "dr_rules": [3, 4], "dr_carriers": [2, 3], "dr_groups": [2],
    ]

    static func tableVersions(_ db: DBConnection) throws -> [String: Int64] {
        let rows = try db.select("version", ["table_name", "table_version"])
        var out: [String: Int64] = [:]
        for r in rows { if let n = r[0].string, let v = r[1].int { out[n] = v } }
        return out
    }

    /// `resolveName`: a gateway host that is a name, resolved as a SIP destination (the core's resolver: NAPTR, SRV,
    /// A), with whether a DNS query failed; nil: its A/AAAA records at the address's port or the default (a core
    /// without ABI 1.12). A reload (`previous` set) throws when a name got no address because DNS did not answer
    /// (the caller keeps the old data); a name that does not exist follows force_dns as at startup.
    static func load(_ db: DBConnection, _ cfg: DRConfig, previous: Snapshot?, inheritState: Bool,
                     findRoute: (String) -> OpaquePointer? = { _ in nil },
                     resolveName: ((_ host: String, _ port: Int?, _ proto: String?, _ sips: Bool)
                                   -> (addrs: [GWAddress], dnsFailed: Bool))? = nil,
                     log: (String) -> Void) throws -> LoadResult {
        var skipped: [String] = []
        func skip(_ s: String) { skipped.append(s); log(s) }
        let versions: [String: Int64]
        do { versions = try tableVersions(db) } catch { throw LoadError("cannot read the version table: \(error)") }
        func version(_ table: String, _ canonical: String) throws -> Int64 {
            guard let v = versions[table] else { throw LoadError("table \(table) has no row in the version table") }
            guard versions_ok(canonical, v) else {
                throw LoadError("table \(table) has version \(v), expected \(Loader.versions[canonical]!.sorted().map(String.init).joined(separator: " or "))")
            }
            return v
        }
        func versions_ok(_ c: String, _ v: Int64) -> Bool { Loader.versions[c]?.contains(v) ?? true }
        _ = try version(cfg.drdTable, "dr_gateways")
        let rulesV = try version(cfg.drrTable, "dr_rules")
        let carriersV = try version(cfg.drcTable, "dr_carriers")
        let modernCarriers = carriersV >= 3

        // --- gateways
        let gwRows: [[DBValue]]
        do {
            gwRows = try db.select(cfg.drdTable, ["gwid", "type", "address", "strip", "pri_prefix", "attrs", "probe_mode",
                                                   "state", "socket", "description"], orderBy: "id")
        } catch { throw LoadError("cannot load \(cfg.drdTable): \(error)") }
        var gateways: [Gateway] = []
        gateways.reserveCapacity(gwRows.count)
        var gwIndex: [String: Int32] = [:]
        for r in gwRows {
            let id = r[0].string ?? ""
            guard validID(id, cfg.extraIdChars) else { skip("\(cfg.drdTable): bad gwid '\(id)', gateway skipped"); continue }
            guard gwIndex[id] == nil else { skip("\(cfg.drdTable): duplicate gwid '\(id)', row skipped"); continue }
            let address = (r[2].string ?? "").trimmingCharacters(in: .whitespaces)
            guard let parsed = parseGWAddress(address) else {
                skip("\(cfg.drdTable): gateway '\(id)' has a bad address '\(address)', skipped"); continue
            }
            let probe = Int(r[6].int ?? 0)
            guard (0...2).contains(probe) else { skip("\(cfg.drdTable): gateway '\(id)' has bad probe_mode \(probe), skipped"); continue }
            let dbState = Int(r[7].int ?? 0)
            guard (0...2).contains(dbState) else { skip("\(cfg.drdTable): gateway '\(id)' has bad state \(dbState), skipped"); continue }
            let proto = transport(of: parsed.ipStr, tls: parsed.tls)
            let port = parsed.port ?? (parsed.tls || proto == "tls" ? 5061 : 5060)
            var addrs: [GWAddress] = []
            if let ip = normalizeIP(parsed.host) {
                addrs = [GWAddress(ip: ip, port: port, proto: proto)]
            } else {
                // As OpenSIPS's add_dst (mk_proxy on the address's host, port and transport): a name without a port
                // gives its SRV targets' addresses at their ports, with the transport a NAPTR record chose.
                if let resolveName {
                    let r = resolveName(parsed.host, parsed.port, explicitTransport(of: parsed.ipStr), parsed.sips)
                    addrs = r.addrs
                    // DNS down or silent during a reload: dropping the gateway (force_dns=1) or its addresses
                    // (force_dns=0) would change routing for a transient failure; the reload fails instead.
                    if addrs.isEmpty && r.dnsFailed && previous != nil {
                        throw LoadError("DNS did not answer for host '\(parsed.host)' of gateway '\(id)'")
                    }
                } else {
                    addrs = resolve(parsed.host).map { GWAddress(ip: $0, port: port, proto: proto) }
                }
                if addrs.isEmpty && cfg.forceDNS {
                    skip("\(cfg.drdTable): cannot resolve host '\(parsed.host)' of gateway '\(id)' (force_dns=1), skipped")
                    continue
                }
            }
            let seed: UInt8 = !cfg.persistentState ? 0 : dbState == 1 ? (StateCell.disabled | StateCell.byMI)
                : dbState == 2 ? StateCell.disabled : 0
            var cell = StateCell(seed)
            if inheritState, let prev = previous, let pi = prev.gwIndex[id] {
                cell = prev.gateways[Int(pi)].state
                cell.socketRefused.store(false, ordering: .relaxed) // the socket column may have been fixed
                cell.probeSocketRefused.store(false, ordering: .relaxed)
            }
            gwIndex[id] = Int32(gateways.count)
            gateways.append(Gateway(id: id, type: Int(r[1].int ?? 0), address: address, ipStr: parsed.ipStr,
                                    strip: max(0, Int(r[3].int ?? 0)), priPrefix: r[4].string ?? "", attrs: r[5].string ?? "",
                                    probeMode: probe, socket: r[8].string ?? "", description: r[9].string ?? "",
                                    addrs: addrs, state: cell))
        }

        // --- carriers
        let crCols = ["carrierid", "gwlist", "flags", "state", "attrs", "description"] + (modernCarriers ? ["sort_alg"] : [])
        let crRows: [[DBValue]]
        do { crRows = try db.select(cfg.drcTable, crCols, orderBy: "id") } catch { throw LoadError("cannot load \(cfg.drcTable): \(error)") }
        var carriers: [Carrier] = []
        var crIndex: [String: Int32] = [:]
        for r in crRows {
            let id = r[0].string ?? ""
            guard validID(id, cfg.extraIdChars) else { skip("\(cfg.drcTable): bad carrierid '\(id)', skipped"); continue }
            guard crIndex[id] == nil else { skip("\(cfg.drcTable): duplicate carrierid '\(id)', row skipped"); continue }
            let list: [GWListEntry]
            do { list = try parseGWList(r[1].string ?? "", idChars: cfg.extraIdChars) } catch {
                skip("\(cfg.drcTable): carrier '\(id)': bad gwlist: \(error), skipped"); continue
            }
            if list.contains(where: \.isCarrier) { skip("\(cfg.drcTable): carrier '\(id)' references a carrier, skipped"); continue }
            var items: [ListItem] = []
            for e in list {
                if let gi = gwIndex[e.id] { items.append(ListItem(isCarrier: false, index: gi, weight: e.weight)) }
                else { log("\(cfg.drcTable): carrier '\(id)': unknown gateway '\(e.id)' dropped from its list") }
            }
            let flags = r[2].int ?? 0
            let firstOnly = modernCarriers ? flags & 1 != 0 : flags & 2 != 0
            let weight = modernCarriers ? (r[6].string == "W") : flags & 1 != 0
            let disabledFlag = modernCarriers ? flags & 2 != 0 : flags & 4 != 0
            let dbState = r[3].int ?? 0
            var cell = StateCell((disabledFlag || (cfg.persistentState && dbState != 0)) ? StateCell.disabled : 0)
            if inheritState, let prev = previous, let pi = prev.carrierIndex[id] { cell = prev.carriers[Int(pi)].state }
            crIndex[id] = Int32(carriers.count)
            carriers.append(Carrier(id: id, gws: items, firstOnly: firstOnly, weightSort: weight, attrs: r[4].string ?? "",
                                    description: r[5].string ?? "", state: cell))
        }

        // --- rules: streamed from the driver straight into the column arrays and trie entries (no row copies).
        let ruleCols = ["ruleid", "groupid", "prefix", "timerec", "priority", "routeid", "gwlist", "attrs"]
            + (rulesV >= 4 ? ["sort_alg"] : [])
        let alphabet = PrefixTrie.makeAlphabet(extra: cfg.extraPrefixChars)
        let (keyBits, keyChars) = PrefixTrie.keyLayout(alphabet)
        var rules = RuleTable()
        var arena = ArenaBuilder()
        var strs: [StrRef] = [.empty]
        var strIndex: [String: Int32] = ["": 0]
        var entries: [TrieEntry] = []
        var prefixBytes: [UInt8] = []
        var defaults: [UInt32: [(rule: Int32, priority: Int64)]] = [:]
        var timerecIndex: [String: Int32] = [:]
        var listIndex: [String: Int32] = [:]
        var routeIndex: [String: Int32] = [:]
        var routeUsers: [Int32: (first: Int64, count: Int)] = [:]
        var groups: [UInt32] = []
        func text(_ v: sy_db_value) -> String { String(decoding: trim(v.bytes), as: UTF8.self) }
        do {
            try db.selectEach(cfg.drrTable, ruleCols, orderBy: "ruleid") { r in
                let rid = r[0].int ?? 0
                // groupid: a ',' / '|' list of integers.
                groups.removeAll(keepingCapacity: true)
                var badGroup = false
                let gb = r[1].bytes
                var i = 0
                while i <= gb.count {
                    var j = i
                    while j < gb.count && gb[j] != UInt8(ascii: ",") && gb[j] != UInt8(ascii: "|") { j += 1 }
                    let t = trim(UnsafeRawBufferPointer(rebasing: gb[i..<j]))
                    if !t.isEmpty {
                        guard let v = parseInt(t), let g = UInt32(exactly: v), t[0] != UInt8(ascii: "-") else { badGroup = true; break }
                        if !groups.contains(g) { groups.append(g) }
                    }
                    i = j + 1
                }
                if badGroup || groups.isEmpty {
                    skip("\(cfg.drrTable): rule \(rid): bad groupid '\(r[1].string ?? "")', skipped"); return
                }
                let pb = trim(r[2].bytes)
                if pb.contains(where: { alphabet[Int($0)] < 0 }) {
                    skip("\(cfg.drrTable): rule \(rid): prefix '\(text(r[2]))' has a character that is not a digit\(cfg.extraPrefixChars.isEmpty ? "" : " or one of extra_prefix_chars"), skipped")
                    return
                }
                var tri: Int32 = -1
                let trb = trim(r[3].bytes)
                if !trb.isEmpty {
                    let tr = String(decoding: trb, as: UTF8.self)
                    if let k = timerecIndex[tr] { tri = k } else {
                        do {
                            let rec = try TimeRec.parse(tr)
                            tri = Int32(rules.timerecs.count)
                            rules.timerecs.append(rec)
                            timerecIndex[tr] = tri
                        } catch {
                            skip("\(cfg.drrTable): rule \(rid): bad timerec '\(tr)': \(error), skipped"); return
                        }
                    }
                }
                // gwlist: parsed once per distinct text, shared by every rule that has it.
                let listText = r[6].string ?? ""
                let li: Int32
                if let k = listIndex[listText] { li = k } else {
                    let list: [GWListEntry]
                    do { list = try parseGWList(listText, idChars: cfg.extraIdChars) } catch {
                        skip("\(cfg.drrTable): rule \(rid): bad gwlist: \(error), skipped"); return
                    }
                    var items: [ListItem] = []
                    items.reserveCapacity(list.count)
                    var maxC = 0
                    for e in list {
                        if e.isCarrier {
                            if let ci = crIndex[e.id] {
                                items.append(ListItem(isCarrier: true, index: ci, weight: e.weight))
                                maxC += carriers[Int(ci)].gws.count
                            } else { log("\(cfg.drrTable): rule \(rid): unknown carrier '\(e.id)' dropped from its list") }
                        } else if let gi = gwIndex[e.id] {
                            items.append(ListItem(isCarrier: false, index: gi, weight: e.weight))
                            maxC += 1
                        } else {
                            log("\(cfg.drrTable): rule \(rid): unknown gateway '\(e.id)' dropped from its list")
                        }
                    }
                    li = Int32(rules.lists.count)
                    rules.lists.append(RuleList(items: items, rawItems: list.map { ($0.isCarrier, $0.id) }, maxCandidates: maxC))
                    listIndex[listText] = li
                }
                var ai: Int32 = 0
                if let a = r[7].string, !a.isEmpty {
                    if let k = strIndex[a] { ai = k } else {
                        ai = Int32(strs.count); strs.append(arena.add(a)); strIndex[a] = ai
                    }
                }
                var ri: Int32 = -1
                if let name = r[5].string, !name.isEmpty {
                    if let k = routeIndex[name] { ri = k } else {
                        ri = Int32(rules.routeNames.count)
                        rules.routeNames.append(name)
                        rules.routeHandles.append(OpaquePointerBox(raw: findRoute(name)))
                        routeIndex[name] = ri
                    }
                    if rules.routeHandles[Int(ri)].raw == nil {
                        routeUsers[ri, default: (rid, 0)].count += 1
                        ri = -1
                    }
                }
                let idx = Int32(rules.rows.count)
                let priority = r[4].int ?? 0
                rules.rows.append(RuleRow(id: rid, timerec: tri, route: ri, list: li, attrs: ai,
                                          weightSort: rulesV >= 4 && r[8].type == Int32(SY_DB_STR.rawValue)
                                            && r[8].bytes.count == 1 && r[8].bytes[0] == UInt8(ascii: "W")))
                if pb.isEmpty {
                    for g in groups { defaults[g, default: []].append((idx, priority)) }
                } else {
                    let start = UInt32(prefixBytes.count)
                    prefixBytes.append(contentsOf: pb)
                    let key = prefixBytes.withUnsafeBufferPointer {
                        PrefixTrie.packKey(UnsafeBufferPointer(rebasing: $0[Int(start)...]), alphabet: alphabet,
                                           bits: keyBits, chars: keyChars)
                    }
                    for g in groups {
                        entries.append(TrieEntry(key: key, prefixStart: start, prefixLen: UInt16(pb.count), group: g,
                                                 rule: idx, priority: priority))
                    }
                }
            }
        } catch let e as LoadError { throw e } catch { throw LoadError("cannot load \(cfg.drrTable): \(error)") }
        for (ri, u) in routeUsers.sorted(by: { $0.key < $1.key }) {
            log("\(cfg.drrTable): route '\(rules.routeNames[Int(ri)])' of rule \(u.first)\(u.count > 1 ? " (and \(u.count - 1) more rules)" : "") does not exist: ignored")
        }
        // Prefix-less rules: priority order (stable: load order among equals).
        var defaultLists: [UInt32: [Int32]] = [:]
        for (g, list) in defaults {
            defaultLists[g] = list.enumerated().sorted { a, b in
                a.element.priority != b.element.priority ? a.element.priority > b.element.priority : a.offset < b.offset
            }.map(\.element.rule)
        }
        let trie = PrefixTrie.build(alphabet: alphabet, entries: &entries, prefixBytes: prefixBytes)
        entries = []
        rules.freeze()
        let snap = Snapshot(gateways: gateways, carriers: carriers, rules: rules, trie: trie, defaults: defaultLists,
                            arena: arena, strs: strs, loadedAt: Int64(Date().timeIntervalSince1970))
        return LoadResult(snapshot: snap, skipped: skipped)
    }

    static func validID(_ id: String, _ extra: String) -> Bool {
        !id.isEmpty && id.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || extra.unicodeScalars.contains($0) }
    }

    /// `[sip:|sips:][user@]host[:port][;params]` → the hostport text kept for the R-URI, the host and port.
    static func parseGWAddress(_ address: String) -> (ipStr: String, host: String, port: Int?, tls: Bool, sips: Bool)? {
        var s = Substring(address)
        var tls = false
        let lower = s.lowercased()
        let sips = lower.hasPrefix("sips:")
        if sips { s = s.dropFirst(5); tls = true } else if lower.hasPrefix("sip:") { s = s.dropFirst(4) }
        if let at = s.firstIndex(of: "@") { s = s[s.index(after: at)...] }
        let ipStr = String(s)
        var hostport = s
        if let semi = hostport.firstIndex(of: ";") { hostport = hostport[..<semi] }
        if hostport.lowercased().contains("transport=tls") { tls = true }
        var host = hostport, port: Int? = nil
        if hostport.hasPrefix("[") {
            guard let close = hostport.firstIndex(of: "]") else { return nil }
            host = hostport[hostport.index(after: hostport.startIndex)..<close]
            let rest = hostport[hostport.index(after: close)...]
            if rest.hasPrefix(":") { guard let p = Int(rest.dropFirst()) else { return nil }; port = p }
        } else if let colon = hostport.lastIndex(of: ":") {
            host = hostport[..<colon]
            guard let p = Int(hostport[hostport.index(after: colon)...]) else { return nil }
            port = p
        }
        if host.isEmpty { return nil }
        return (ipStr, String(host), port, tls, sips)
    }

    /// The `transport=` parameter of a hostport[;params] text (lowercased), nil when it has none.
    static func explicitTransport(of text: String) -> String? {
        for p in text.split(separator: ";", omittingEmptySubsequences: false).dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces).lowercased() == "transport" {
                return kv[1].trimmingCharacters(in: .whitespaces).lowercased()
            }
        }
        return nil
    }

    /// The `transport=` parameter of a hostport[;params] text (lowercased), else `tls` for sips/TLS, else `udp`.
    static func transport(of text: String, tls: Bool) -> String {
        explicitTransport(of: text) ?? (tls ? "tls" : "udp")
    }

    /// The canonical text of an IP literal, or nil if `host` is not one.
    static func normalizeIP(_ host: String) -> String? {
        var h = host
        if h.hasPrefix("[") && h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        var a4 = in_addr()
        if inet_pton(AF_INET, h, &a4) == 1 { return ipText(AF_INET, &a4) }
        var a6 = in6_addr()
        if inet_pton(AF_INET6, h, &a6) == 1 { return ipText(AF_INET6, &a6) }
        return nil
    }

    private static func ipText(_ family: Int32, _ addr: UnsafeRawPointer) -> String {
        var buf = [CChar](repeating: 0, count: 64)
        inet_ntop(family, addr, &buf, 64)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// DNS (A/AAAA) for a gateway hostname, at most 32 addresses.
    static func resolve(_ host: String) -> [String] {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(host, nil, &hints, &res) == 0 else { return [] }
        defer { freeaddrinfo(res) }
        var out: [String] = []
        var p = res
        while let a = p, out.count < 32 {
            if a.pointee.ai_family == AF_INET {
                var sin = UnsafeRawPointer(a.pointee.ai_addr).load(as: sockaddr_in.self)
                let t = ipText(AF_INET, &sin.sin_addr)
                if !out.contains(t) { out.append(t) }
            } else if a.pointee.ai_family == AF_INET6 {
                var sin6 = UnsafeRawPointer(a.pointee.ai_addr).load(as: sockaddr_in6.self)
                let t = ipText(AF_INET6, &sin6.sin6_addr)
                if !out.contains(t) { out.append(t) }
            }
            p = a.pointee.ai_next
        }
        return out
    }
}

struct GWListEntry: Sendable {
    var isCarrier: Bool
    var id: String
    var weight: Int
}

/// gwlist syntax: `item (sep item)*`, sep `,` or `|`, item `[#]id[=weight]`, blanks allowed around tokens. `;` and any
/// other character are errors. An empty list is fine.
func parseGWList(_ text: String, idChars: String) throws(PluginErrorText) -> [GWListEntry] {
    var out: [GWListEntry] = []
    let chars = Array(text.utf8)
    var i = 0
    func blank(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 }
    func skipBlanks() { while i < chars.count && blank(chars[i]) { i += 1 } }
    let extra = Set(idChars.utf8)
    func idChar(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || extra.contains(c)
    }
    skipBlanks()
    if i == chars.count { return [] }
    while true {
        skipBlanks()
        var carrier = false
        if i < chars.count && chars[i] == UInt8(ascii: "#") { carrier = true; i += 1; skipBlanks() }
        let s = i
        while i < chars.count && idChar(chars[i]) { i += 1 }
        if s == i {
            let what = i < chars.count ? "'\(Character(UnicodeScalar(chars[i])))'" : "end of list"
            throw PluginErrorText("expected an id at \(i + 1), found \(what)")
        }
        let id = String(decoding: chars[s..<i], as: UTF8.self)
        skipBlanks()
        var weight = 0
        if i < chars.count && chars[i] == UInt8(ascii: "=") {
            i += 1
            skipBlanks()
            let ws = i
            if i < chars.count && (chars[i] == UInt8(ascii: "-") || chars[i] == UInt8(ascii: "+")) { i += 1 }
            while i < chars.count && chars[i] >= 48 && chars[i] <= 57 { i += 1 }
            guard let w = Int(String(decoding: chars[ws..<i], as: UTF8.self)) else {
                throw PluginErrorText("bad weight for '\(id)'")
            }
            weight = max(0, w)
            skipBlanks()
        }
        out.append(GWListEntry(isCarrier: carrier, id: id, weight: weight))
        if i == chars.count { break }
        guard chars[i] == UInt8(ascii: ",") || chars[i] == UInt8(ascii: "|") else {
            throw PluginErrorText("unexpected '\(Character(UnicodeScalar(chars[i])))' at \(i + 1) (separators are ',' and '|')")
        }
        i += 1
    }
    return out
}
