// Script functions: ds_select_dst / ds_select_domain, ds_next_dst / ds_next_domain, ds_mark_dst, ds_count,
// ds_is_in_list, ds_push_script_attrs, ds_get_script_attrs.
import SwitchyardABI
import DispatcherSelection
import SwitchyardPluginKit
import Synchronization

extension DispatcherModule {
    func declareFunctions(_ m: inout ModuleExportsBuilder) {
        let opt = FunctionParam.optional
        let selectRoutes: RouteMask = [.request, .branch, .failure, .local]
        // ds_select_dst(set, alg[, flags][, partition][, max_res]) / ds_select_domain(...)
        for (name, domain) in [("ds_select_dst", false), ("ds_select_domain", true)] {
            m.function(name, params: [.int, .int, [.str, opt], [.str, opt], [.int, opt]], routes: selectRoutes,
                       fixup: { [self] args in try checkFlags(args, 2); try checkPartition(args, 3) }) { [self] call in
                select(call, domain: domain)
            }
        }
        // ds_next_dst([partition]) / ds_next_domain([partition]): any route (tm's failure_route will use them).
        for (name, domain) in [("ds_next_dst", false), ("ds_next_domain", true)] {
            m.function(name, params: [[.str, opt]], routes: .all,
                       fixup: { [self] args in try checkPartition(args, 0) }) { [self] call in next(call, domain: domain) }
        }
        // ds_mark_dst([state][, partition])
        m.function("ds_mark_dst", params: [[.str, opt], [.str, opt]], routes: [.request, .failure, .onReply, .branch],
                   fixup: { [self] args in try checkPartition(args, 1) }) { [self] call in
            mark(call)
        }
        // ds_count(set, filter, $var[, partition])
        m.function("ds_count", params: [.int, .str, .var, [.str, opt]],
                   routes: [.request, .failure, .branch, .local, .timer, .event, .startup],
                   fixup: { [self] args in try checkPartition(args, 3) }) { [self] call in count(call) }
        // ds_is_in_list(ip, port[, set][, partition][, active_only][, pattern])
        m.function("ds_is_in_list", params: [.str, .int, [.int, opt], [.str, opt], [.int, opt], [.str, opt]],
                   routes: .all, fixup: { [self] args in try checkPartition(args, 3) }) { [self] call in isInList(call) }
        // ds_push_script_attrs(attrs, ip, port[, set][, partition]) / ds_get_script_attrs(uri, set[, partition], $out)
        m.function("ds_push_script_attrs", params: [.str, .str, .int, [.int, opt], [.str, opt]],
                   fixup: { [self] args in try checkPartition(args, 4) }) { [self] call in
            pushScriptAttrs(call)
        }
        m.function("ds_get_script_attrs", params: [.str, .int, [.str, opt], .var],
                   fixup: { [self] args in try checkPartition(args, 2) }) { [self] call in getScriptAttrs(call) }
    }

    // MARK: - Startup checks of literal arguments (OpenSIPS's fixups)

    /// Literal flags of ds_select_dst/ds_select_domain: an unknown letter stops startup, as OpenSIPS.
    func checkFlags(_ args: [FixupArgument], _ i: Int) throws {
        guard i < args.count, let text = args[i].constantString, case .failure(let bad) = DSSelectFlags.parse(text) else { return }
        throw FixupError(argument: i, "unknown flag '\(bad.character)' in \"\(text)\" (allowed: f, u, d, a)")
    }

    /// A literal partition name that is not configured stops startup, as OpenSIPS.
    func checkPartition(_ args: [FixupArgument], _ i: Int) throws {
        guard i < args.count, let rt, let name = args[i].constantString?.trimmingSpaces(), !name.isEmpty,
              rt.byName[name] == nil else { return }
        throw FixupError(argument: i, "unknown partition '\(name)'")
    }

    /// The partition a script argument names (the default one when omitted). An unknown name (a variable's value;
    /// literal ones stop startup) makes the call return -1, logged once per function and name.
    func partition(_ rt: Runtime, _ call: FunctionCall, _ i: Int, _ function: String) -> Partition? {
        if let p = rt.partition(call, i) { return p }
        let name = call.string(i).trimmingSpaces()
        warnOnce("part\(function)\u{1}\(name)", "\(function): unknown partition '\(name)'")
        return nil
    }

    // MARK: - AVP helpers

