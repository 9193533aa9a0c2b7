import Foundation
import SwitchyardABI

/// The loaded modules: loading in config order, modparams, dependency order, lifecycle hooks.
public final class ModuleRegistry: @unchecked Sendable {
    // Mutated on the startup thread only; read-only once serving.
    public private(set) var modules: [LoadedModule] = []
    /// Modules in dependency order (a module after everything it depends on).
    public private(set) var initOrder: [LoadedModule] = []
    let diagnostics: DiagnosticBag
    let log: CoreLog

    init(diagnostics: DiagnosticBag, log: CoreLog) {
        self.diagnostics = diagnostics
        self.log = log
    }

    public func module(named n: String) -> LoadedModule? { modules.first { $0.answers(to: n) } }

    // MARK: loading

    func load(_ decls: [LoadModuleDecl], loader: ModuleLoader, engine: ScriptEngine) {
        for d in decls {
            let m: LoadedModule
            do {
                m = try loader.load(name: d.name, location: d.location)
            } catch {
                diagnostics.error(d.location, error.message)
                continue
            }
            if let other = modules.first(where: { $0.path == m.path || $0.name.lowercased() == m.name.lowercased() }) {
                diagnostics.error(d.location, "loadmodule \"\(d.name)\": module '\(m.name)' is already loaded (\(other.path)\(other.location.map { ", \($0)" } ?? ""))")
                continue
            }
            modules.append(m)
            register(m, engine: engine, at: d.location)
        }
    }

    /// Makes a module's functions and pseudo-variables visible to the script.
    func register(_ m: LoadedModule, engine: ScriptEngine, at loc: SourceLocation) {
        for f in m.funcs {
            guard let cname = f.name, let handler = f.handler else {
                diagnostics.error(loc, "module \(m.name): a function export has no name or handler")
                continue
            }
            let n = Int(min(f.nparams, UInt32(SY_MAX_FUNC_PARAMS)))
            let params = withUnsafeBytes(of: f.params) { raw in Array(raw.bindMemory(to: UInt32.self).prefix(n)) }
            let def = FunctionDef(name: String(cString: cname), module: m.name, params: params,
                                  routeMask: f.route_mask == 0 ? UInt32(SY_ROUTE_ALL.rawValue) : f.route_mask,
                                  impl: .plugin(handler: handler, user: f.user),
                                  fixup: PluginFixup.make(f.fixup, user: f.user))
            do { try engine.register(function: def) } catch { diagnostics.error(loc, error.message) }
        }
        for p in m.pvars {
            guard let cls = PluginPVAccessor.pvClass(p, module: m.name) else {
                diagnostics.error(loc, "module \(m.name): a pseudo-variable export has no name")
                continue
            }
            do { try engine.register(pvClass: cls) } catch { diagnostics.error(loc, error.message) }
        }
        for c in m.pvContexts {
            guard let cname = c.name, let get = c.get else {
                diagnostics.error(loc, "module \(m.name): a pseudo-variable context export has no name or callback")
                continue
            }
            let pc = PVContext(name: String(cString: cname), module: m.name, source: .plugin(get: get, user: c.user))
            do { try engine.register(pvContext: pc) } catch { diagnostics.error(loc, error.message) }
        }
    }

    // MARK: modparam

    func apply(_ mp: ModParamDecl) {
        // The module name is an anchored, case-insensitive regex (OpenSIPS): "auth_.*", "a|b".
        let targets: [LoadedModule]
        if let re = try? NSRegularExpression(pattern: "^(?:\(mp.module))$", options: [.caseInsensitive]) {
            targets = modules.filter { m in
                ([m.name] + m.aliases).contains { n in
                    re.firstMatch(in: n, range: NSRange(n.startIndex..., in: n)) != nil
                }
            }
        } else {
            targets = modules.filter { $0.answers(to: mp.module) }
        }
        guard !targets.isEmpty else {
            diagnostics.error(mp.location, "modparam(\"\(mp.module)\", \"\(mp.param)\", ...): no module '\(mp.module)' is loaded (loadmodule it before its modparam)")
            return
        }
        for m in targets { apply(mp, to: m) }
    }

    /// The core's db_default_url: each loaded module exporting a `db_url` parameter the config left unset gets it,
    /// as if written `modparam("<module>", "db_url", url)` (OpenSIPS's modules fill an unset db_url from it).
    func applyDefaultDBURL(_ url: String, location: SourceLocation) {
        for m in modules where !m.paramsSet.contains("db_url")
            && m.params.contains(where: { $0.name.map { String(cString: $0) } == "db_url" }) {
            apply(ModParamDecl(module: m.name, param: "db_url", value: .string(url), location: location,
                               valueLocation: location), to: m)
        }
    }

