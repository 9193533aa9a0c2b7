import Foundation

/// `$var(name)`: per-worker, persists across runs; `=` and `:=` are the same.
final class VarPV: PVAccessor, @unchecked Sendable {
    let slot: Int
    init(slot: Int) { self.slot = slot }
    override var writable: Bool { true }
    override func get(_ ctx: ScriptContext) -> Value {
        let w = ctx.worker
        return slot < w.vars.count ? w.vars[slot] : .null
    }
    override func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool {
        ctx.worker.ensureVar(slot)
        ctx.worker.vars[slot] = value
        return true
    }
}

/// `$avp(name)`: a per-message stack. `=` pushes, `:=` replaces all, `= NULL` pops, `:= NULL` clears.
final class AVPPV: PVAccessor, @unchecked Sendable {
    let slot: Int
    init(slot: Int) { self.slot = slot }
    override var writable: Bool { true }
    override var supportsIndex: Bool { true }

    override func get(_ ctx: ScriptContext) -> Value { ctx.avpStack(slot).last ?? .null }

    override func get(_ ctx: ScriptContext, index: Int) -> Value {
        let s = ctx.avpStack(slot)
        // Index 0 is the newest; negative indexes count from the oldest.
        let i = index >= 0 ? s.count - 1 - index : -index - 1
        return i >= 0 && i < s.count ? s[i] : .null
    }

    override func all(_ ctx: ScriptContext) -> [Value] { ctx.avpStack(slot).reversed() }

    override func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool {
        ctx.withAVP(slot) { s in
            switch (op, value) {
            case (.colon, .null): s.removeAll()
            case (.colon, _): s.removeAll(); s.append(value)
            case (_, .null): if !s.isEmpty { s.removeLast() }
            default: s.append(value)
            }
        }
        return true
    }

    /// Adds a value on top, NULL included (an AVP whose value is NULL, as OpenSIPS's AVP_VAL_NULL): a function's
    /// output that keeps each element's position, where the script's `= NULL` pops.
    func push(_ ctx: ScriptContext, _ value: Value) {
        ctx.withAVP(slot) { $0.append(value) }
    }

    override func set(_ ctx: ScriptContext, index: PVIndex, _ op: AssignOp, _ value: Value) -> Bool {
        ctx.withAVP(slot) { s in
            switch index {
            case .all:
                s.removeAll()
                if !value.isNull { s.append(value) }
                return true
            case .append:
                if !value.isNull { s.insert(value, at: 0) }
                return true
            case .int(let n):
                let i = n >= 0 ? s.count - 1 - n : -n - 1
                guard i >= 0, i < s.count else { return false }
                if value.isNull { s.remove(at: i) } else { s[i] = value }
                return true
            }
        }
    }
}

/// `$param(n)` / `$param(name)`: route arguments (1-based) or event parameters.
final class ParamPV: PVAccessor, @unchecked Sendable {
    enum Key { case index(Int), name(String), dynamic(ResolvedPV) }
    let key: Key
    init(key: Key) { self.key = key }

    override func get(_ ctx: ScriptContext) -> Value {
        switch key {
        case .index(let n): return byIndex(ctx, n)
        case .name(let s): return byName(ctx, s)
        case .dynamic(let pv):
            let v = pv.get(ctx)
            if let n = v.intForm { return byIndex(ctx, n) }
            if let s = v.stringForm { return Int(s).map { byIndex(ctx, $0) } ?? byName(ctx, s) }
            return .null
        }
    }

    func byIndex(_ ctx: ScriptContext, _ n: Int) -> Value {
        if let frame = ctx.frames.last {
            return n >= 1 && n <= frame.count ? frame[n - 1] : .null
        }
        return ctx.eventParam(at: n - 1)
    }

    func byName(_ ctx: ScriptContext, _ name: String) -> Value {
        ctx.eventParamIndex(name).map { ctx.eventParam(at: $0) } ?? .null
    }

    /// The tree the event parameter holds (ABI 1.9), when this is a fixed `$param(n)` / `$param(name)` of an event
    /// (not a route argument); nil otherwise.
    func tree(_ ctx: ScriptContext) -> ValueTree? {
        guard ctx.frames.isEmpty, !ctx.eventTrees.isEmpty else { return nil }
        switch key {
        case .index(let n): return ctx.eventTree(at: n - 1)
        case .name(let s): return ctx.eventParamIndex(s).flatMap { ctx.eventTree(at: $0) }
        case .dynamic: return nil
        }
    }
}