    func push(_ ctx: SYContext, _ a: AVPVar, _ v: SYValue) { host.varSet(ctx, a.one, v) }
    func pop(_ ctx: SYContext, _ a: AVPVar) { host.varSet(ctx, a.one, .null) }
    func head(_ ctx: SYContext, _ a: AVPVar) -> SYValue { host.varGet(ctx, a.one) ?? .null }
    func clear(_ ctx: SYContext, _ a: AVPVar) {
        if let all = a.all { host.varSet(ctx, all, .null); return }
        for _ in 0..<10_000 { guard !head(ctx, a).isNull else { return }; pop(ctx, a) }
    }

    // MARK: - ds_select_dst / ds_select_domain

    func select(_ call: FunctionCall, domain: Bool) -> Int32 {
        guard let rt else { return -1 }
        let ctx = call.context
        let setID = Int(call.int(0)), alg = Int(call.int(1))
        var flags: DSSelectFlags = []
        if call.isPresent(2) {
            switch DSSelectFlags.parse(call.string(2)) {
            case .success(let f): flags = f
            case .failure(let bad):
                let c = bad.character
                warnOnce("flag\(c)", "ds_select_dst: unknown flag '\(c)' (allowed: f, u, d, a)")
                return -1
            }
        }
        guard let part = partition(rt, call, 3, domain ? "ds_select_domain" : "ds_select_dst") else { return -1 }
        let maxRes = call.isPresent(4) ? max(0, Int(call.int(4))) : 1000
        guard let set = part.data.set(setID), !set.dests.isEmpty else { return -1 }
        let dests = set.dests
        let useDefault = flags.contains(.useDefault)
        let limit = useDefault ? dests.count - 1 : dests.count
        let view: (Int) -> DSCandidate = { DSCandidate(weight: dests[$0].weight.load(ordering: .relaxed), active: dests[$0].isActive) }
        var chosen: Int? = nil
        var sortedOrder: [Int]? = nil
        switch alg {
        case 0, 1, 2, 3, 5, 6, 7:
            guard let h = hashValue(alg, flags: flags, rt: rt, ctx: ctx, roundRobin: set) else {
                if alg == 5 { chosen = roundRobinPlain(set, limit: limit) } else { return -1 }
                break
            }
            chosen = DSPick.byHash(h, limit: limit, view)
        case 4:
            let last = set.last.load(ordering: .relaxed)
            let rr = last < dests.count ? dests[last].rrCount.load(ordering: .relaxed) : 0
            if let (i, reset) = DSPick.roundRobin(last: last, rrCount: rr, limit: limit, view) {
                if reset { dests[i].rrCount.store(0, ordering: .relaxed) }
                dests[i].rrCount.add(1, ordering: .relaxed)
                chosen = i
            }
        case 9:
            var scored: [(Int, Int64)] = []
            for i in 0..<max(0, limit) where dests[i].isActive {
                var v: Int64 = 0
                if let av = dests[i].algoVar, let val = host.varGet(ctx, av) {
                    v = val.intValue ?? val.stringValue.flatMap { Int64($0.trimmingSpaces()) } ?? 0
                }
                scored.append((i, v))
            }
            let order = scored.enumerated().sorted { a, b in a.element.1 != b.element.1 ? a.element.1 < b.element.1 : a.offset < b.offset }.map(\.element.0)
            sortedOrder = order
            chosen = order.first
        default:
            if alg == 10 {
                warnOnce("alg10", "ds_select_dst: algorithm 10 (algo_route) is not supported: the first active destination is used")
            } else if alg != 8 {
                warnOnce("alg\(alg)", "ds_select_dst: unknown algorithm \(alg): the first active destination is used")
            }
            chosen = (0..<max(0, limit)).first { dests[$0].isActive }
        }
        if chosen == nil, useDefault, dests[dests.count - 1].isActive { chosen = dests.count - 1 }
        guard let c = chosen else { return -1 }
        let d = dests[c]
        guard apply(d.dstURI, socket: d.socket, domain: domain, rt: rt, ctx: ctx) else { return -3 }
        set.last.store(c, ordering: .relaxed)
        d.chosen.add(1, ordering: .relaxed)

        // The failover list (f), else only the selected one's attrs.
        if !flags.contains(.append) {
            clear(ctx, part.dst); clear(ctx, part.grp); clear(ctx, part.cnt); clear(ctx, part.sock)
            if let a = part.attrs { clear(ctx, a) }
            if let a = part.scriptAttrs { clear(ctx, a) }
        }
        var pushed = 0
        if flags.contains(.failover) {
            let defaultIndex = useDefault ? dests.count - 1 : nil
            var order: [Int]
            if let sortedOrder {
                order = Array(sortedOrder.prefix(max(1, maxRes)))
                if let di = defaultIndex, di != c { order.append(di) }
                if order.isEmpty { order = [c] } // only the default was usable
            } else {
                order = DSPick.failoverOrder(chosen: c, limit: limit, maxRes: max(1, maxRes), defaultIndex: defaultIndex) { dests[$0].isActive }
            }
            for i in order.reversed() {
                let e = dests[i]
                push(ctx, part.dst, .string(i == c ? e.uri : e.dstURI))
                push(ctx, part.sock, .string(e.socket))
                if let a = part.attrs { push(ctx, a, .string(e.attrs ?? "")) }
                if let a = part.scriptAttrs { push(ctx, a, .string(e.scriptAttrs.withLock { $0 } ?? "")) }
                pushed += 1
            }
        } else {
            if let a = part.attrs { push(ctx, a, .string(d.attrs ?? "")) }
            if let a = part.scriptAttrs { push(ctx, a, .string(d.scriptAttrs.withLock { $0 } ?? "")) }
        }
        push(ctx, part.grp, .int(Int64(set.id)))
        push(ctx, part.cnt, .int(Int64(pushed)))
        return 1
    }

