// do_routing's hot path: no Swift strings, no heap allocation per call. The R-URI is read once through the raw host
// table, copied into a stack buffer and parsed in place; the trie walk, the candidate list and every rewritten R-URI
// use temporary (stack) buffers; gateway/rule texts go to the host as `sy_str` straight from the snapshot's arena.
import SwitchyardABI
import SwitchyardPluginKit

/// do_routing flags (unknown letters ignored).
struct DRFlags: OptionSet {
    let rawValue: UInt8
    static let strict = DRFlags(rawValue: 1)   // L
    static let check = DRFlags(rawValue: 2)    // C
    static let weight = DRFlags(rawValue: 4)   // W
    static let fallback = DRFlags(rawValue: 8) // F

    init(rawValue: UInt8) { self.rawValue = rawValue }
    init(_ b: UnsafeRawBufferPointer) {
        var f: UInt8 = 0
        for c in b {
            switch c {
            case UInt8(ascii: "L"): f |= 1
            case UInt8(ascii: "C"): f |= 2
            case UInt8(ascii: "W"): f |= 4
            case UInt8(ascii: "F"): f |= 8
            default: break
            }
        }
        rawValue = f
    }
}

/// A SIP/SIPS/TEL URI parsed in place (ranges into `bytes`), with the same rules as URIParts.
struct RawURI {
    let bytes: UnsafeRawBufferPointer
    var user = 0..<0
    var password: Range<Int>? = nil
    var params = 0..<0
    var headers = 0..<0

    init?(_ b: UnsafeRawBufferPointer) {
        bytes = b
        guard let colon = b.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        @inline(__always) func lower(_ c: UInt8) -> UInt8 { c | 0x20 }
        let isTel: Bool
        switch colon {
        case 3 where lower(b[0]) == UInt8(ascii: "s") && lower(b[1]) == UInt8(ascii: "i") && lower(b[2]) == UInt8(ascii: "p"):
            isTel = false
        case 4 where lower(b[0]) == UInt8(ascii: "s") && lower(b[1]) == UInt8(ascii: "i") && lower(b[2]) == UInt8(ascii: "p")
            && lower(b[3]) == UInt8(ascii: "s"):
            isTel = false
        case 3 where lower(b[0]) == UInt8(ascii: "t") && lower(b[1]) == UInt8(ascii: "e") && lower(b[2]) == UInt8(ascii: "l"):
            isTel = true
        default: return nil
        }
        var end = b.count
        let restStart = colon + 1
        if let q = b[restStart...].firstIndex(of: UInt8(ascii: "?")) {
            headers = (q + 1)..<b.count
            end = q
        }
        if isTel {
            if let semi = b[restStart..<end].firstIndex(of: UInt8(ascii: ";")) {
                params = (semi + 1)..<end
                end = semi
            }
            user = restStart..<end
            return
        }
        var hostStart = restStart
        if let at = b[restStart..<end].lastIndex(of: UInt8(ascii: "@")) {
            hostStart = at + 1
            if let c = b[restStart..<at].firstIndex(of: UInt8(ascii: ":")) {
                user = restStart..<c
                password = (c + 1)..<at
            } else {
                user = restStart..<at
            }
        }
        if let semi = b[hostStart..<end].firstIndex(of: UInt8(ascii: ";")) {
            params = (semi + 1)..<end
        }
    }