/// `$return(n)`: values of the last `return(code, v0, v1, ...)`, 0-based.
final class ReturnPV: PVAccessor, @unchecked Sendable {
    let index: Int
    init(index: Int) { self.index = index }
    override func get(_ ctx: ScriptContext) -> Value {
        index >= 0 && index < ctx.returnValues.count ? ctx.returnValues[index] : .null
    }
}

/// A read-only PV computed from the context by a closure ($rc, $Ts, $pid, ...).
final class ComputedPV: PVAccessor, @unchecked Sendable {
    let getter: @Sendable (ScriptContext) -> Value
    init(_ getter: @escaping @Sendable (ScriptContext) -> Value) { self.getter = getter }
    override func get(_ ctx: ScriptContext) -> Value { getter(ctx) }
}

/// Request-URI family: `$ru $rU $rd $rp` and `$du`, settable even on the dummy message of event routes.
final class URIPartPV: PVAccessor, @unchecked Sendable {
    enum Part { case whole, user, host, port, destination }
    let part: Part
    init(part: Part) { self.part = part }
    override var writable: Bool { true }

    override func get(_ ctx: ScriptContext) -> Value {
        if part == .destination { return ctx.message.destinationURI.map { .str($0) } ?? .null }
        guard let uri = ctx.message.requestURI else { return .null }
        switch part {
        case .whole: return .str(uri.text)
        case .user: return uri.user.isEmpty ? .null : .str(uri.user)
        case .host: return .str(uri.host)
        case .port:
            if uri.port.isEmpty { return .int(uri.defaultPort) }
            return Int(uri.port).map { .int($0) } ?? .str(uri.port)
        case .destination: return .null
        }
    }

    override func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool {
        switch part {
        case .destination:
            ctx.message.destinationURI = value.stringForm
            return true
        case .whole:
            guard case .str(let s) = value, let uri = SIPURI(s) else {
                ctx.engine.log.error("$ru: value must be a SIP URI string, got \(value.printed)")
                return false
            }
            ctx.message.requestURI = uri
            return true
        case .user, .host, .port:
            var uri = ctx.message.requestURI ?? SIPURI()
            let text = value.stringForm ?? ""
            switch part {
            case .user: uri.user = text
            case .host: uri.host = text
            default: uri.port = text
            }
            ctx.message.requestURI = uri
            return true
        }
    }
}

/// `$dd $dp $dP`: parts of the destination URI (`$du`); null without one. A missing port reads as the scheme's
/// default, a missing transport as "udp" ("tls" for sips:), as OpenSIPS's pv_get_dsturi_attr. `$dd`/`$dp` write
/// the part back into `$du`. @unchecked Sendable: its only state is the `let` part, and the message it reads and
/// writes belongs to the calling context (one thread), as for the other accessors here.
final class DestURIPartPV: PVAccessor, @unchecked Sendable {
    enum Part { case host, port, proto }
    let part: Part
    init(part: Part) { self.part = part }
    override var writable: Bool { part != .proto }

    override func get(_ ctx: ScriptContext) -> Value {
        guard let text = ctx.message.destinationURI, let uri = SIPURI(text) else { return .null }
        switch part {
        case .host: return uri.host.isEmpty ? .null : .str(uri.host)
        case .port: return uri.port.isEmpty ? .int(uri.defaultPort) : Int(uri.port).map { .int($0) } ?? .str(uri.port)
        case .proto:
            if let t = uri.param("transport") { return .str(t) }
            return .str(uri.scheme.lowercased() == "sips" ? "tls" : "udp")
        }
    }

    override func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool {
        guard let text = ctx.message.destinationURI, var uri = SIPURI(text) else {
            ctx.engine.log.error("$\(part == .host ? "dd" : "dp"): there is no destination URI to change")
            return false
        }
        let v = value.stringForm ?? ""
        if part == .host { uri.host = v } else { uri.port = v }
        ctx.message.destinationURI = uri.text
        return true
    }
}

/// `$log_level` / `$xlog_level`: read or change a log threshold at run time.
final class LogLevelPV: PVAccessor, @unchecked Sendable {
    let xlog: Bool
    init(xlog: Bool) { self.xlog = xlog }
    override var writable: Bool { true }
    override func get(_ ctx: ScriptContext) -> Value { .int(xlog ? ctx.engine.log.xlogLevel : ctx.engine.log.level) }
    override func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool {
        guard let l = value.intForm else { return false }
        if xlog { ctx.engine.log.xlogLevel = l } else { ctx.engine.log.level = l }
        return true
    }
}

