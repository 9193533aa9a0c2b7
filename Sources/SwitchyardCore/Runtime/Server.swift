import Foundation
import Synchronization
import SwitchyardABI
import SwitchyardMI

/// One running Switchyard: config, modules, script engine, workers, timers and MI.
public final class Server: HostServices, @unchecked Sendable {
    // Startup state is mutated on the controlling thread only; the serving parts are thread-safe.
    public static let version = "0.1.0"
    /// The OpenSIPS release whose script language and MI dialect Switchyard follows.
    public static let openSIPSDialect = "3.6.8"
    public static var abiVersion: String { "\(SY_ABI_MAJOR).\(SY_ABI_MINOR)" }
    public static var arch: String {
        #if arch(x86_64)
        return "x86_64"
        #elseif arch(arm64)
        return "aarch64"
        #else
        return "unknown"
        #endif
    }

    public let log: CoreLog
    public let engine: ScriptEngine
    public let diagnostics = DiagnosticBag()
    public private(set) var config = ServerConfig()
    public let modules: ModuleRegistry
    public let apis = APIDirectory()
    public let stats = StatsRegistry()
    public let mi: MICore
    let timers = TimerService()
    public private(set) var queue: JobQueue<WorkerJob>?
    public private(set) var bus: EventBus?
    public private(set) var pool: WorkerPool?
    private var timerWorkers: [WorkerState] = []
    public private(set) var isStartingUp = true
    private var stopped = false
    private let stopSignal = DispatchSemaphore(value: 0)
    public let configPath: String
    /// The script as parsed at startup: reload_routes compares its loadmodule and modparam lines with the file's.
    public internal(set) var startupAST: ScriptAST?
    /// One reload_routes at a time.
    let reloading = Mutex(false)
    /// What `-c` prints before "config file ok" (the listeners, as OpenSIPS lists them); empty without sockets.
    public private(set) var checkReport = ""

    /// This core's host table (its `runtime` field is this server): what every plugin's entry function gets.
    private(set) var hostTable: UnsafePointer<sy_host_api> = HostTable.shared
    /// What the table's `runtime` points to; cleared at stop so plugin threads outliving it find no core.
    private var runtimeHandle: RuntimeHandle?

    /// `environment`: where the resolver's test hooks (SWITCHYARD_DNS_SERVER, SWITCHYARD_HOSTS_FILE) are read, so a
    /// test can give an in-process server its own without setenv.
    public init(configPath: String, logSink: LogSink = .stderr,
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.configPath = configPath
        config.dns = DNSSettings(environment: environment)
        log = CoreLog(sink: logSink)
        engine = ScriptEngine(log: log)
        modules = ModuleRegistry(diagnostics: diagnostics, log: log)
        mi = MICore(stats: stats)
        let handle = RuntimeHandle(self)
        runtimeHandle = handle
        hostTable = HostTable.build(runtime: handle.retainedForever())
    }

    // MARK: startup