    func apply(_ mp: ModParamDecl, to m: LoadedModule) {
        let named = m.params.filter { $0.name.map { String(cString: $0) } == mp.param }
        guard !named.isEmpty else {
            let known = m.params.compactMap { $0.name.map { String(cString: $0) } }
            diagnostics.error(mp.location, "module \(m.name) has no parameter '\(mp.param)'\(known.isEmpty ? "" : " (it has: \(known.joined(separator: ", ")))")")
            return
        }
        var value: Value = { if case .int(let i) = mp.value { return .int(i) }; if case .string(let s) = mp.value { return .str(s) }; return .null }()
        let isInt: Bool
        if case .int = value { isInt = true } else { isInt = false }
        let wanted = UInt32(isInt ? SY_MP_INT.rawValue : SY_MP_STR.rawValue)
        // The same name may be exported twice with two types: the first whose type fits wins.
        var fitting = named.first(where: { $0.type & wanted != 0 })
        // 2.x configs quote integers: a string that is an integer goes to an integer-only parameter as one.
        if fitting == nil, case .str(let s) = value, let n = Int(s.trimmingCharacters(in: .whitespaces)) {
            fitting = named.first(where: { $0.type & UInt32(SY_MP_INT.rawValue) != 0 })
            if fitting != nil { value = .int(n) }
        }
        guard let p = fitting else {
            let expectsInt = named[0].type & UInt32(SY_MP_INT.rawValue) != 0
            let got: String
            // Masked before the cut: a cut could drop the '@' that ends a password and leave it unmasked.
            if case .str(let s) = value { got = "the string \"\(PasswordMask.mask(s).text.prefix(40))\", which is not an integer" } else { got = "an integer (quote it to pass a string)" }
            diagnostics.error(mp.valueLocation, "module \(m.name), parameter '\(mp.param)': expected \(expectsInt ? "an integer" : "a string"), got \(got)")
            return
        }
        let repeatable = p.type & UInt32(SY_MP_REPEATABLE.rawValue) != 0
        if !repeatable && m.paramsSet.contains(mp.param) {
            diagnostics.error(mp.location, "module \(m.name), parameter '\(mp.param)' is set more than once (it is not a list parameter)")
            return
        }
        m.paramsSet.insert(mp.param)
        guard let setter = p.set else { return }
        var err = [CChar](repeating: 0, count: 512)
        let rc = ABIReader.withCValue(value) { setter($0, p.user, &err, err.count) }
        if rc != 0 {
            let reason = ABIReader.text(err)
            diagnostics.error(mp.valueLocation, "module \(m.name), parameter '\(mp.param)': \(reason.isEmpty ? "value refused" : reason)")
        }
    }

    // MARK: dependencies

    /// Orders modules so each comes after its dependencies; reports missing hard deps and cycles.
    func solveDependencies() {
        var edges: [ObjectIdentifier: [LoadedModule]] = [:]
        for m in modules {
            var needs: [LoadedModule] = []
            for d in m.deps {
                let kind = d.flags & 0xF
                let soft = d.flags & UInt32(SY_DEP_SOFT.rawValue) != 0
                if kind == UInt32(SY_DEP_ANY_DB.rawValue) {
                    let drivers = modules.filter { $0 !== m && $0.name.hasPrefix("db_") }
                    if drivers.isEmpty && !soft {
                        diagnostics.error(m.location, "module \(m.name) needs a database driver module (e.g. loadmodule \"db_sqlite.so\"), none is loaded")
                    }
                    needs += drivers
                    continue
                }
                guard let cname = d.name else { continue }
                let n = String(cString: cname)
                if let dep = module(named: n) {
                    needs.append(dep)
                } else if !soft {
                    diagnostics.error(m.location, "module \(m.name) depends on module \(n), which is not loaded (add loadmodule \"\(n).so\")")
                }
            }
            edges[ObjectIdentifier(m)] = needs
        }
        var order: [LoadedModule] = []
        var state: [ObjectIdentifier: Int] = [:]  // 1 visiting, 2 done
        func visit(_ m: LoadedModule, _ path: [LoadedModule]) {
            let id = ObjectIdentifier(m)
            if state[id] == 2 { return }
            if state[id] == 1 {
                let cycle = (path.drop { $0 !== m } + [m]).map(\.name).joined(separator: " -> ")
                diagnostics.error(m.location, "module dependency cycle: \(cycle)")
                return
            }
            state[id] = 1
            for d in edges[id] ?? [] { visit(d, path + [m]) }
            state[id] = 2
            order.append(m)
        }
        for m in modules { visit(m, []) }
        initOrder = order
    }

    // MARK: lifecycle

    /// Calls init() in dependency order; returns false (with a diagnostic) on the first failure.
    func initAll(afterEach: (LoadedModule) -> Void) -> Bool {
        for m in initOrder {
            if let initFn = m.exports.`init` {
                let rc = initFn(m.exports.user)
                if rc != 0 {
                    diagnostics.error(m.location, "module \(m.name): init failed (returned \(rc))")
                    return false
                }
            }
            m.initialized = true
            afterEach(m)
        }
        return true
    }

    func childInit(rank: Int) -> Bool {
        for m in initOrder where m.initialized {
            if let f = m.exports.child_init, f(Int32(rank), m.exports.user) < 0 {
                log.error("module \(m.name): child_init(\(rank)) failed")
                return false
            }
        }
        return true
    }

    /// destroy() in reverse dependency order, only for modules whose init ran.
    func destroyAll() {
        for m in initOrder.reversed() where m.initialized {
            m.exports.destroy?(m.exports.user)
            m.initialized = false
        }
    }
}