    /// Plain round-robin over the active entries (algorithm 5 without credentials).
    private func roundRobinPlain(_ set: DSSet, limit: Int) -> Int? {
        guard limit > 0 else { return nil }
        let start = (set.last.load(ordering: .relaxed) + 1) % limit
        for k in 0..<limit {
            let i = (start + k) % limit
            if set.dests[i].isActive { return i }
        }
        return nil
    }

    /// The hash of algorithms 0-3, 5-7; nil when its input is missing.
    private func hashValue(_ alg: Int, flags: DSSelectFlags, rt: Runtime, ctx: SYContext, roundRobin: DSSet) -> UInt32? {
        func str(_ v: SYVar?) -> String? {
            guard let v, case .string(let s)? = host.varGet(ctx, v), !s.isEmpty else { return nil }
            return s
        }
        switch alg {
        case 0:
            guard let ci = str(rt.ci) else { return nil }
            return DSHash.hash(ci.trimmingSpaces())
        case 1, 2, 3:
            guard let uri = str(alg == 1 ? rt.fu : alg == 2 ? rt.tu : rt.ru),
                  let keys = DSHash.uriKeys(uri, userOnly: flags.contains(.userOnly)) else { return nil }
            return DSHash.hash(keys.0, keys.1)
        case 5:
            for h in ["Proxy-Authorization", "Authorization"] {
                if let v = host.sipHeader(ctx, h), let user = Self.digestUsername(v) { return DSHash.hash(user) }
            }
            return nil
        case 6:
            return UInt32(truncatingIfNeeded: rt.rng.withLock { $0.next() } >> 32)
        case 7:
            guard let parts = rt.hashParts else {
                warnOnce("hashpvar", "ds_select_dst: algorithm 7 needs the hash_pvar parameter")
                return nil
            }
            var text = ""
            for p in parts {
                switch p {
                case .text(let t): text += t
                case .variable(let v): if let val = host.varGet(ctx, v), !val.isNull { text += val.description }
                }
            }
            let t = text.trimmingSpaces()
            return t.isEmpty ? nil : DSHash.hash(t)
        default:
            return nil
        }
    }

    /// username="..." of a Digest credentials header.
    static func digestUsername(_ v: String) -> String? {
        guard let r = v.lowercased().firstRange(of: "username") else { return nil }
        var rest = v[r.upperBound...].drop { $0 == " " || $0 == "\t" }
        guard rest.first == "=" else { return nil }
        rest = rest.dropFirst().drop { $0 == " " || $0 == "\t" }
        if rest.first == "\"" {
            rest = rest.dropFirst()
            guard let q = rest.firstIndex(of: "\"") else { return nil }
            return String(rest[..<q])
        }
        return String(rest.prefix { $0 != "," && $0 != " " })
    }