    var userBytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[user]) }

    /// Upper bound of a rewritten URI's length, before the gateway's own texts.
    var rewriteBase: Int { bytes.count + 8 }

    /// OpenSIPS build_ruri() into `out` (capacity rewriteBase + pri + ip): "sip:" + pri_prefix + user[strip:] +
    /// [":" password] + ["@"] + gw hostport(+params) + [";" params] + ["?" headers]. Returns the length.
    func rewrite(into out: UnsafeMutableRawPointer, gw: GatewayHot, arena: UnsafeRawBufferPointer) -> Int {
        var n = 0
        @inline(__always) func put(_ b: UnsafeRawBufferPointer) {
            if let base = b.baseAddress, b.count > 0 { (out + n).copyMemory(from: base, byteCount: b.count); n += b.count }
        }
        @inline(__always) func put(_ c: UInt8) { out.storeBytes(of: c, toByteOffset: n, as: UInt8.self); n += 1 }
        put(UInt8(ascii: "s")); put(UInt8(ascii: "i")); put(UInt8(ascii: "p")); put(UInt8(ascii: ":"))
        let pri = UnsafeRawBufferPointer(rebasing: arena[Int(gw.hPri.start)..<Int(gw.hPri.start + gw.hPri.len)])
        put(pri)
        let u = user.lowerBound + min(gw.strip, user.count)
        put(UnsafeRawBufferPointer(rebasing: bytes[u..<user.upperBound]))
        if let pw = password { put(UInt8(ascii: ":")); put(UnsafeRawBufferPointer(rebasing: bytes[pw])) }
        if pri.count + (user.upperBound - u) > 0 || password != nil { put(UInt8(ascii: "@")) }
        put(UnsafeRawBufferPointer(rebasing: arena[Int(gw.hIP.start)..<Int(gw.hIP.start + gw.hIP.len)]))
        if !params.isEmpty { put(UInt8(ascii: ";")); put(UnsafeRawBufferPointer(rebasing: bytes[params])) }
        if !headers.isEmpty { put(UInt8(ascii: "?")); put(UnsafeRawBufferPointer(rebasing: bytes[headers])) }
        return n
    }
}

/// Raw host calls (no SYValue/String conversion).
struct RawHost: @unchecked Sendable {
    let raw: UnsafePointer<sy_host_api>
    let host: PluginHost
    let hasRouteRun: Bool

    init(_ host: PluginHost) {
        raw = host.raw
        self.host = host
        hasRouteRun = host.provides(\.route_run) && host.provides(\.route_find)
    }

    @inline(__always) @discardableResult
    func setBytes(_ ctx: SYContext, _ v: SYVar, _ p: UnsafeRawPointer?, _ n: Int) -> Bool {
        var val = sy_value()
        val.type = Int32(SY_VAL_STR.rawValue)
        val.s = sy_str(s: p?.assumingMemoryBound(to: CChar.self), len: n)
        return raw.pointee.var_set!(ctx.raw, v.raw, &val) >= 0
    }

    @inline(__always) @discardableResult
    func setBytes(_ ctx: SYContext, _ v: SYVar, _ b: UnsafeRawBufferPointer) -> Bool {
        setBytes(ctx, v, b.baseAddress, b.count)
    }

    @inline(__always) @discardableResult
    func setInt(_ ctx: SYContext, _ v: SYVar, _ i: Int64) -> Bool {
        var val = sy_value()
        val.type = Int32(SY_VAL_INT.rawValue)
        val.i = i
        return raw.pointee.var_set!(ctx.raw, v.raw, &val) >= 0
    }

    @inline(__always)
    func setNull(_ ctx: SYContext, _ v: SYVar) {
        var val = sy_value()
        _ = raw.pointee.var_set!(ctx.raw, v.raw, &val)
    }

    @inline(__always)
    func clear(_ ctx: SYContext, _ q: QueueVar) { setNull(ctx, q.all ?? q.one) }

    /// Replaces a whole AVP stack by one value: one host call through `$(avp(x)[*])` when it resolved.
    @inline(__always)
    func replace(_ ctx: SYContext, _ q: QueueVar, _ b: UnsafeRawBufferPointer) {
        if let all = q.all { setBytes(ctx, all, b) } else { setNull(ctx, q.one); setBytes(ctx, q.one, b) }
    }

    @inline(__always)
    func replace(_ ctx: SYContext, _ q: QueueVar, _ i: Int64) {
        if let all = q.all { setInt(ctx, all, i) } else { setNull(ctx, q.one); setInt(ctx, q.one, i) }
    }

    /// A route[name] (at load and reload: an MI thread), through this plugin's own core on a 1.9 core.
    func findRoute(_ name: String) -> OpaquePointer? {
        guard hasRouteRun else { return nil }
        return host.routeFind(.request, name)
    }

    func runRoute(_ ctx: SYContext, _ route: OpaquePointer) -> Int32 {
        raw.pointee.route_run!(ctx.raw, route)
    }
}

