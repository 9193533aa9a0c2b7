import SwitchyardABI
import Synchronization

/// Startup "fixup": turns the AST's routes into executable nodes. Every function name, arity,
/// argument type, pseudo-variable, route name and flag is checked here, once; every error is
/// collected with its location.
public struct Resolver {
    let engine: ScriptEngine
    let diagnostics: DiagnosticBag
    /// Kind of the enclosing top-level route (named routes are checked as request routes).
    var kind: RouteKind = .request
    /// Opaque sy_var handles made for plugin output parameters; kept alive with the engine.
    var varHandles: VarHandleStore

    public init(engine: ScriptEngine, diagnostics: DiagnosticBag, varHandles: VarHandleStore) {
        self.engine = engine
        self.diagnostics = diagnostics
        self.varHandles = varHandles
    }

    func error(_ loc: SourceLocation, _ msg: String) { diagnostics.error(loc, msg) }

    /// Routes declared but not yet resolved.
    var pending: [(RouteDecl, RouteBox)] = []
    /// The set `declare` fills; the caller installs it in the engine (startup) or swaps it in (reload_routes).
    public let routes = RouteSet()

    /// Declares every route first (so calls can go forward), then resolves the bodies.
    /// The set is installed in the engine before the bodies are resolved (as at startup).
    public mutating func resolve(routes decls: [RouteDecl]) {
        declare(routes: decls)
        engine.routeTable.install(routes)
        resolveBodies()
    }

    /// Makes every route known by name (modules may look routes up in their init).
    public mutating func declare(routes decls: [RouteDecl]) {
        var boxes: [(RouteDecl, RouteBox)] = []
        for r in decls {
            let box = RouteBox(kind: r.kind, name: r.name, location: r.location)
            let first = firstDefinition(of: r, among: boxes.map(\.1))
            func dup(_ what: String) {
                let whereFirst = first.map { f in
                    f.location.file == r.location.file ? " (first at line \(f.location.line))" : " (first at \(f.location))"
                }
                error(r.location, "\(what) is defined more than once" + (whereFirst ?? ""))
            }
            switch r.kind {
            case .request:
                if let n = r.name {
                    if routes.named[n] != nil { dup("route[\(n)]") } else { routes.named[n] = box }
                } else {
                    if routes.main != nil { dup("the main route") } else { routes.main = box }
                }
            case .startup:
                if routes.startup != nil { dup("startup_route") } else { routes.startup = box }
            case .error:
                if routes.error != nil { dup("error_route") } else { routes.error = box }
            case .local:
                if routes.local != nil { dup("local_route") } else { routes.local = box }
            case .onreply:
                let n = r.name ?? ""
                if routes.onreply[n] != nil { dup("onreply_route[\(n)]") } else { routes.onreply[n] = box }
            case .failure:
                let n = r.name ?? ""
                if routes.failure[n] != nil { dup("failure_route[\(n)]") } else { routes.failure[n] = box }
            case .branch:
                let n = r.name ?? ""
                if routes.branch[n] != nil { dup("branch_route[\(n)]") } else { routes.branch[n] = box }
            case .event:
                let n = r.name ?? ""
                if routes.events[n] != nil { dup("event_route[\(n)]") } else { routes.events[n] = box }
            case .timer:
                if routes.timers.contains(where: { $0.route.name == r.name }) { dup("timer_route[\(r.name ?? "")]") }
                else { routes.timers.append((box, r.timerInterval ?? 1)) }
            }
            boxes.append((r, box))
        }
        pending = boxes
    }

    /// Resolves the bodies of the declared routes: every call, variable and argument.
    public mutating func resolveBodies() {
        for (decl, box) in pending {
            kind = decl.kind
            box.body = BlockNode(decl.body.compactMap { stmt($0) }, decl.location)
        }
    }

    /// The earlier route with the same kind and name, for "defined more than once" messages.
    func firstDefinition(of r: RouteDecl, among boxes: [RouteBox]) -> RouteBox? {
        boxes.first { $0.kind == r.kind && $0.name == r.name }
    }

    // MARK: statements

    mutating func block(_ s: Stmt, _ loc: SourceLocation) -> BlockNode {
        if case .block(let list, let l) = s { return BlockNode(list.compactMap { stmt($0) }, l) }
        return BlockNode([stmt(s)].compactMap { $0 }, loc)
    }

