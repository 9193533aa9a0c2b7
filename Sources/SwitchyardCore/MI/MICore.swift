import Foundation
import SwitchyardABI
import SwitchyardMI

/// Statistics counters as the host table hands them to plugins.
typealias StatCell = Stat

/// The server's Management Interface: the command registry and JSON-RPC dispatcher of
/// SwitchyardMI, the core commands wired to this server, and plugins' commands behind the C ABI.
public final class MICore: Sendable {
    public let registry = MIRegistry()
    public let dispatcher: MIDispatcher
    let stats: StatsRegistry
    /// Plugin calls answered later (ABI 1.9), answered by the core if the server stops first.
    let pending = MIPendingCalls()

    init(stats: StatsRegistry) {
        self.stats = stats
        dispatcher = MIDispatcher(registry: registry)
    }

    /// Handles one JSON-RPC request text; nil for a notification (no reply).
    public func handle(_ request: String) -> String? { dispatcher.handle(request) }

    func installCoreCommands(server: Server) {
        let log = server.log
        let hooks = MICoreHooks(
            // opensips-cli (diagnose) requires "OpenSIPS (<d>.<d>.<d>" first: we answer as the MI dialect we
            // speak (3.6), then say who we are.
            serverVersion: "OpenSIPS (\(Server.openSIPSDialect) (\(Server.arch)/linux)) Switchyard \(Server.version)",
            startTime: server.engine.startTime,
            processes: { [weak server] in
                guard let server else { return [] }
                var list = [MIProcessInfo(id: 0, pid: Int(getpid()), type: "attendant", logLevel: log.level)]
                for (i, tid) in (server.pool?.threadIDs ?? []).enumerated() {
                    list.append(MIProcessInfo(id: i + 1, pid: tid, type: "script worker \(i + 1)", logLevel: log.level))
                }
                list.append(MIProcessInfo(id: list.count, pid: Int(getpid()), type: "timer", logLevel: log.level))
                return list
            },
            setLogLevel: { [weak server] level, pid in
                // One log level serves every worker thread; a known worker id or the main pid is accepted.
                if let pid, pid != Int(getpid()), !(server?.pool?.threadIDs.contains(pid) ?? false) { return false }
                log.level = level
                return true
            },
            kill: { [weak server] in
                // Reply first, then stop: the reply must reach the client.
                guard let server else { return }
                DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { server.requestStop() }
            },
            modules: { [weak server] in
                (server?.modules.modules ?? []).map { MIModuleInfo(name: $0.name, version: $0.version, abi: $0.abiVersion, path: $0.path) }
            }
        )
        do {
            try registry.registerCoreCommands(hooks: hooks, stats: stats)
        } catch {
            log.error("MI: cannot register the core commands: \(error)")
        }
        if let dir = server.engine.cacheDirectory { installCacheCommands(directory: dir) }
        installBlacklistCommands(server.engine.blacklists)
    }

    /// Registers a plugin's MI command: its recipes, and a handler that crosses the C boundary.
    func registerPlugin(module: String, export: sy_mi_export, log: CoreLog) -> Bool {
        guard let cname = export.name, let handler = export.handler else {
            log.error("module \(module): an MI command without a name or handler")
            return false
        }
        let name = String(cString: cname)
        var recipes: [[String]] = []
        if let r = export.recipes, export.nrecipes > 0 {
            for i in 0..<Int(export.nrecipes) {
                var names: [String] = []
                withUnsafeBytes(of: r[i].params) { raw in
                    for p in raw.bindMemory(to: UnsafePointer<CChar>?.self) {
                        guard let p else { break }
                        names.append(String(cString: p))
                    }
                }
                recipes.append(names)
            }
        } else {
            recipes = [[]]
        }
        let flags: MICommand.Flags = export.flags & UInt32(SY_MI_NAMED_PARAMS_ONLY.rawValue) != 0 ? [.namedParamsOnly] : []
        let user = UInt(bitPattern: export.user)
        let help = export.help.map { String(cString: $0) } ?? ""
        let pending = pending
        do {
            // Deferred: a handler may promise its answer for later (mi_async_begin); the others answer at once.
            try registry.register(MICommand(module: module, name: name, help: help, flags: flags, recipes: recipes,
                                            body: .deferred { params, responder in
                MICore.callPlugin(handler: handler, user: UnsafeMutableRawPointer(bitPattern: user), params: params,
                                  responder: responder, pending: pending)
            }))
            return true
        } catch {
            log.error("module \(module): MI command '\(name)': \(error)")
            return false
        }
    }

    static func callPlugin(handler: sy_mi_handler, user: UnsafeMutableRawPointer?, params: MIRequestParams,
                           responder: MIResponder, pending: MIPendingCalls) {
        let box = MICallBox(responder: responder, pending: pending) { name in
            guard let v = params.json(name) else { return nil }
            switch v {
            case .null: return .null
            case .bool(let b): return .bool(b)
            case .int(let i): return .int(i)
            case .double(let d): return .double(d)
            case .string(let s): return .string(s)
            case .array, .object: return .json(JSONSerializer.serialize(v, style: .compact))
            }
        }
        let rc = withExtendedLifetime(box) { handler(box.pointer, user) }
        // Promised for later and not answered here: the token answers.
        if box.promised && box.reply == nil && !box.builder.started { return }
        pending.remove(responder)
        responder.complete(result(of: box, rc: rc))
    }

    static func result(of box: MICallBox, rc: Int32) -> MIResult {
        switch box.reply {
        case .json(let text)?:
            return result(json: text)
        case .error(let code, let message, let data)?:
            return .error(code: code, message: message, data: data.map { .string($0) })
        case nil:
            if let built = box.builtReply() { return .result(built) }
            return rc < 0 ? .serverError : .result("OK")
        }
    }
}