extension Snapshot {
    @inline(__always)
    func bytes(_ arena: UnsafeRawBufferPointer, _ r: StrRef) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: arena[Int(r.start)..<Int(r.start + r.len)])
    }
}

extension DroutingModule {
    func doRouting(_ call: FunctionCall) -> Int32 {
        let rank = call.worker.map { Int($0) } ?? -1
        if let rc = readSide.read(rank: rank, { p -> Int32 in
            guard let p else { return -1 }
            return doRouting(call, rt: p.rt, snap: p.snap)
        }) { return rc }
        let (rtOpt, snap) = current
        guard let rt = rtOpt else { return -1 }
        return doRouting(call, rt: rt, snap: snap)
    }

    private func doRouting(_ call: FunctionCall, rt: Runtime, snap: Snapshot) -> Int32 {
        let ctx = call.context
        var group: Int64
        if call.isPresent(0) {
            switch call.value(0) {
            case .int(let i): group = i
            case .string(let s):
                guard let i = Int64(s.trimmingCharacters(in: .whitespaces)) else {
                    host.log(.err, "do_routing: group '\(s)' is not an integer"); return -1
                }
                group = i
            case .null:
                host.log(.err, "do_routing: the group is NULL"); return -1
            }
        } else if let g = groupFromDB(rt, ctx) ?? rt.cfg.defaultGroup {
            group = g
        } else {
            host.log(.err, "do_routing: no group given, the caller is not in \(rt.cfg.drgTable) and no default_group is set")
            return -1
        }
        guard let g32 = UInt32(exactly: group) else { return -1 }
        let flags = call.withBytes(1) { DRFlags($0) }
        // The R-URI, read once; the host's bytes live only until its next call on ctx, so copy them to the stack.
        var got = sy_value()
        guard rt.raw.raw.pointee.var_get!(ctx.raw, rt.ru.raw, &got) >= 0, got.type == Int32(SY_VAL_STR.rawValue) else {
            host.log(.err, "do_routing: no usable R-URI")
            return -1
        }
        let src = got.s.bytes
        return withUnsafeTemporaryAllocation(byteCount: max(src.count, 1), alignment: 1) { buf -> Int32 in
            if let b = src.baseAddress, src.count > 0 { buf.baseAddress!.copyMemory(from: b, byteCount: src.count) }
            guard let uri = RawURI(UnsafeRawBufferPointer(start: buf.baseAddress, count: src.count)) else {
                host.log(.err, "do_routing: no usable R-URI")
                return -1
            }
            return route(call, rt: rt, snap: snap, group: g32, flags: flags, uri: uri)
        }
    }