    mutating func stmt(_ s: Stmt) -> StmtNode? {
        switch s {
        case .empty:
            return nil
        case .call(let c):
            return call(c).map { CallStmtNode($0) }
        case .assign(let a):
            return assign(a)
        case .block(let list, let loc):
            return BlockNode(list.compactMap { stmt($0) }, loc)
        case .ifElse(let cond, let thenS, let elseS, let loc):
            guard let c = expr(cond) else { return nil }
            let t = block(thenS, loc)
            // A block even when unbraced (`else if`, `else xlog(...)`): its statement is traced as any other.
            let e = elseS.map { block($0, loc) }
            return IfNode(cond: c, thenS: t, elseS: e, loc)
        case .switchStmt(let subject, let subjLoc, let cases, let loc):
            guard let pv = pv(subject, subjLoc) else { return nil }
            var labels: [SwitchNode.Label] = []
            var bodies: [BlockNode] = []
            for c in cases {
                switch c.label {
                case .int(let n): labels.append(.int(n))
                case .string(let s): labels.append(.string(s))
                case .defaultLabel: labels.append(.defaultLabel)
                }
                bodies.append(BlockNode(c.body.compactMap { stmt($0) }, c.location))
            }
            return SwitchNode(subject: pv, labels: labels, bodies: bodies, loc)
        case .whileLoop(let cond, let body, let loc):
            guard let c = expr(cond) else { return nil }
            return WhileNode(cond: c, body: block(body, loc), loc)
        case .forEach(let it, let itLoc, let coll, let collLoc, let body, let loc):
            guard let i = pv(it, itLoc), let c = pv(coll, collLoc) else { return nil }
            if !i.writable { error(itLoc, "for: the iterator \(it) cannot be assigned") }
            if !c.isAllIndex { error(collLoc, "for: the collection must use the [*] index, e.g. $(avp(x)[*])") }
            return ForEachNode(iterator: i, collection: c, body: block(body, loc), loc)
        case .assertStmt(let cond, let desc, let loc):
            guard let c = expr(cond) else { return nil }
            return AssertNode(cond: c, description: desc, loc)
        case .returnStmt(let values, let loc):
            var code: ExprNode? = nil
            var rest: [ExprNode] = []
            for (i, v) in values.enumerated() {
                if i == 0 { code = v.flatMap { expr($0) } }
                else if let v, let e = expr(v) { rest.append(e) }
                else { rest.append(LiteralNode(.null, loc)) }
            }
            return ReturnNode(code: code, values: rest, loc)
        case .exit(let loc):
            return ExitNode(drop: false, loc)
        case .drop(let loc):
            return ExitNode(drop: true, loc)
        case .breakStmt(let loc):
            return BreakNode(loc)
        }
    }

    mutating func assign(_ a: AssignStmt) -> AssignNode? {
        guard let target = pv(a.target, a.targetLocation) else { _ = expr(a.value); return nil }
        guard target.writable else {
            error(a.targetLocation, "\(a.target) cannot be assigned (read-only or transformed)")
            return nil
        }
        guard let v = expr(a.value) else { return nil }
        return AssignNode(target: target, op: a.op, value: v, a.location)
    }

    func pv(_ text: String, _ loc: SourceLocation) -> ResolvedPV? {
        do {
            return try engine.resolvePV(text)
        } catch {
            self.error(loc, error.message)
            return nil
        }
    }

    // MARK: expressions

