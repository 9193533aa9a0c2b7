import Foundation
import SwitchyardABI

/// The script engine: registries of pseudo-variables, transformations and functions (filled by
/// the core and by loaded modules), and the resolved routes. Built at startup, then read-only
/// except for the per-context state the interpreter keeps in ScriptContext.
public final class ScriptEngine: @unchecked Sendable {
    // Mutated only on the startup thread before workers start; read-only afterwards.
    public let log: CoreLog
    public let varSlots = SlotTable()
    public let avpSlots = SlotTable()
    public let flagSlots = SlotTable()
    /// Branch flag names (setbflag and co.): their own namespace, as OpenSIPS's FLAG_TYPE_BRANCH.
    public let branchFlagSlots = SlotTable()
    /// `alias=` globals ([proto:]host[:port]): hosts is_myself() takes as ours besides the listening sockets.
    var aliases: [SocketSpec] = []
    /// Opaque `sy_var` handles given to plugins (output parameters, host var_parse).
    public let varHandles = VarHandleStore()
    public let startTime = Date()
    public var maxWhileLoops = 10000
    /// Destination blacklists (dst_blacklist, the DNS list); filled before the routes are resolved.
    public let blacklists = Blacklists()
    /// `disable_dns_failover`: no next address of a destination name is tried (stateless or by tm).
    public var dnsFailoverDisabled = false
    /// `disable_dns_blacklist` (default on): off, destinations that failed go into the `dns` list for a while.
    public var dnsBlacklistDisabled = true
    /// The resolver's globals (dns_try_ipv6, dns_try_naptr, dns_retr_*, dns_servers_no, dns_use_search_list).
    public var dns = DNSSettings()
    /// The names of `dns.hostsFile`, read once at startup (the SIP core's resolver and rt_sip_resolve use them).
    var dnsHosts: [String: [String]] = [:]
    /// enable_asserts / abort_on_assert (OpenSIPS's globals, both off by default): see AssertNode.
    public var enableAsserts = false
    public var abortOnAssert = false

    private(set) var pvClasses: [String: PVClass] = [:]
    /// Pseudo-variable contexts `$(<name>pv)` by name, registered by modules at load (ABI 1.10).
    private(set) var pvContexts: [String: PVContext] = [:]
    private(set) var transformClasses: [String: TransformClass] = [:]
    /// Core functions are registered first and cannot be shadowed by a module.
    private(set) var functions: [String: FunctionDef] = [:]

    /// The resolved routes in force (`reload_routes` swaps them); the accessors below read the current set.
    public let routeTable = RouteTable(RouteSet())
    public var routes: RouteSet { routeTable.current }
    public var namedRoutes: [String: RouteBox] { routes.named }
    public var mainRoute: RouteBox? { routes.main }
    public var startupRoute: RouteBox? { routes.startup }
    public var onreplyRoutes: [String: RouteBox] { routes.onreply }
    public var failureRoutes: [String: RouteBox] { routes.failure }
    public var branchRoutes: [String: RouteBox] { routes.branch }
    public var eventRoutes: [String: RouteBox] { routes.events }
    public var timerRoutes: [(route: RouteBox, seconds: Int)] { routes.timers }

    /// The transaction layer's SIP hooks (ABI 1.7 sip_hooks_register), set by one module's init; read-only afterwards.
    var sipHooks: sy_sip_hooks?

    /// The SIP layer (sockets, forwarding); nil until the server opens it.
    public internal(set) var sip: SIPCore?

    /// Cache backends by id, for the cache_* functions; set by the server before fixups.
    public var cacheDirectory: CacheDirectory?

    /// The pseudo-variable and transformation classes of the core itself (modules add theirs later): the only ones
    /// run-time resolution uses. Set in init, read-only after.
    private var coreClassNames: Set<String> = []
    private var coreTransformNames: Set<String> = []

    /// `-o name=value` command-line options, read by `$argv(name)`; set before the routes are resolved.
    public var argv: [String: String] = [:]

    /// Where raise_event sends events; set by the runtime. Returns <0 when the queue is full.
    public var eventSink: (@Sendable (String, [(name: String, value: Value)]) -> Int)?