    /// Loads modules, applies modparams, orders and (unless checkOnly) initialises modules, then
    /// resolves the whole script. Every error is collected (with the parser's, if given) and thrown
    /// together, so an operator sees all of a file's problems at once.
    public func prepare(ast: ScriptAST, checkOnly: Bool = false, logLevelOverride: Int? = nil, workersOverride: Int? = nil,
                        parseErrors: [Diagnostic] = []) throws(ConfigErrors) {
        for d in parseErrors { diagnostics.append(d) }
        config.apply(ast.globals, diagnostics: diagnostics)
        if let l = logLevelOverride { config.logLevel = l }
        if let w = workersOverride { config.workers = w }
        log.level = config.logLevel
        // xlog has its own threshold (xlog_level, default NOTICE), as in OpenSIPS 3.x: -l/-D leave it alone.
        log.xlogLevel = config.xlogLevel
        engine.maxWhileLoops = config.maxWhileLoops
        BlacklistConfig.install(config, into: engine, diagnostics: diagnostics)
        engine.dns = config.dns
        engine.dnsHosts = NameResolver.hostsTable(file: config.dns.hostsFile)
        engine.applyScriptGlobals(ast.globals)
        // An alias that does not parse stops startup at its line, as any other bad global (OpenSIPS: a parse error).
        engine.aliases = config.aliasLines.compactMap { line in
            do throws(SIPConfigError) {
                return try SocketSpec.parseAddress(line.text, protoAllowed: true)
            } catch {
                diagnostics.error(line.location, "bad alias \"\(line.text)\": \(error.message)")
                return nil
            }
        }

        // The whole runtime exists before the first plugin's code runs: what a module does in its entry function,
        // init() or a thread init() starts (raise an event, add a timer, register a statistic) finds it complete.
        buildRuntime(withSIP: !checkOnly)
        registerCoreStats()
        HostBridge.publish(self)
        let before = diagnostics.errors.count
        let searchPath = config.mpath + [ModuleLoader.executableDirectory]
        let loader = ModuleLoader(searchPath: searchPath, host: hostTable, services: self)
        modules.load(ast.modules, loader: loader, engine: engine)
        for mp in ast.modparams { modules.apply(mp) }
        // db_default_url: the db_url of every module that has one and was not given one (OpenSIPS's init_db_url).
        if let g = ast.globals.last(where: { $0.name == "db_default_url" }) {
            if case .string(let url) = g.value {
                modules.applyDefaultDBURL(url, location: g.location)
            } else {
                diagnostics.error(g.location, "db_default_url needs a quoted string (a database URL)")
            }
        }
        modules.solveDependencies()
        // Without its modules the script would only add "unknown function" noise: stop here.
        if diagnostics.errors.count > before { try failIfErrors() }

        // Routes are known by name before module init (a module may look one up), resolved after.
        var resolver = Resolver(engine: engine, diagnostics: diagnostics, varHandles: engine.varHandles)
        resolver.declare(routes: ast.routes)
        engine.routeTable.install(resolver.routes) // modules may look routes up in init; bodies are filled in place
        startupAST = ast
        if !checkOnly && !diagnostics.hasErrors {
            let ok = modules.initAll { m in
                for cmd in m.miCommands { _ = self.miRegister(module: m.name, export: cmd) }
            }
            if !ok { try failIfErrors() }
        }

        openSIP(checkOnly: checkOnly)

        let apis = self.apis
        engine.cacheDirectory = CacheDirectory { name, major, size in apis.bind(name: name, major: major, minSize: size) }
        resolver.resolveBodies()
        try failIfErrors()
        // Notices of the resolver (2.x forms taken in their 3.x meaning): one log line each, with the place.
        for d in diagnostics.items where d.severity == .warning {
            log.notice("\(d.location.map { "\($0): " } ?? "")\(d.message)")
        }
        checkRouteUse(ast)
        mi.installCoreCommands(server: self)
        registerReloadRoutesCommand()
    }

    /// Opens the socket= lines through the transport modules (checked but not bound with -c).
    func openSIP(checkOnly: Bool) {
        guard !config.socketLines.isEmpty else { return }
        if checkOnly {
            // Checked as OpenSIPS's -c does: syntax, transport module, address; nothing is bound.
            let protos = Set(modules.modules.flatMap { $0.protos.compactMap { $0.name.map { String(cString: $0).lowercased() } } })
            var listening: [String] = []
            for line in config.socketLines {
                do throws(SIPConfigError) {
                    let spec = try SocketSpec.parse(line.text)
                    guard protos.contains(spec.proto) else {
                        throw SIPConfigError("socket '\(line.text)': no transport module for '\(spec.proto)' (loadmodule \"proto_\(spec.proto).so\"?)")
                    }
                    let addr = try spec.bindAddress(defaultPort: 5060)
                    listening.append("             \(spec.proto): \(spec.host) [\(addr.ip)]:\(addr.port)")
                } catch {
                    diagnostics.error(line.location, error.message)
                }
            }
            checkReport = "Listening on\n" + listening.map { $0 + "\n" }.joined()
                + "Aliases:\n" + config.aliases.map { "             \($0)\n" }.joined()
            return
        }
        guard let sip = engine.sip else { return }
        sip.open(config.socketLines, modules: modules.modules, defaultWorkers: config.workers, diagnostics: diagnostics)
        let c = sip.counters
        func fn(_ name: String, _ read: @escaping @Sendable () -> Int) {
            _ = try? stats.register(group: "core", name: name, flags: [.isFunction]) { Int64(read()) }
        }
        fn("rcv_requests") { c.requests.load(ordering: .relaxed) }
        fn("rcv_replies") { c.replies.load(ordering: .relaxed) }
        fn("fwd_requests") { c.forwarded.load(ordering: .relaxed) }
        fn("fwd_replies") { c.relayedReplies.load(ordering: .relaxed) }
        fn("drop_replies") { c.dropped.load(ordering: .relaxed) }
        fn("bad_msg_hdr") { c.bad.load(ordering: .relaxed) }
        fn("sent_replies") { c.sentReplies.load(ordering: .relaxed) }
    }

    func failIfErrors() throws(ConfigErrors) {
        if diagnostics.hasErrors { throw ConfigErrors(diagnostics.errors) }
    }

    /// A main route with no SIP transport never runs: say so (this is still a valid deployment).
    func checkRouteUse(_ ast: ScriptAST) {
        let hasTransport = !config.sockets.isEmpty || modules.modules.contains { $0.name.hasPrefix("proto_") }
        if !hasTransport, let main = engine.mainRoute {
            log.notice("no SIP transport loaded: the main route at \(main.location) will not run (serving events, timers and MI only)")
        }
    }