    private func route(_ call: FunctionCall, rt: Runtime, snap: Snapshot, group: UInt32, flags: DRFlags, uri: RawURI) -> Int32 {
        let ctx = call.context
        let h = rt.raw
        let now = rt.now()
        let strict = flags.contains(.strict)
        guard var match = snap.lookup(uri.userBytes, group: group, now: now, strict: strict) else { return -1 }
        // The rule's route: runs on a match, with C too; a drop in it fails do_routing.
        @inline(__always) func runRuleRoute(_ r: Int32) -> Bool {
            let ri = Int(snap.rules.row(Int(r)).route)
            guard ri >= 0, let handle = snap.rules.routeHandles[ri].raw else { return true }
            return h.runRoute(ctx, handle) != 0
        }
        guard runRuleRoute(match.rule) else { return -1 }
        if flags.contains(.check) {
            let row = snap.rules.row(Int(match.rule))
            let pfx = match.level < 0 ? UnsafeRawBufferPointer(start: nil, count: 0)
                : UnsafeRawBufferPointer(rebasing: uri.userBytes[0..<match.level])
            if let q = rt.rulePrefix { h.replace(ctx, q, pfx) }
            if let q = rt.ruleID { h.replace(ctx, q, row.id) }
            if call.isPresent(3), let v = call.variable(3) {
                _ = snap.arena.withUnsafeBytes { h.setBytes(ctx, v, snap.bytes($0, snap.strs[Int(row.attrs)])) }
            }
            return 1
        }
        // The AVPs are cleared as OpenSIPS does before it routes; a success replaces each of them whole instead (one
        // host call per AVP rather than a clear and a set), so the clear is only paid on the way to a failure.
        var cleared = false
        @inline(__always) func fail() -> Int32 {
            if !cleared { clearAll(rt, ctx); cleared = true }
            return -1
        }
        let wl: Whitelist? = call.withBytes(2) { trim($0).isEmpty } ? nil : whitelist(call.string(2), rt)
        return snap.arena.withUnsafeBytes { arena -> Int32 in
            while true {
                let row = snap.rules.row(Int(match.rule))
                let list = snap.rules.lists[Int(row.list)]
                let weighted = flags.contains(.weight) || row.weightSort
                let rc = withUnsafeTemporaryAllocation(of: Candidate.self, capacity: max(list.maxCandidates, 1)) { cands -> Int32? in
                    let n = Routing.expand(list.items, weighted: weighted, whitelist: wl, snap: snap, rng: rt.rng, into: cands)
                    if n == 0 { return nil }
                    guard publish(UnsafeBufferPointer(rebasing: cands[0..<n]), uri: uri, snap: snap, arena: arena, rt: rt,
                                  ctx: ctx) else { return fail() }
                    // Rule outputs.
                    let pfx = match.level < 0 ? UnsafeRawBufferPointer(start: nil, count: 0)
                        : UnsafeRawBufferPointer(rebasing: uri.userBytes[0..<match.level])
                    if let q = rt.rulePrefix { h.replace(ctx, q, pfx) }
                    if let q = rt.ruleID { h.replace(ctx, q, row.id) }
                    let attrs = snap.bytes(arena, snap.strs[Int(row.attrs)])
                    h.replace(ctx, rt.ruleAttrs, attrs)
                    if let v = call.variable(3) { h.setBytes(ctx, v, attrs) }
                    if let v = call.variable(4) { h.setBytes(ctx, v, snap.bytes(arena, snap.gwHot[Int(cands[0].gw)].hAttrs)) }
                    if let v = call.variable(5) {
                        let c = cands[0].carrier
                        h.setBytes(ctx, v, c >= 0 ? snap.bytes(arena, snap.carriers[Int(c)].hAttrs) : UnsafeRawBufferPointer(start: nil, count: 0))
                    }
                    return 1
                }
                if let rc {
                    guard rc == 1 else { return fail() }
                    if flags.contains(.fallback) {
                        let st = FallbackState(group: group, flags: flagText(flags), level: match.level, pos: match.pos,
                                               whitelist: call.string(2), origRURI: String(decoding: uri.bytes, as: UTF8.self))
                        if rt.fallback.all == nil { h.clear(ctx, rt.fallback) }
                        host.varSet(ctx, rt.fallback.all ?? rt.fallback.one, .string(st.text))
                    } else if !cleared {
                        h.clear(ctx, rt.fallback)
                    }
                    return rc
                }
                // No usable gateway in this rule: the next rule's route sees the AVPs cleared, as in OpenSIPS.
                if !cleared { clearAll(rt, ctx); cleared = true }
                guard flags.contains(.fallback),
                      let next = snap.lookup(uri.userBytes, group: group, now: now, strict: strict, after: match) else { return -1 }
                match = next
                guard runRuleRoute(match.rule) else { return -1 }
            }
        }
    }

    private func flagText(_ f: DRFlags) -> String {
        (f.contains(.strict) ? "L" : "") + (f.contains(.check) ? "C" : "") + (f.contains(.weight) ? "W" : "")
            + (f.contains(.fallback) ? "F" : "")
    }

