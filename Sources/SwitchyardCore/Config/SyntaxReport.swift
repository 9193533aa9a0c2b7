import Foundation

/// `switchyard --syntax-only`: parses a file without loading modules and lists what Switchyard
/// would not run, so an operator sees how far an existing opensips.cfg is from running.
public struct SyntaxReport {
    public let ok: Bool
    public let text: String

    /// Core functions the engine implements itself.
    static let coreFunctions: Set<String> = [
        "xlog", "xdbg", "log", "route", "fetch_event_params", "setflag", "resetflag", "isflagset", "isflag", "raise_event",
    ]
    /// Route kinds that only tm triggers: never run by a script that does not load it.
    static let dormantRoutes: Set<RouteKind> = [.failure, .branch, .local]

    public static func make(ast: ScriptAST, diagnostics: DiagnosticBag, pluginDirectory: String? = nil) -> SyntaxReport {
        var lines: [String] = diagnostics.errors.map { "\($0.location.map(\.description) ?? "-"): unsupported: \($0.message)" }
        let parseErrors = lines.count
        for g in ast.globals where !GlobalNames.used.contains(g.name) {
            lines.append("\(g.location): unsupported: global '\(g.name)' is accepted but has no effect in Switchyard")
        }
        let dir = pluginDirectory ?? ModuleLoader.executableDirectory
        let available = Set(((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".so") }
            .map { f -> String in
                var n = String(f.dropLast(3))
                if n.hasPrefix("lib") { n = String(n.dropFirst(3)) }
                return n
            })
        for m in ast.modules {
            var n = m.name
            if let slash = n.lastIndex(of: "/") { n = String(n[n.index(after: slash)...]) }
            if n.hasSuffix(".so") { n = String(n.dropLast(3)) }
            // A name no plugin file has may be a module's alias (cachedb_local is cache_local): only then are the
            // plugins' entry functions asked for their aliases (nothing is initialised).
            if !available.contains(n) && !m.name.hasPrefix("/") && !isAlias(n, dir: dir) {
                lines.append("\(m.location): unsupported: module '\(n)' is not part of this build (no plugin in \(dir))")
            }
        }
        let loadsTM = ast.modules.contains { m in
            var n = m.name
            if let slash = n.lastIndex(of: "/") { n = String(n[n.index(after: slash)...]) }
            return n == "tm.so" || n == "tm"
        }
        for r in ast.routes where !loadsTM && dormantRoutes.contains(r.kind) {
            lines.append("\(r.location): unsupported: \(r.kind.keyword) is parsed and checked but never triggered (tm.so is not loaded)")
        }
        var calls: [CallExpr] = []
        for r in ast.routes { collectCalls(r.body, into: &calls) }
        for c in calls where ["async", "launch"].contains(c.name) {
            lines.append("\(c.location): unsupported: \(c.name)() is not implemented")
        }
        let unknown = calls.filter { !coreFunctions.contains($0.name) && !["async", "launch"].contains($0.name) }
        var seen = Set<String>()
        for c in unknown where seen.insert(c.name).inserted {
            lines.append("\(c.location): note: \(c.name)() must come from a loaded module (checked by -c)")
        }
        let count = lines.filter { $0.contains(": unsupported:") }.count
        lines.append(count == 0 ? "syntax ok: every construct is supported" : "\(count) construct\(count == 1 ? "" : "s") not supported")
        return SyntaxReport(ok: parseErrors == 0, text: lines.joined(separator: "\n"))
    }

    static func isAlias(_ name: String, dir: String) -> Bool {
        let loader = ModuleLoader(searchPath: [dir], host: HostTable.shared)
        guard let m = loader.findByAlias(name, location: nil) else { return false }
        loader.discard(m.path)
        return true
    }

    static func collectCalls(_ stmts: [Stmt], into out: inout [CallExpr]) {
        for s in stmts { collectCalls(s, into: &out) }
    }

    static func collectCalls(_ s: Stmt, into out: inout [CallExpr]) {
        switch s {
        case .call(let c): out.append(c)
        case .assign(let a): collectCalls(a.value, into: &out)
        case .ifElse(let c, let t, let e, _):
            collectCalls(c, into: &out)
            collectCalls(t, into: &out)
            if let e { collectCalls(e, into: &out) }
        case .block(let list, _): collectCalls(list, into: &out)
        case .switchStmt(_, _, let cases, _): for c in cases { collectCalls(c.body, into: &out) }
        case .whileLoop(let c, let b, _):
            collectCalls(c, into: &out)
            collectCalls(b, into: &out)
        case .forEach(_, _, _, _, let b, _): collectCalls(b, into: &out)
        case .assertStmt(let c, _, _): collectCalls(c, into: &out)
        default: break
        }
    }

    static func collectCalls(_ e: Expr, into out: inout [CallExpr]) {
        switch e {
        case .call(let c): out.append(c)
        case .binary(_, let a, let b, _), .compare(_, let a, let b, _), .and(let a, let b, _), .or(let a, let b, _):
            collectCalls(a, into: &out)
            collectCalls(b, into: &out)
        case .not(let a, _), .bitNot(let a, _), .test(let a, _): collectCalls(a, into: &out)
        case .assign(let a): collectCalls(a.value, into: &out)
        case .block(let list, _): collectCalls(list, into: &out)
        default: break
        }
    }
}