    func registerCoreStats() {
        func fn(_ group: String, _ name: String, _ read: @escaping @Sendable () -> Int64) {
            _ = try? stats.register(group: group, name: name, flags: [.isFunction], read: read)
        }
        fn("core", "events_raised") { [weak self] in Int64(self?.bus?.raised.load(ordering: .relaxed) ?? 0) }
        fn("core", "events_dropped") { [weak self] in Int64(self?.bus?.dropped.load(ordering: .relaxed) ?? 0) }
        fn("core", "event_queue_depth") { [weak self] in Int64(self?.bus?.depth ?? 0) }
        let rate = EventRate()
        fn("core", "events_per_sec") { [weak self] in rate.read(raised: self?.bus?.raised.load(ordering: .relaxed) ?? 0) }
        fn("load", "processes_number") { [weak self] in Int64((self?.config.workers ?? 0) + 2) }
    }

    /// The parts of the runtime that depend on the configuration (the rest is built in init): the event queue and
    /// its bus, and the SIP core when socket= lines exist (its sockets are opened once the transport modules are
    /// initialised). Events raised before the workers start wait in the queue: an event raised during module init,
    /// by a thread init() started, or in startup_route is kept, not dropped.
    func buildRuntime(withSIP: Bool = false) {
        guard queue == nil else { return }
        let q = JobQueue<WorkerJob>(capacity: config.eventQueueSize)
        let b = EventBus(queue: q, routes: engine.routeTable, log: log, inline: InlineRunners(engine: engine, log: log))
        bus = b
        queue = q
        // Events whose route ran on their producer's thread (rt_event_raise_here) instead of a worker.
        _ = try? stats.register(group: "core", name: "events_inline", flags: [.isFunction]) {
            Int64(b.ranInline.load(ordering: .relaxed))
        }
        engine.eventSink = { name, params in b.raise(name, params) }
        guard withSIP, !config.socketLines.isEmpty else { return }
        let sip = SIPCore(engine: engine, log: log)
        if config.serverSignature {
            sip.serverHeader = config.serverHeader ?? "Server: Switchyard (\(Server.version) (\(Server.arch)/linux))"
        }
        engine.sip = sip
    }

    /// Runs startup_route, starts workers and timers. Returns when every worker is ready.
    public func start() throws(ConfigErrors) {
        buildRuntime()
        guard let q = queue else { return }
        let p = WorkerPool(engine: engine, queue: q, count: config.workers) { [modules] rank in modules.childInit(rank: rank) }
        pool = p

        // startup_route runs once, before serving, with the first worker's variables.
        if let startup = engine.startupRoute {
            let ctx = engine.makeContext(worker: p.states[0], routeType: .startup)
            engine.run(startup, ctx)
        }

        let readyGroup = DispatchGroup()
        readyGroup.enter()
        let okBox = Counter()
        p.start { ok in
            if !ok { okBox.increment() }
            readyGroup.leave()
        }
        readyGroup.wait()
        if okBox.value > 0 {
            diagnostics.error(nil, "a module failed to initialise a worker (child_init)")
            throw ConfigErrors(diagnostics.errors)
        }

        if let sip = engine.sip {
            let ok = sip.start(firstRank: p.states.count + 1) { [modules] rank in modules.childInit(rank: rank) }
            if !ok {
                diagnostics.error(nil, "a module failed to initialise a SIP worker (child_init)")
                throw ConfigErrors(diagnostics.errors)
            }
        }

        // Events run on their producer's thread (raiseHere) get ranks of their own, after every worker's.
        bus?.inline.configure(firstRank: p.states.count + (engine.sip?.workerCount ?? 0) + 1) { [modules] rank in
            modules.childInit(rank: rank)
        }

        for (i, t) in engine.timerRoutes.enumerated() {
            let state = engine.makeWorkerState(rank: -(i + 1))
            timerWorkers.append(state)
            let ctx = engine.makeContext(worker: state, routeType: .timer)
            let engine = self.engine
            timers.add(name: "timer_route[\(t.route.name ?? "")]", interval: TimeInterval(t.seconds)) {
                // Timer routes run on the one timer thread, so this context is never shared. The route is taken from
                // the set in force at each run (reload_routes keeps the timer routes' names and intervals).
                let timers = engine.routes.timers
                guard i < timers.count else { return }
                ctx.reset(routeType: .timer)
                engine.run(timers[i].route, ctx)
            }
        }
        timers.start()
        isStartingUp = false
        let transports = engine.sip.map { "listening on \($0.socketNames.joined(separator: ", "))" } ?? "no SIP transport (events, timers and MI only)"
        log.notice("Switchyard \(Server.version) ready: \(config.workers) workers, \(modules.modules.count) modules, \(engine.eventRoutes.count) event routes, \(engine.timerRoutes.count) timer routes; \(transports)")
    }