    mutating func expr(_ e: Expr) -> ExprNode? {
        switch e {
        case .int(let n, let loc): return LiteralNode(.int(n), loc)
        case .string(let s, let loc): return LiteralNode(.str(s), loc)  // not interpolated
        case .null(let loc): return LiteralNode(.null, loc)
        case .pv(let p, let loc): return pv(p, loc).map { PVNode($0, loc) }
        case .binary(let op, let l, let r, let loc):
            let a = expr(l), b = expr(r)
            guard let a, let b else { return nil }
            return BinaryNode(op, a, b, loc)
        case .bitNot(let x, let loc):
            return expr(x).map { BitNotNode($0, loc) }
        case .compare(let op, let l, let r, let loc):
            let a = expr(l), b = expr(r)
            guard let a, let b else { return nil }
            let kind: CompareNode.RHSKind
            switch r {
            case .string: kind = .stringLiteral
            case .int: kind = .intLiteral
            case .null: kind = .null
            default: kind = .variable
            }
            var regex: POSIXRegex? = nil
            if op == .match || op == .notMatch, case .string(let pattern, let ploc) = r {
                do { regex = try POSIXRegex(pattern) } catch {
                    self.error(ploc, "bad regular expression \"\(pattern)\": \((error as? POSIXRegex.CompileError)?.message ?? "\(error)")")
                    return nil
                }
            }
            return CompareNode(op, a, b, rhsKind: kind, regex: regex, loc)
        case .not(let x, let loc): return expr(x).map { NotNode($0, loc) }
        case .and(let l, let r, let loc), .or(let l, let r, let loc):
            let isAnd: Bool
            if case .and = e { isAnd = true } else { isAnd = false }
            let a = expr(l), b = expr(r)
            guard let a, let b else { return nil }
            return LogicNode(isAnd: isAnd, a, b, loc)
        case .call(let c): return call(c).map { CallExprNode($0) }
        case .assign(let a): return assign(a).map { ActionExprNode($0) }
        case .test(let x, let loc): return expr(x).map { TestNode($0, loc) }
        case .block(let list, let loc): return ActionExprNode(BlockNode(list.compactMap { stmt($0) }, loc))
        }
    }

    // MARK: calls

    mutating func call(_ c: CallExpr) -> CallNode? {
        let node = callNode(c)
        node?.traceLabel = ScriptTrace.callLabel(c.name)
        return node
    }

    mutating func callNode(_ c: CallExpr) -> CallNode? {
        switch c.name {
        case "route": return routeCall(c)
        case "xlog", "xdbg": return xlog(c)
        case "log": return plainLog(c)
        case "fetch_event_params": return fetchEventParams(c)
        case "setflag", "resetflag", "isflagset", "isflag": return flag(c)
        case "setbflag", "resetbflag", "isbflagset": return branchFlag(c)
        case "raise_event": return raiseEvent(c)
        case _ where Resolver.cacheFunctions.contains(c.name): return cacheCall(c)
        case "async", "launch":
            error(c.location, "\(c.name)() is not supported yet (it needs the transaction module's async engine)")
            return nil
        default: return functionCall(c)
        }
    }

    mutating func routeCall(_ c: CallExpr) -> CallNode? {
        guard let first = c.args.first else {
            error(c.location, "route() needs a route name")
            return nil
        }
        if c.args.count > 9 { error(c.location, "route(): at most 8 arguments") }
        let target: RouteCallNode.Target
        switch first {
        case .identifier(let n, let loc):
            guard let box = routes.named[n] else {
                error(loc, "route(\(n)): no route[\(n)] is defined")
                return nil
            }
            target = .fixed(box)
        case .string(let n, let loc) where !n.contains("$"):
            guard let box = routes.named[n] else {
                error(loc, "route(\(n)): no route[\(n)] is defined")
                return nil
            }
            target = .fixed(box)
        case .int(let n, let loc):
            guard let box = routes.named[String(n)] else {
                error(loc, "route(\(n)): no route[\(n)] is defined")
                return nil
            }
            target = .fixed(box)
        case .string(let s, let loc):
            guard let f = format(s, loc) else { return nil }
            target = .dynamic(FormatExprNode(f, loc))
        case .pv(let p, let loc):
            guard let r = pv(p, loc) else { return nil }
            target = .dynamic(PVNode(r, loc))
        default:
            error(first.location, "route(): bad route name")
            return nil
        }
        var args: [ExprNode] = []
        for a in c.args.dropFirst() {
            switch a {
            case .int(let n, let loc): args.append(LiteralNode(.int(n), loc))
            case .string(let s, let loc): args.append(LiteralNode(.str(s), loc))  // passed literally, not interpolated
            case .null(let loc): args.append(LiteralNode(.null, loc))
            case .pv(let p, let loc):
                if let r = pv(p, loc) { args.append(PVNode(r, loc)) }
            case .identifier(let id, let loc): error(loc, "route(): unquoted word '\(id)' as an argument (quote strings)")
            case .omitted(let loc): error(loc, "route(): an argument is missing")
            case .call(let inner): error(inner.location, "route(): a function call cannot be an argument")
            }
        }
        return RouteCallNode(target: target, args: args, c.location)
    }