    public init(log: CoreLog) {
        self.log = log
        for c in CorePVs.classes() + MessagePVs.classes() + BranchFieldPV.classes() + RoutePVs.classes() + AuthPVs.classes()
                + [RURIQPV.cls, HeaderNamePV.cls, ArgvPV.cls, SocketOutPV.cls] { pvClasses[c.name] = c }
        for t in [StringTransforms.cls, URITransforms.uri, URITransforms.param, URITransforms.csv, NameAddrTransforms.nameaddr,
                  NameAddrTransforms.via, SubstTransforms.re, SubstTransforms.ip, SDPTransforms.cls] {
            transformClasses[t.name] = t
        }
        coreClassNames = Set(pvClasses.keys)
        coreTransformNames = Set(transformClasses.keys)
        for f in CoreFunctions.all() + BranchFunctions.all() + MiscFunctions.all() + SerialBranches.all() + BlacklistFunctions.all(blacklists) {
            functions[f.name] = f
        }
    }

    // MARK: registration (startup)

    public func register(pvClass: PVClass) throws(PVResolveError) {
        if pvClasses[pvClass.name] != nil { throw PVResolveError("pseudo-variable $\(pvClass.name) is already defined") }
        pvClasses[pvClass.name] = pvClass
    }

    public func register(pvContext: PVContext) throws(PVResolveError) {
        if let existing = pvContexts[pvContext.name] {
            throw PVResolveError("pseudo-variable context <\(pvContext.name)> of module \(pvContext.module) is already registered by \(existing.module)")
        }
        pvContexts[pvContext.name] = pvContext
    }

    public func register(function: FunctionDef) throws(PVResolveError) {
        if let existing = functions[function.name] {
            throw PVResolveError("function \(function.name)() of module \(function.module) is already exported by \(existing.module)")
        }
        functions[function.name] = function
    }

    public func function(named name: String) -> FunctionDef? { functions[name] }
    public var functionNames: [String] { Array(functions.keys) }

    // MARK: pseudo-variables

    public func resolvePV(_ text: String) throws(PVResolveError) -> ResolvedPV { try resolvePV(text, atRuntime: false) }

    func resolvePV(_ text: String, atRuntime: Bool) throws(PVResolveError) -> ResolvedPV {
        let syntax: PVSyntax
        do { syntax = try PVSyntaxParser.parse(text) } catch { throw PVResolveError(error.message) }
        return try resolvePV(syntax, text: text, atRuntime: atRuntime)
    }

    /// `atRuntime`: resolving while workers run (`{s.eval}`), on any worker's thread. Only the core's classes are used
    /// then, and only names the startup resolution already gave a slot (see checkRuntime).
    func resolvePV(_ syntax: PVSyntax, text: String, atRuntime: Bool = false) throws(PVResolveError) -> ResolvedPV {
        if let name = syntax.context { return try resolveInContext(name, syntax, text: text, atRuntime: atRuntime) }
        if let suffix = syntax.indexSuffix {
            // `$(name[i/word])` reads the class's variant `name/word` (tm's `$tm.branch.uri[i/active]`: an index over
            // another set), which a module exports as a pseudo-variable of that name.
            guard pvClasses[syntax.name] != nil else {
                throw PVResolveError("unknown pseudo-variable \(text) (maybe a loadmodule statement is missing?)")
            }
            guard pvClasses[syntax.name + "/" + suffix] != nil, syntax.index != nil else {
                throw PVResolveError("pseudo-variable $\(syntax.name) takes no index suffix /\(suffix)")
            }
            var plain = syntax
            plain.name = syntax.name + "/" + suffix
            plain.indexSuffix = nil
            return try resolvePV(plain, text: text, atRuntime: atRuntime)
        }
        guard let cls = pvClasses[syntax.name] else {
            throw PVResolveError("unknown pseudo-variable \(text) (maybe a loadmodule statement is missing?)")
        }
        let unknownName = atRuntime ? try checkRuntime(cls, syntax) : false
        if cls.needsInner && (syntax.inner == nil || syntax.inner!.isEmpty) {
            throw PVResolveError("pseudo-variable $\(syntax.name) needs a name: $\(syntax.name)(...)")
        }
        // A $var/$avp name no one has used reads as null (what the unset variable would read), without a slot.
        let accessor = unknownName ? PVAccessor() : try cls.make(syntax.inner, self)
        var index: ResolvedPV.Index? = nil
        if let idx = syntax.index {
            guard accessor.supportsIndex else { throw PVResolveError("pseudo-variable $\(syntax.name) does not take an index") }
            switch idx {
            case .int(let n): index = .fixed(.int(n))
            case .all:
                guard accessor.supportsAllIndex else { throw PVResolveError("pseudo-variable $\(syntax.name): unsupported index: [*]") }
                index = .fixed(.all)
            case .append: index = .fixed(.append)
            case .pv(let p): index = .dynamic(try resolvePV(p, atRuntime: atRuntime))
            }
        }
        return ResolvedPV(text: text, accessor: accessor, index: index,
                          transforms: try resolveTransforms(syntax.transforms, atRuntime: atRuntime))
    }