    /// Stops serving: workers drain the queue, timers stop, modules are destroyed.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        log.notice("shutting down")
        timers.stop()
        engine.sip?.stop()
        queue?.close()
        _ = pool?.join(timeout: 10)
        // Events running on their producers' threads (raiseHere) end before the modules go.
        // Modules must outlive every route still running there, however long it takes: wait, saying so now and then.
        while queue?.waitInlineDone(ms: 5_000) == false {
            log.warning("stopping: waiting for an event route still running on an I/O thread")
        }
        // MI calls a plugin promised to answer later (t_uac_dlg waiting for its reply) are answered now, while the
        // transports still run: neither their clients nor the stop wait for a transaction to end.
        mi.pending.failAll("server stopping")
        // A plugin thread that answered just before may still be inside a transport's reply callback: the transports
        // are destroyed only once it is out (bounded, so a stuck callback cannot hold the stop).
        if !mi.pending.waitDelivered(ms: 500) { log.warning("stopping with an MI answer still being delivered") }
        modules.destroyAll()
        // The modules' threads are joined: no event is raised any more. What their threads raised after the queue
        // closed did not run; said once, with the count, instead of a warning per event from each raising module.
        if let summary = bus?.stoppedSummary() { log.notice("stopping: \(summary)") }
        runtimeHandle?.clear()
        HostBridge.withdraw(self)
        stopSignal.signal()
    }

    /// Asks the server to stop (signals, MI kill); the thread in waitForStop does the work.
    public func requestStop() { stopSignal.signal() }

    /// Blocks until requestStop() is called.
    public func waitForStop() { stopSignal.wait() }

    // MARK: HostServices

    func raiseEvent(_ name: String, _ params: [(name: String, value: Value)]) -> Int {
        raiseEvent(name, params, trees: [])
    }

    /// An event whose parameters at the given positions hold trees (ABI 1.9).
    public func raiseEvent(_ name: String, _ params: [(name: String, value: Value)], trees: [(index: Int, tree: ValueTree)]) -> Int {
        guard let bus else { return -1 } // only a server that was never prepared has none
        return bus.raise(name, params, trees: trees)
    }

    func raiseEventHere(_ name: String, _ params: [(name: String, value: Value)],
                        trees: [(index: Int, tree: ValueTree)], timeoutMS: UInt32, moreBehind: Bool) -> Int {
        guard let bus else { return -1 }
        return bus.raiseHere(name, params, trees: trees, timeout: timeoutMS == 0 ? nil : TimeInterval(timeoutMS) / 1000,
                             moreBehind: moreBehind)
    }

    func raiseEventWaiting(_ name: String, _ params: [(name: String, value: Value)],
                           trees: [(index: Int, tree: ValueTree)] = [], timeoutMS: UInt32) -> Int {
        guard let bus else { return -1 }
        return bus.raiseWaiting(name, params, trees: trees, timeout: timeoutMS == 0 ? nil : TimeInterval(timeoutMS) / 1000)
    }

    func addTimer(name: String, intervalMS: UInt32, action: @escaping @Sendable () -> Void) -> Int {
        timers.add(name: name, interval: TimeInterval(intervalMS) / 1000, action: action)
    }

    func removeTimer(_ id: Int) { timers.remove(id) }

    func statRegister(module: String, name: String, flags: UInt32) -> StatCell? {
        stats.counter(group: module, name: name, flags: flags & UInt32(SY_STAT_NO_RESET.rawValue) != 0 ? [.noReset] : [])
    }

    func miRegister(module: String, export: sy_mi_export) -> Bool {
        mi.registerPlugin(module: module, export: export, log: log)
    }

    private let loadingPlugin = Mutex<String?>(nil)

    func pluginLoading(_ path: String?) { loadingPlugin.withLock { $0 = path } }

    func miDispatch(_ request: [UInt8]) -> String? { mi.dispatcher.handle(request) }

    func pluginDiscarded(_ path: String) {
        // dlopen hands back the same library for a file already loaded: never drop a kept module's tables.
        if modules.modules.contains(where: { $0.path == path }) { return }
        apis.removeAll(owner: path)
    }

    func apiPublish(name: String, table: UnsafeRawPointer) -> Bool {
        let ok = apis.publish(name: name, table: table, owner: loadingPlugin.withLock { $0 })
        if !ok { log.error("API '\(name)' is already published by another module") }
        return ok
    }

    func apiBind(name: String, major: UInt32, minSize: UInt32) -> Result<UnsafeRawPointer, APIDirectory.BindError> {
        apis.bind(name: name, major: major, minSize: minSize)
    }
}