    /// Sets the current destination and queues the rest, as `publish(_:uri:snap:rt:ctx:)`, without building strings.
    private func publish(_ cands: UnsafeBufferPointer<Candidate>, uri: RawURI, snap: Snapshot, arena: UnsafeRawBufferPointer,
                         rt: Runtime, ctx: SYContext) -> Bool {
        let h = rt.raw
        let n = cands.count
        return withUnsafeTemporaryAllocation(byteCount: uri.rewriteBase + snap.maxGatewayText, alignment: 1) { out in
            let o = out.baseAddress!
            let gws = snap.gwHot
            let len0 = uri.rewrite(into: o, gw: gws[Int(cands[0].gw)], arena: arena)
            guard h.setBytes(ctx, rt.ru, o, len0) else {
                host.log(.err, "cannot set the R-URI to \(String(decoding: UnsafeRawBufferPointer(start: o, count: len0), as: UTF8.self))")
                return false
            }
            if gws[Int(cands[0].gw)].hSock.len > 0 {
                let gw = snap.gateways[Int(cands[0].gw)]
                forceSocket(gw.socket, gwID: gw.id, state: gw.state, rt: rt, ctx: ctx)
            }
            // Pushed last candidate first, so index 0 is the first; the first push replaces the whole stack.
            let none = UnsafeRawBufferPointer(start: arena.baseAddress, count: 0)
            // The internal carrier queue (carrier_id_avp unset) only serves use_next_gw's carrier attributes: with no
            // carrier among the candidates, an empty queue says the same as n empty ids, in one host call.
            var pushCarriers = rt.cfg.carrierIdAVP != nil
            if !pushCarriers { for k in 0..<n where cands[k].carrier >= 0 { pushCarriers = true; break } }
            if !pushCarriers { h.clear(ctx, rt.carrierID) }
            var i = n - 1
            while i >= 0 {
                let gw = gws[Int(cands[i].gw)]
                let c = cands[i].carrier
                let cid = c >= 0 ? snap.bytes(arena, snap.carriers[Int(c)].hID) : none
                let pri = gw.hPri.len > 0 ? snap.bytes(arena, gw.hPri) : none
                if i == n - 1 {
                    h.replace(ctx, rt.gwID, snap.bytes(arena, gw.hID))
                    if pushCarriers { h.replace(ctx, rt.carrierID, cid) }
                    if let q = rt.priprefix { h.replace(ctx, q, pri) }
                } else {
                    h.setBytes(ctx, rt.gwID.one, snap.bytes(arena, gw.hID))
                    if pushCarriers { h.setBytes(ctx, rt.carrierID.one, cid) }
                    if let q = rt.priprefix { h.setBytes(ctx, q.one, pri) }
                }
                i -= 1
            }
            if n == 1 { h.clear(ctx, rt.ruri); h.clear(ctx, rt.gwSock) }
            i = n - 1
            while i >= 1 {
                let gw = gws[Int(cands[i].gw)]
                let len = uri.rewrite(into: o, gw: gw, arena: arena)
                let raw = UnsafeRawBufferPointer(start: o, count: len)
                if i == n - 1 {
                    h.replace(ctx, rt.ruri, raw)
                    h.replace(ctx, rt.gwSock, snap.bytes(arena, gw.hSock))
                } else {
                    h.setBytes(ctx, rt.ruri.one, raw)
                    h.setBytes(ctx, rt.gwSock.one, snap.bytes(arena, gw.hSock))
                }
                i -= 1
            }
            return true
        }
    }
}

extension Routing {
    /// `candidates(...)` into a caller buffer (capacity: the list's maxCandidates); returns the count.
    static func expand(_ items: [ListItem], weighted: Bool, whitelist: Whitelist?, snap: Snapshot, rng: RandomSource,
                       into out: UnsafeMutableBufferPointer<Candidate>) -> Int {
        var n = 0
        func add(_ item: ListItem) {
            if item.isCarrier {
                let cr = snap.carriers[Int(item.index)]
                if cr.state.isDisabled { return }
                if let wl = whitelist, !wl.carriers.contains(cr.id) { return }
                if cr.weightSort {
                    for c in carrierGateways(Int(item.index), snap: snap, rng: rng) { out[n] = c; n += 1 }
                    return
                }
                for g in cr.gws {
                    if snap.gwHot[Int(g.index)].isDisabled { continue }
                    out[n] = Candidate(gw: g.index, carrier: item.index); n += 1
                    if cr.firstOnly { break }
                }
            } else {
                if snap.gwHot[Int(item.index)].isDisabled { return }
                if let wl = whitelist, !wl.gws.contains(snap.gateways[Int(item.index)].id) { return }
                out[n] = Candidate(gw: item.index, carrier: -1); n += 1
            }
        }
        if weighted {
            for item in weightedOrder(items, rng: rng) { add(item) }
        } else {
            for item in items { add(item) }
        }
        return n
    }
}