enum CorePVs {
    static func classes() -> [PVClass] {
        var list: [PVClass] = []
        func named(_ name: String, needsInner: Bool = false, _ make: @escaping @Sendable (String?, ScriptEngine) throws(PVResolveError) -> PVAccessor) {
            list.append(PVClass(name: name, needsInner: needsInner, make: make))
        }
        func simple(_ names: [String], _ getter: @escaping @Sendable (ScriptContext) -> Value) {
            for n in names { named(n) { _, _ in ComputedPV(getter) } }
        }
        named("var", needsInner: true) { inner, engine in VarPV(slot: engine.varSlots.slot(inner!)) }
        named("avp", needsInner: true) { inner, engine in AVPPV(slot: engine.avpSlots.slot(inner!)) }
        named("param", needsInner: true) { inner, engine throws(PVResolveError) in
            let t = inner!.trimmingCharacters(in: .whitespaces)
            if let n = Int(t) { return ParamPV(key: .index(n)) }
            if t.hasPrefix("$") { return ParamPV(key: .dynamic(try engine.resolvePV(t))) }
            return ParamPV(key: .name(t))
        }
        named("return", needsInner: true) { inner, _ throws(PVResolveError) in
            guard let n = Int(inner!.trimmingCharacters(in: .whitespaces)) else { throw PVResolveError("$return needs a numeric index") }
            return ReturnPV(index: n)
        }
        simple(["rc", "retcode"]) { .int($0.rc) }
        simple(["Ts"]) { _ in .int(Int(Date().timeIntervalSince1970)) }
        simple(["Tsm"]) { _ in
            var tv = timeval()
            gettimeofday(&tv, nil)
            return .int(Int(tv.tv_usec))
        }
        simple(["TS"]) { .int(Int($0.engine.startTime.timeIntervalSince1970)) }
        simple(["Tf"]) { _ in .str(ctimeString(Date())) }
        simple(["pid", "pp"]) { _ in .int(Int(getpid())) }
        // The config line / file of the statement being run (OpenSIPS stamps an action with the line its statement
        // ends on).
        simple(["cfg_line"]) { ctx in
            guard let loc = ctx.currentStatement?.location else { return .int(0) }
            return .int(loc.traceLine ?? loc.line)
        }
        simple(["cfg_file"]) { ctx in ctx.currentStatement.map { .str($0.location.file.path) } ?? .null }
        // A fresh random number 0...RAND_MAX on every read.
        simple(["RANDOM"]) { _ in .int(Int.random(in: 0...Int(Int32.max))) }
        // The request-URI's scheme.
        simple(["rz"]) { ctx in ctx.message.requestURI.map { .str($0.scheme) } ?? .null }
        simple(["route.type"]) { .str($0.routeType.keyword.uppercased()) }
        named("time", needsInner: true) { inner, _ in
            let fmt = inner!
            return ComputedPV { _ in .str(strftimeNow(fmt)) }
        }
        for (names, part) in [(["ru", "ruri"], URIPartPV.Part.whole), (["rU"], .user), (["rd"], .host), (["rp"], .port), (["du", "duri"], .destination)] {
            for n in names { named(n) { _, _ in URIPartPV(part: part) } }
        }
        for (name, part) in [("dd", DestURIPartPV.Part.host), ("dp", .port), ("dP", .proto)] {
            named(name) { _, _ in DestURIPartPV(part: part) }
        }
        // Unset: 0 and empty text (OpenSIPS's cleared err_info_t).
        simple(["err.class"]) { .int($0.errorInfo.errorClass) }
        simple(["err.level"]) { .int($0.errorInfo.level) }
        simple(["err.info"]) { .str($0.errorInfo.info) }
        simple(["err.rcode"]) { .int($0.errorInfo.replyCode) }
        simple(["err.rreason"]) { .str($0.errorInfo.replyReason) }
        named("log_level") { _, _ in LogLevelPV(xlog: false) }
        named("xlog_level") { _, _ in LogLevelPV(xlog: true) }
        return list
    }
}

func strftimeNow(_ fmt: String) -> String {
    var t = time(nil)
    var tmv = tm()
    localtime_r(&t, &tmv)
    var buf = [CChar](repeating: 0, count: 256)
    let n = strftime(&buf, buf.count, fmt, &tmv)
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// C `ctime()` text without the trailing newline, as OpenSIPS prints times.
public func ctimeString(_ date: Date) -> String {
    var t = time_t(date.timeIntervalSince1970)
    var buf = [CChar](repeating: 0, count: 32)
    ctime_r(&t, &buf)
    let s = ABIReader.text(buf)
    return s.hasSuffix("\n") ? String(s.dropLast()) : s
}