    func format(_ s: String, _ loc: SourceLocation) -> FormatString? {
        do { return try FormatString.parse(s, engine: engine) } catch {
            self.error(loc, error.message)
            return nil
        }
    }

    mutating func xlog(_ c: CallExpr) -> CallNode? {
        let isDbg = c.name == "xdbg"
        guard c.args.count == 1 || (c.args.count == 2 && !isDbg) else {
            error(c.location, isDbg ? "xdbg() takes one argument: xdbg(\"format\")" : "xlog() takes one or two arguments: xlog([level,] \"format\")")
            return nil
        }
        guard case .string(let fmt, let floc) = c.args.last! else {
            error(c.args.last!.location, "\(c.name)(): the format must be a quoted string")
            return nil
        }
        guard let f = format(fmt, floc) else { return nil }
        var level = XlogNode.Level.fixed(isDbg ? LogLevels.debug : LogLevels.notice)
        if c.args.count == 2 {
            switch c.args[0] {
            case .string(let s, let loc) where s.hasPrefix("$"):
                // xlog("$var(lvl)", ...): a quoted variable is read for the level at every call.
                guard let r = pv(s, loc) else { return nil }
                level = .dynamic(r)
            case .string(let s, let loc):
                guard let l = LogLevels.parseXlogLevel(s) else {
                    error(loc, "xlog(): unknown log level \"\(s)\" (use L_ALERT, L_CRIT, L_ERR, L_WARN, L_NOTICE, L_INFO or L_DBG)")
                    return nil
                }
                level = .fixed(l)
            case .pv(let p, let loc):
                guard let r = pv(p, loc) else { return nil }
                level = .dynamic(r)
            case .int(let n, _):
                level = .fixed(n)
            default:
                error(c.args[0].location, "xlog(): bad log level")
                return nil
            }
        }
        return XlogNode(level: level, format: f, c.location)
    }

    func plainLog(_ c: CallExpr) -> CallNode? {
        var level = LogLevels.debug
        guard let last = c.args.last, case .string(let text, _) = last, c.args.count <= 2 else {
            error(c.location, "log() takes a message string and an optional level: log([level,] \"text\")")
            return nil
        }
        if c.args.count == 2 {
            guard case .int(let l, _) = c.args[0] else {
                error(c.args[0].location, "log(): the level must be a number")
                return nil
            }
            level = l
        }
        return PlainLogNode(level: level, text: text, c.location)
    }