    /// What a run-time resolution may not do, as it runs on worker threads at once: call a module's parser (a plugin's
    /// PV or transformation parse callback is only known to run at startup, on one thread), or add a name to a slot
    /// table (each worker sized its variables by the table at startup, and names taken from message text would grow
    /// it without bound). The slot tables are only looked up (under their lock): a `$var`/`$avp` name without a slot
    /// holds no value, so it reads as null without one (true is returned); a module's variable, a branch flag name
    /// not defined at startup, fail the evaluation.
    private func checkRuntime(_ cls: PVClass, _ syntax: PVSyntax) throws(PVResolveError) -> Bool {
        guard coreClassNames.contains(cls.name) else {
            throw PVResolveError("$\(cls.name) belongs to a module: only the script text can use it, not evaluated text")
        }
        guard let inner = syntax.inner else { return false }
        switch cls.name {
        case "var": return varSlots.lookup(inner) == nil
        case "avp": return avpSlots.lookup(inner) == nil
        case "msg.branch.flag":
            if branchFlagSlots.lookup(inner.trimmingCharacters(in: .whitespaces)) == nil {
                throw PVResolveError("$msg.branch.flag(\(inner)): no such flag at startup")
            }
            return false
        default: return false
        }
    }

    /// `$(<name>pv...)`: the inner variable with its index and transformations, read against the context's message;
    /// with no message it is null, transformations not run (OpenSIPS's pv_get_spec_value).
    private func resolveInContext(_ name: String, _ syntax: PVSyntax, text: String, atRuntime: Bool) throws(PVResolveError) -> ResolvedPV {
        guard let context = pvContexts[name] else {
            throw PVResolveError("unknown pseudo-variable context <\(name)> in \(text) (maybe a loadmodule statement is missing?)")
        }
        var plain = syntax
        plain.context = nil
        let inner = try resolvePV(plain, text: text, atRuntime: atRuntime)
        return ResolvedPV(text: text, accessor: ContextPVAccessor(context: context, inner: inner), index: nil, transforms: [])
    }

    private func resolveTransforms(_ list: [TransformSyntax], atRuntime: Bool) throws(PVResolveError) -> [Transform] {
        var transforms: [Transform] = []
        for t in list {
            guard let tc = transformClasses[t.cls] ?? transformClasses[t.cls.lowercased()] else {
                throw PVResolveError("unknown transformation class '\(t.cls)' in {\(t.cls).\(t.op)}")
            }
            if atRuntime, !coreTransformNames.contains(tc.name) {
                throw PVResolveError("{\(t.cls).\(t.op)} belongs to a module: only the script text can use it, not evaluated text")
            }
            var params: [TParam] = []
            for p in t.params {
                switch p {
                case .literal(let s): params.append(.literal(s))
                case .pv(let s): params.append(.pv(try resolvePV(s, atRuntime: atRuntime)))
                }
            }
            transforms.append(try tc.make(t.op, params))
        }
        return transforms
    }

    // MARK: running

    /// Runs a top-level route on a prepared context; returns its code.
    @discardableResult
    public func run(_ route: RouteBox, _ ctx: ScriptContext) -> Int {
        ctx.flow = .normal
        let savedStart = ctx.routeStackStart
        ctx.routeStackStart = ctx.routeStack.count
        ctx.routeStack.append(route)
        defer {
            ctx.routeStack.removeLast()
            ctx.routeStackStart = savedStart
        }
        var r = route.body.exec(ctx)
        if ctx.flow == .returnRoute { r = ctx.returnCode }
        if ctx.flow == .exitScript { r = 0 }
        ctx.flow = .normal
        return r
    }

    /// Makes a context for a worker (one per worker, reused for every run).
    public func makeContext(worker: WorkerState, routeType: RouteKind) -> ScriptContext {
        ScriptContext(worker: worker, engine: self, routeType: routeType)
    }

    public func makeWorkerState(rank: Int) -> WorkerState {
        WorkerState(rank: rank, varCount: varSlots.count)
    }

    func raiseEvent(_ name: String, _ params: [(name: String, value: Value)]) -> Int {
        guard let sink = eventSink else {
            log.error("raise_event(\(name)): the event system is not running")
            return -1
        }
        return sink(name, params)
    }
}