    /// Sets $du (or the host:port of $ru) and the send socket (a destination without one leaves a socket the script
    /// forced in place, as OpenSIPS; `clearSocket` clears it instead); false if the core refused.
    func apply(_ uri: String, socket: String, domain: Bool, rt: Runtime, ctx: SYContext, clearSocket: Bool = false) -> Bool {
        if domain {
            guard case .string(let ru)? = host.varGet(ctx, rt.ru), let dest = DestURI.parse(uri),
                  let newRU = Self.replaceHostPort(ru, with: dest.hostPort),
                  host.varSet(ctx, rt.ru, .string(newRU)) else { return false }
        } else {
            guard host.varSet(ctx, rt.du, .string(uri)) else { return false }
        }
        if let fs = rt.fs {
            if socket.isEmpty {
                if clearSocket { host.varSet(ctx, fs, .null) }
            } else if !host.varSet(ctx, fs, .string(socket)) {
                warnOnce("sock" + socket, "socket <\(socket)> is not a listening socket: requests leave by the socket the destination picks")
            }
        }
        return true
    }

    /// `ruri` with its host[:port] replaced by `hostPort` (user, params and headers kept).
    static func replaceHostPort(_ ruri: String, with hostPort: String) -> String? {
        var s = Substring(ruri)
        var scheme = ""
        if let c = s.firstIndex(of: ":") { scheme = String(s[...c]); s = s[s.index(after: c)...] } else { return nil }
        var user = ""
        if let at = s.lastIndex(of: "@") { user = String(s[...at]); s = s[s.index(after: at)...] }
        var tail = ""
        if let i = s.firstIndex(where: { $0 == ";" || $0 == "?" }) { tail = String(s[i...]) }
        return scheme + user + hostPort + tail
    }

    // MARK: - ds_next_dst / ds_next_domain

    func next(_ call: FunctionCall, domain: Bool) -> Int32 {
        guard let rt, let part = partition(rt, call, 0, domain ? "ds_next_domain" : "ds_next_dst") else { return -1 }
        let ctx = call.context
        guard !head(ctx, part.dst).isNull else { return -1 }
        pop(ctx, part.dst); pop(ctx, part.sock)
        if let a = part.attrs { pop(ctx, a) }
        if let a = part.scriptAttrs { pop(ctx, a) }
        guard case .string(let uri) = head(ctx, part.dst), !uri.isEmpty else { return -1 }
        let sock = head(ctx, part.sock).stringValue ?? ""
        // The previous entry's socket must not stick to the next destination.
        return apply(uri, socket: sock, domain: domain, rt: rt, ctx: ctx, clearSocket: true) ? 1 : -1
    }

    // MARK: - ds_mark_dst

    func mark(_ call: FunctionCall) -> Int32 {
        guard let rt, let part = partition(rt, call, 1, "ds_mark_dst") else { return -1 }
        let ctx = call.context
        let text = call.isPresent(0) ? call.string(0).trimmingSpaces() : "i"
        guard let state = DSState(text) else {
            host.log(.err, "ds_mark_dst: bad state '\(text)' (a, i or p)")
            return -1
        }
        guard let grp = head(ctx, part.grp).intValue ?? head(ctx, part.grp).stringValue.flatMap({ Int64($0) }),
              case .string(let uri) = head(ctx, part.dst) else {
            host.log(.err, "ds_mark_dst: no destination in use (ds_select_dst with the 'f' flag first)")
            return -1
        }
        guard let d = part.data.set(Int(grp))?.dests.first(where: { $0.uri.utf8.count == uri.utf8.count && $0.uri.lowercased() == uri.lowercased() }) else {
            return -1
        }
        changeState(d, part: part, to: state, reason: "script function ds_mark()", thresholded: true, clearInactive: true)
        return 1
    }

    // MARK: - ds_count

    func count(_ call: FunctionCall) -> Int32 {
        guard let rt, let part = partition(rt, call, 3, "ds_count"), let set = part.data.set(Int(call.int(0))) else { return -1 }
        var wantA = false, wantI = false, wantP = false
        for ch in call.string(1) {
            switch ch {
            case "a", "A", "1": wantA = true
            case "i", "I", "0": wantI = true
            case "p", "P", "2": wantP = true
            default: break
            }
        }
        let all = !wantA && !wantI && !wantP
        var n = 0
        for d in set.dests {
            let f = d.flags.load(ordering: .relaxed)
            if all { n += 1; continue }
            if f & DSFlag.inactive != 0 { if wantI { n += 1 } } else if f & DSFlag.probing != 0 { if wantP { n += 1 } } else if wantA { n += 1 }
        }
        call.set(2, .int(Int64(n)))
        return 1
    }

    // MARK: - ds_is_in_list