    func fetchEventParams(_ c: CallExpr) -> CallNode? {
        guard c.args.count == 1, case .string(let spec, let loc) = c.args[0] else {
            error(c.location, "fetch_event_params() takes one string: \"name=$avp(x);$avp(y)\"")
            return nil
        }
        if kind != .event {
            error(c.location, "fetch_event_params() can only be used in an event_route")
        }
        var items: [FetchEventParamsNode.Item] = []
        for part in spec.split(separator: ";").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
            if let eq = part.firstIndex(of: "="), !part.hasPrefix("$") {
                let name = String(part[..<eq])
                guard let r = pv(String(part[part.index(after: eq)...]), loc) else { continue }
                if !r.writable { error(loc, "fetch_event_params(): \(r.text) cannot be assigned") }
                items.append(.named(name, r))
            } else {
                guard let r = pv(part, loc) else { continue }
                if !r.writable { error(loc, "fetch_event_params(): \(r.text) cannot be assigned") }
                items.append(.positional(r))
            }
        }
        return FetchEventParamsNode(items: items, c.location)
    }

    func flag(_ c: CallExpr) -> CallNode? {
        guard c.args.count == 1 else {
            error(c.location, "\(c.name)() takes one flag name: \(c.name)(\"NAME\")")
            return nil
        }
        guard case .string(let name, let loc) = c.args[0] else {
            error(c.args[0].location, "\(c.name)(): flags are quoted names in 3.x: \(c.name)(\"NAME\")")
            return nil
        }
        let slot = engine.flagSlots.slot(name)
        if slot >= 64 {
            error(loc, "too many flags (at most 64 names)")
            return nil
        }
        let op: FlagNode.Op = c.name == "setflag" ? .set : (c.name == "resetflag" ? .reset : .test)
        return FlagNode(op: op, slot: slot, c.location)
    }

    func raiseEvent(_ c: CallExpr) -> CallNode? {
        guard (1...3).contains(c.args.count), case .string(let name, let loc) = c.args[0] else {
            error(c.location, "raise_event() takes an event name and up to two AVPs: raise_event(\"E_NAME\"[, $avp(names)][, $avp(values)])")
            return nil
        }
        guard let f = format(name, loc) else { return nil }
        func avp(_ a: CallArg) -> ResolvedPV? {
            switch a {
            case .omitted: return nil
            case .pv(let p, let l): return pv(p, l)
            default:
                error(a.location, "raise_event(): expected an AVP")
                return nil
            }
        }
        if c.args.count == 2 { return RaiseEventNode(name: f, names: nil, values: avp(c.args[1]), c.location) }
        if c.args.count == 3 { return RaiseEventNode(name: f, names: avp(c.args[1]), values: avp(c.args[2]), c.location) }
        return RaiseEventNode(name: f, names: nil, values: nil, c.location)
    }

    /// The functions the resolver handles itself (not in the engine's table).
    static let builtinFunctionNames: [String] = ["route", "xlog", "xdbg", "log", "fetch_event_params", "setflag",
                                                 "resetflag", "isflagset", "isflag", "raise_event", "setbflag",
                                                 "resetbflag", "isbflagset"]

    /// The known function closest to `name` (same letters in another case, or a small edit distance), if any.
    static func nearestFunction(_ name: String, among registered: [String]) -> String? {
        let all = registered + builtinFunctionNames + Array(cacheFunctions)
        if let k = all.first(where: { $0.lowercased() == name.lowercased() }) { return k }
        let limit = name.count <= 4 ? 1 : 2
        return all.map { ($0, GlobalNames.editDistance($0, name, limit: limit)) }
            .filter { $0.1 <= limit }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }
            .first?.0
    }

    mutating func functionCall(_ c: CallExpr) -> CallNode? {
        guard let def = engine.function(named: c.name) else {
            // A near miss of a known function is a typo, not a missing module.
            if let near = Resolver.nearestFunction(c.name, among: engine.functionNames) {
                error(c.location, "unknown function '\(c.name)': did you mean '\(near)'?")
            } else {
                error(c.location, "unknown function '\(c.name)' (missing loadmodule?)")
            }
            return nil
        }
        if def.routeMask & kind.rawValue == 0 {
            error(c.location, "function '\(c.name)' cannot be used in \(kind.keyword)")
        }
        var args = c.args
        // f() with no arguments parses as zero args; a single omitted arg means the same.
        if args.count == 1, case .omitted = args[0], def.params.isEmpty { args = [] }
        if args.count > def.params.count {
            error(c.location, "too many arguments for \(c.name)(): at most \(def.params.count)")
            return nil
        }
        if args.count < def.minArgs {
            error(c.location, "too few arguments for \(c.name)(): needs at least \(def.minArgs)")
            return nil
        }
        var resolved: [ResolvedArg] = []
        var handles: [UnsafeMutableRawPointer?] = []
        var ok = true
        for (i, spec) in def.params.enumerated() {
            let a: CallArg = i < args.count ? args[i] : .omitted(c.location)
            let r = fixArg(a, spec: spec, fn: c.name, position: i + 1)
            if let r {
                resolved.append(r)
                if case .output(let pv) = r { handles.append(varHandles.handle(for: pv)) } else { handles.append(nil) }
            } else {
                ok = false
            }
        }
        // OpenSIPS's fixup_check_avp: these outputs must be AVPs.
        if def.module == "core", let positions = MiscFunctions.avpOutputs[c.name] {
            for i in positions where i < resolved.count {
                if case .output(let pv) = resolved[i], !pv.isAVP {
                    error(i < args.count ? args[i].location : c.location, "\(c.name)(): parameter \(i + 1) must be an AVP, not \(pv.text)")
                    ok = false
                }
            }
        }
        if ok, let fixup = def.fixup, let f = fixup(resolved.map(\.fixupArg)) {
            error(f.argument.map { $0 < args.count ? args[$0].location : c.location } ?? c.location, "\(c.name)(): \(f.message)")
            return nil
        }
        return ok ? FunctionCallNode(def: def, args: resolved, varHandles: handles, c.location) : nil
    }

    func fixArg(_ a: CallArg, spec: UInt32, fn: String, position: Int) -> ResolvedArg? {
        let isInt = spec & ParamFlag.int != 0
        let isStr = spec & ParamFlag.str != 0
        let isVar = spec & ParamFlag.variable != 0
        let optional = spec & ParamFlag.opt != 0
        let staticOnly = spec & ParamFlag.staticOnly != 0
        let noExpand = spec & ParamFlag.noExpand != 0
        let what = "\(fn)(): parameter \(position)"
        switch a {
        case .omitted(let loc), .null(let loc):
            if !optional {
                error(loc, "\(what) is mandatory and cannot be omitted")
                return nil
            }
            return .omitted
        case .identifier(let id, let loc):
            error(loc, "\(what): unquoted word '\(id)' (strings must be quoted)")
            return nil
        case .call(let inner):
            error(inner.location, "\(what): a function call cannot be an argument")
            return nil
        case .pv(let p, let loc):
            guard let r = pv(p, loc) else { return nil }
            if isVar {
                if !r.writable { error(loc, "\(what): \(p) cannot be written (an output variable is needed)") }
                return .output(r)
            }
            if staticOnly {
                error(loc, "\(what) must be a literal, not a variable")
                return nil
            }
            return .pv(r, wantInt: isInt && !isStr)
        case .int(let n, let loc):
            if isVar {
                error(loc, "\(what) must be a variable (it receives output)")
                return nil
            }
            if isInt { return .int(n) }
            return .string(String(n))
        case .string(let s, let loc):
            if isVar {
                // OpenSIPS 2.4 wrote output variables quoted ("$var(out)"): one variable alone in the quotes is taken
                // as that variable, with a notice naming the 3.x form.
                let t = s.trimmingCharacters(in: .whitespaces)
                if t.hasPrefix("$"), let f = format(t, loc), f.parts.count == 1, case .pv(let r) = f.parts[0] {
                    if !r.writable { error(loc, "\(what): \(t) cannot be written (an output variable is needed)") }
                    diagnostics.warning(loc, "\(what): the quoted variable \"\(t)\" is taken as \(t) (OpenSIPS 2.4 form; "
                                        + "3.x writes it unquoted)")
                    return .output(r)
                }
                error(loc, "\(what) must be a variable (it receives output), not a string")
                return nil
            }
            if isInt && !isStr {
                // 2.x configs quote numbers ("0"); we accept a quoted integer (OpenSIPS 3.x refuses it).
                if let n = Int(s.trimmingCharacters(in: .whitespaces)) { return .int(n) }
                error(loc, "\(what) expects an integer or a variable, got \"\(s)\"")
                return nil
            }
            if noExpand || staticOnly || !s.contains("$") { return .string(s) }
            guard let f = format(s, loc) else { return nil }
            if let t = f.staticText { return .string(t) }
            return .format(f)
        }
    }
}

