import Foundation
import SwitchyardJSON
import SwitchyardMI

/// `reload_routes`, as in OpenSIPS 3.x: the script file is parsed and its routes resolved ("fixed up") again; on any
/// error the running routes stay and the errors are returned; on success the new route set is swapped in atomically:
/// messages, events and timer runs that start afterwards use it, those already running finish on the old one.
/// Only routes change: loadmodule and modparam lines that differ from the running ones are refused (they need a
/// restart), and so are added, removed or re-timed timer_routes (their timers are set up at startup).
extension Server {
    public enum ReloadOutcome: Sendable, Equatable {
        case reloaded(routes: Int)
        /// Each reason as "file:line:col: message" (or a plain sentence when it has no place in the file).
        case refused([String])
    }

    public func reloadRoutes() -> ReloadOutcome {
        guard reloading.withLock({ busy -> Bool in defer { busy = true }; return !busy }) else {
            return .refused(["another reload_routes is running"])
        }
        defer { reloading.withLock { $0 = false } }
        guard configPath != "-" else { return .refused(["the script was read from standard input: nothing to read again"]) }
        guard let running = startupAST else { return .refused(["the server has not finished starting"]) }

        let diags = DiagnosticBag()
        let ast = Parser.parse(path: configPath, diagnostics: diags)
        if diags.hasErrors { return .refused(diags.errors.map(Self.oneLine)) }

        var reasons: [String] = []
        reasons += Self.moduleChanges(running: running, new: ast)
        reasons += Self.timerChanges(running: running, new: ast)
        if !reasons.isEmpty { return .refused(reasons) }

        var resolver = Resolver(engine: engine, diagnostics: diags, varHandles: engine.varHandles)
        resolver.declare(routes: ast.routes)
        // Fixups that look routes up (t_on_failure("x")) must check the new script's routes, not the running ones.
        engine.routeTable.resolving(resolver.routes) { resolver.resolveBodies() }
        if diags.hasErrors { return .refused(diags.errors.map(Self.oneLine)) }

        engine.routeTable.install(resolver.routes)
        let count = ast.routes.count
        log.notice("reload_routes: \(count) routes reloaded from \(configPath) (reload \(engine.routeTable.generation.load(ordering: .relaxed)))")
        return .reloaded(routes: count)
    }

    static func oneLine(_ d: Diagnostic) -> String {
        d.location.map { "\($0): \(d.message)" } ?? d.message
    }

    /// loadmodule and modparam lines must be the running ones (values compared, order of modparams of one
    /// parameter kept, places in the file ignored).
    static func moduleChanges(running: ScriptAST, new: ScriptAST) -> [String] {
        var reasons: [String] = []
        let oldModules = running.modules.map(\.name), newModules = new.modules.map(\.name)
        for m in new.modules where !oldModules.contains(m.name) {
            reasons.append("\(m.location): loadmodule \"\(m.name)\" is not loaded in the running server (loading a module needs a restart)")
        }
        for name in oldModules where !newModules.contains(name) {
            reasons.append("loadmodule \"\(name)\" was removed from the script (unloading a module needs a restart)")
        }
        func key(_ p: ModParamDecl) -> String {
            let v: String
            switch p.value {
            case .int(let i): v = String(i)
            case .string(let s): v = "\"\(s)\""
            }
            return "modparam(\"\(p.module)\", \"\(p.param)\", \(v))"
        }
        let oldParams = running.modparams.map(key)
        var unmatched = oldParams
        for p in new.modparams {
            let k = key(p)
            if let i = unmatched.firstIndex(of: k) { unmatched.remove(at: i); continue }
            reasons.append("\(p.location): \(k) differs from the running module parameters (changing a module parameter needs a restart)")
        }
        for k in unmatched {
            reasons.append("\(k) was removed from the script (changing a module parameter needs a restart)")
        }
        return reasons
    }

    static func timerChanges(running: ScriptAST, new: ScriptAST) -> [String] {
        func timers(_ a: ScriptAST) -> [String] {
            a.routes.filter { $0.kind == .timer }.map { "timer_route[\($0.name ?? ""), \($0.timerInterval ?? 1)]" }
        }
        let old = timers(running), now = timers(new)
        guard old != now else { return [] }
        return ["the timer routes changed (\(old.joined(separator: " ")) → \(now.joined(separator: " "))): timers are set up at startup, a restart is needed"]
    }

    /// The MI command (core group; `core:reload_routes` too).
    func registerReloadRoutesCommand() {
        do {
            try mi.registry.register(module: "core", name: "reload_routes",
                                     help: "Reads the script file again and replaces its routes (modules and their parameters must not change)") { [weak self] _ in
                guard let self else { return .serverError }
                switch self.reloadRoutes() {
                case .reloaded:
                    return .result("OK")
                case .refused(let reasons):
                    self.log.error("reload_routes refused; the running routes stay:\n  " + reasons.joined(separator: "\n  "))
                    return .error(code: 500, message: "Failed to reload routes", data: .array(reasons.map { .string($0) }))
                }
            }
        } catch {
            log.error("MI: cannot register reload_routes: \(error)")
        }
    }
}