    func isInList(_ call: FunctionCall) -> Int32 {
        guard let rt, let part = partition(rt, call, 3, "ds_is_in_list") else { return -1 }
        guard let ip = DestURI.canonicalIP(call.string(0)) else { return -1 }
        let port = Int(call.int(1))
        let setFilter = call.isPresent(2) ? Int(call.int(2)) : -1
        let activeOnly = call.isPresent(4) && call.int(4) != 0
        let pattern = call.isPresent(5) ? call.string(5) : nil
        let ctx = call.context
        for set in part.data.sets where setFilter == -1 || set.id == setFilter {
            for d in set.dests {
                if activeOnly && !d.isActive { continue }
                guard d.addresses.contains(where: { $0.ip == ip && (port == 0 || $0.port == 0 || $0.port == port) }) else { continue }
                if let pattern {
                    guard let attrs = d.attrs, Glob.match(pattern, attrs) else { continue }
                }
                if setFilter == -1, let v = rt.setidPvar { host.varSet(ctx, v, .int(Int64(set.id))) }
                if let a = part.attrs { push(ctx, a, .string(d.attrs ?? "")) }
                if let a = part.scriptAttrs { push(ctx, a, .string(d.scriptAttrs.withLock { $0 } ?? "")) }
                return 1
            }
        }
        return -1
    }

    // MARK: - script attrs

    func pushScriptAttrs(_ call: FunctionCall) -> Int32 {
        guard let rt, let part = partition(rt, call, 4, "ds_push_script_attrs") else { return -1 }
        return setScriptAttrs(part, attrs: call.string(0), ip: call.string(1), port: Int(call.int(2)),
                              set: call.isPresent(3) ? Int(call.int(3)) : -1) ? 1 : -1
    }

    func setScriptAttrs(_ part: Partition, attrs: String, ip ipText: String, port: Int, set setFilter: Int) -> Bool {
        guard let ip = DestURI.canonicalIP(ipText) else { return false }
        var found = false
        for set in part.data.sets where setFilter == -1 || set.id == setFilter {
            for d in set.dests where d.addresses.contains(where: { $0.ip == ip && (port == 0 || $0.port == port) }) {
                d.scriptAttrs.withLock { $0 = attrs }
                found = true
            }
        }
        return found
    }

    func getScriptAttrs(_ call: FunctionCall) -> Int32 {
        guard let rt, let part = partition(rt, call, 2, "ds_get_script_attrs"), let set = part.data.set(Int(call.int(1))) else { return -1 }
        let uri = call.string(0).lowercased()
        guard let d = set.dests.first(where: { $0.uri.lowercased() == uri }), let a = d.scriptAttrs.withLock({ $0 }) else { return -1 }
        call.set(3, .string(a))
        return 1
    }
}

/// A state as the script and MI write it.
enum DSState {
    case active, inactive, probing
    init?(_ text: String) {
        guard text.count == 1, let c = text.first else { return nil }
        switch c {
        case "a", "A", "1": self = .active
        case "i", "I", "0": self = .inactive
        case "p", "P", "2": self = .probing
        default: return nil
        }
    }
}

/// Shell glob (fnmatch without flags but FNM_PERIOD's leading-dot rule): *, ?, [set].
enum Glob {
    static func match(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern), t = Array(text)
        if t.first == ".", p.first != "." { return false }
        func m(_ i: Int, _ j: Int) -> Bool {
            if i == p.count { return j == t.count }
            switch p[i] {
            case "*":
                var k = j
                while true { if m(i + 1, k) { return true }; if k == t.count { return false }; k += 1 }
            case "?": return j < t.count && m(i + 1, j + 1)
            case "[":
                guard j < t.count, let close = p[(i + 1)...].firstIndex(of: "]") else { return j < t.count && p[i] == t[j] && m(i + 1, j + 1) }
                var set = Array(p[(i + 1)..<close])
                let negate = set.first == "!" || set.first == "^"
                if negate { set.removeFirst() }
                var hit = false
                var k = 0
                while k < set.count {
                    if k + 2 < set.count, set[k + 1] == "-" { if set[k] <= t[j] && t[j] <= set[k + 2] { hit = true }; k += 3 } else { if set[k] == t[j] { hit = true }; k += 1 }
                }
                return hit != negate && m(close + 1, j + 1)
            default: return j < t.count && p[i] == t[j] && m(i + 1, j + 1)
            }
        }
        return m(0, 0)
    }
}