/// A format string evaluated as an expression (dynamic route names).
final class FormatExprNode: ExprNode, @unchecked Sendable {
    let format: FormatString
    init(_ format: FormatString, _ loc: SourceLocation) {
        self.format = format
        super.init(loc)
    }
    override func eval(_ ctx: ScriptContext) -> Value? { .str(format.render(ctx)) }
}

/// Owns the opaque `sy_var` handles given to plugins: one retained ResolvedPV per handle.
public final class VarHandleStore: Sendable {
    // Appended at startup and by reload_routes (on an MI thread): the addresses of retained ResolvedPVs, valid until
    // the store is freed.
    private let handles = Mutex<[UInt]>([])

    public init() {}

    func handle(for pv: ResolvedPV) -> UnsafeMutableRawPointer {
        let h = Unmanaged.passRetained(pv).toOpaque()
        handles.withLock { $0.append(UInt(bitPattern: h)) }
        return h
    }

    public static func pv(from handle: UnsafeRawPointer) -> ResolvedPV {
        Unmanaged<ResolvedPV>.fromOpaque(handle).takeUnretainedValue()
    }

    deinit {
        for h in handles.withLock({ $0 }) {
            if let p = UnsafeRawPointer(bitPattern: h) { Unmanaged<ResolvedPV>.fromOpaque(p).release() }
        }
    }
}

import Foundation
