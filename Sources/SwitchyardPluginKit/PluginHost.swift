// PluginHost: Swift methods over the host table (sy_host_api) the core hands to the entry function.
import SwitchyardABI

/// The host table plus the module name used for logs and statistics.
///
/// The table is owned by the core, immutable, and valid until the server stops, so a `PluginHost` may be copied into
/// any `@Sendable` closure. Thread rules are the header's: logging, events and statistics from any thread; variables on
/// the calling context's thread; `varParse`, `apiPublish`, `apiBind`, `dbBind` at startup (entry function or init).
public struct PluginHost: @unchecked Sendable {
    /// The C table.
    public let raw: UnsafePointer<sy_host_api>
    /// Module name passed with every log line and used as the statistics group.
    public let module: String

    /// Wraps the table given to the entry function. Returns nil when `raw` is NULL or the core speaks another ABI major
    /// — the entry function should then return NULL (refuse to load).
    public init?(_ raw: UnsafePointer<sy_host_api>?, module: String) {
        guard let raw, raw.pointee.header.abi_major == UInt32(SY_ABI_MAJOR) else { return nil }
        self.raw = raw
        self.module = module
        // The 1.8 block is one unit: a table long enough for its last entry has all of it.
        let end = MemoryLayout<sy_host_api>.offset(of: \.rt_timer_add).map { $0 + MemoryLayout<UnsafeRawPointer>.size } ?? Int.max
        runtime = end <= Int(raw.pointee.header.struct_size) ? raw.pointee.runtime : nil
    }

    /// The core this table belongs to (ABI 1.8; nil on an older core or outside a running server). When set, the
    /// calls below that have no context handle (logging, events, timers, SIP requests; on a 1.9 core also
    /// miDispatch, statRegister, routeFind) go through the rt_* forms with it: they reach this plugin's own core,
    /// never a process-wide lookup.
    public let runtime: OpaquePointer?

    /// The ABI version the core was built with.
    public var abiVersion: (major: UInt32, minor: UInt32) {
        (raw.pointee.header.abi_major, raw.pointee.header.abi_minor)
    }

    /// True when the core's table is long enough to contain `field` and sets it: the check to make before using a host
    /// function newer than the oldest core the plugin supports, e.g. `host.provides(\.log_enabled)`.
    public func provides<F>(_ field: KeyPath<sy_host_api, F?>) -> Bool {
        guard let offset = MemoryLayout<sy_host_api>.offset(of: field) else { return false }
        guard offset + MemoryLayout<F?>.size <= Int(raw.pointee.header.struct_size) else { return false }
        return raw.pointee[keyPath: field] != nil
    }

    // MARK: Logging (any thread)

    /// True if a message at `level` would be written (always true on a core older than ABI 1.1).
    public func logEnabled(_ level: LogLevel) -> Bool {
        if let runtime, let f = raw.pointee.rt_log_enabled { return f(runtime, level.rawValue) != 0 }
        guard provides(\.log_enabled), let f = raw.pointee.log_enabled else { return true }
        return f(level.rawValue) != 0
    }

    /// Logs one line (no trailing newline). The message is built only if the level is enabled.
    public func log(_ level: LogLevel, _ message: @autoclosure () -> String) {
        guard logEnabled(level) else { return }
        var text = message()
        text.withUTF8 { bytes in
            module.withCString { mod in
                let msg = UnsafeRawPointer(bytes.baseAddress)?.assumingMemoryBound(to: CChar.self)
                if let runtime, let f = raw.pointee.rt_log {
                    f(runtime, level.rawValue, mod, msg, bytes.count)
                } else {
                    raw.pointee.log?(level.rawValue, mod, msg, bytes.count)
                }
            }
        }
    }

    // MARK: Variables

    /// Resolves a variable spec such as `"$var(x)"` once (startup).
    public func varParse(_ spec: String) throws(PluginError) -> SYVar {
        guard let f = raw.pointee.var_parse else { throw PluginError("the core offers no var_parse") }
        var err = [CChar](repeating: 0, count: 256)
        var copy = spec
        let v: OpaquePointer? = copy.withUTF8 { bytes in
            err.withUnsafeMutableBufferPointer { e in
                f(UnsafeRawPointer(bytes.baseAddress)?.assumingMemoryBound(to: CChar.self), bytes.count,
                  e.baseAddress, e.count)
            }
        }
        guard let v else { throw PluginError(readError(err)) }
        return SYVar(v)
    }

    /// Reads a variable on the calling context; nil on error. (The context's thread.)
    public func varGet(_ ctx: SYContext, _ variable: SYVar) -> SYValue? {
        guard let f = raw.pointee.var_get else { return nil }
        var out = sy_value()
        guard f(ctx.raw, variable.raw, &out) >= 0 else { return nil }
        return SYValue(out)
    }

    /// A variable's value as text: a string as it is, an integer in decimal; nil when NULL, unset or on error.
    /// (The context's thread.)
    public func varString(_ ctx: SYContext, _ variable: SYVar) -> String? {
        switch varGet(ctx, variable) {
        case .some(.string(let s)): return s
        case .some(.int(let i)): return String(i)
        default: return nil
        }
    }

    /// Assigns a variable (operator `=`; `.null` assigns NULL). The core copies the value. Returns false if the
    /// variable is not writable or refuses the type. (The context's thread.)
    @discardableResult
    public func varSet(_ ctx: SYContext, _ variable: SYVar, _ value: SYValue) -> Bool {
        guard let f = raw.pointee.var_set else { return false }
        return value.withCValue { f(ctx.raw, variable.raw, $0) } >= 0
    }

    // MARK: Events (any thread)

    /// Result of `raiseEvent`.
    public enum EventResult: Sendable, Equatable {
        /// Queued for `event_route[name]`.
        case queued
        /// Nobody listens.
        case noListener
        /// The queue was full (the drop is counted by the core) or the call failed.
        case dropped(Int32)
    }

    /// Queues an event for `event_route[name]`; parameters are read there as `$param(name)`. Never blocks.
    @discardableResult
    public func raiseEvent(_ name: String, _ params: [(String, SYValue)] = []) -> EventResult {
        // All parameter bytes go into one buffer so that a single borrow covers every sy_str.
        var bytes: [UInt8] = []
        var spans: [(name: Range<Int>, value: Range<Int>?)] = []
        for (n, v) in params {
            let ns = bytes.count
            bytes.append(contentsOf: n.utf8)
            let nameRange = ns..<bytes.count
            if case .string(let s) = v {
                let vs = bytes.count
                bytes.append(contentsOf: s.utf8)
                spans.append((nameRange, vs..<bytes.count))
            } else {
                spans.append((nameRange, nil))
            }
        }
        let rc: Int32 = bytes.withUnsafeBufferPointer { buf in
            let base = UnsafeRawPointer(buf.baseAddress)?.assumingMemoryBound(to: CChar.self)
            func str(_ r: Range<Int>) -> sy_str { sy_str(s: base.map { $0 + r.lowerBound }, len: r.count) }
            var cparams: [sy_event_param] = []
            cparams.reserveCapacity(params.count)
            for (i, (_, v)) in params.enumerated() {
                var p = sy_event_param()
                p.name = str(spans[i].name)
                switch v {
                case .null: p.value.type = Int32(SY_VAL_NULL.rawValue)
                case .int(let n): p.value.type = Int32(SY_VAL_INT.rawValue); p.value.i = n
                case .string: p.value.type = Int32(SY_VAL_STR.rawValue); p.value.s = str(spans[i].value!)
                }
                cparams.append(p)
            }
            return cparams.withUnsafeBufferPointer { raiseEvent(name, params: $0, waitMS: nil) }
        }
        switch rc {
        case 0: return .queued
        case 1: return .noListener
        default: return .dropped(rc)
        }
    }

    /// Raises an event from C parameters the caller built (the fast path of an I/O thread: no copy here). With
    /// `waitMS` (0 = no limit) it waits for room in a full queue instead of dropping (event_raise_wait: never from a
    /// script worker; a core older than ABI 1.3 drops instead). Returns the core's code: 0 queued, 1 nobody listens,
    /// <0 dropped, timed out or not offered.
    public func raiseEvent(_ name: String, params: UnsafeBufferPointer<sy_event_param>, waitMS: UInt32?) -> Int32 {
        let n = UInt32(params.count)
        return name.withCString { cname in
            if let waitMS {
                if let runtime, let f = raw.pointee.rt_event_raise_wait { return f(runtime, cname, params.baseAddress, n, waitMS) }
                if provides(\.event_raise_wait), let f = raw.pointee.event_raise_wait { return f(cname, params.baseAddress, n, waitMS) }
            }
            if let runtime, let f = raw.pointee.rt_event_raise { return f(runtime, cname, params.baseAddress, n) }
            return raw.pointee.event_raise?(cname, params.baseAddress, n) ?? -1
        }
    }

    /// True when the core can run an event on the raising thread (ABI 1.10, raiseEventHere).
    public var providesRaiseHere: Bool { runtime != nil && provides(\.rt_event_raise_here) }

    /// rt_event_raise_here (ABI 1.10): as raiseEvent(waitMS:), but the event_route runs on this thread, before
    /// this returns (2), when every script worker sleeps with nothing queued; `moreBehind`: this thread holds
    /// further events to raise (then it is queued). Not from a script worker. On an older core: raiseEvent(waitMS:).
    public func raiseEventHere(_ name: String, params: UnsafeBufferPointer<sy_event_param>, waitMS: UInt32,
                               moreBehind: Bool) -> Int32 {
        guard let runtime, provides(\.rt_event_raise_here), let f = raw.pointee.rt_event_raise_here else {
            return raiseEvent(name, params: params, waitMS: waitMS)
        }
        return name.withCString { f(runtime, $0, params.baseAddress, UInt32(params.count), waitMS, moreBehind ? SY_EVENT_MORE_BEHIND : 0) }
    }

    // MARK: Timers

    /// Runs `callback` on the core's timer thread every `intervalMs` (keep it short). The callback is retained for the
    /// life of the process (a timer removed with `timerRemove` leaks its small box: the core gives no "callback
    /// finished" signal after which freeing would be safe).
    public func timerAdd(_ name: String, intervalMs: UInt32, _ callback: @escaping @Sendable () -> Void) -> SYTimer? {
        let box = Unmanaged.passRetained(TimerBox(callback)).toOpaque()
        let fire: @convention(c) (UnsafeMutableRawPointer?) -> Void = { user in
            Unmanaged<TimerBox>.fromOpaque(user!).takeUnretainedValue().callback()
        }
        let t = name.withCString { cname -> OpaquePointer? in
            if let runtime, let f = raw.pointee.rt_timer_add { return f(runtime, cname, intervalMs, fire, box) }
            return raw.pointee.timer_add?(cname, intervalMs, fire, box)
        }
        guard let t else {
            Unmanaged<TimerBox>.fromOpaque(box).release()
            return nil
        }
        return SYTimer(t)
    }

    /// Stops a timer (once per timer: the core frees its handle). The handle names the core that added the timer.
    public func timerRemove(_ timer: SYTimer) {
        raw.pointee.timer_remove?(timer.raw)
    }

    // MARK: Statistics (any thread)

    /// Registers (or finds) the counter `<group>:<name>`; `group` defaults to the module name. Returns nil when the
    /// core refuses it (an empty name or group, one containing ':', or a name taken by a function statistic).
    /// A counter found again keeps the flags it was first registered with.
    public func statRegister(_ name: String, group: String? = nil, flags: StatFlags = []) -> SYStat? {
        let s = (group ?? module).withCString { g in
            name.withCString { n -> OpaquePointer? in
                if let runtime, provides(\.rt_stat_register), let f = raw.pointee.rt_stat_register { return f(runtime, g, n, flags.rawValue) }
                return raw.pointee.stat_register?(g, n, flags.rawValue)
            }
        }
        return s.map(SYStat.init)
    }

    /// Adds `delta` to a counter.
    public func statUpdate(_ stat: SYStat, _ delta: Int64 = 1) {
        raw.pointee.stat_update?(stat.raw, delta)
    }

    /// Reads a counter.
    public func statGet(_ stat: SYStat) -> Int64 {
        raw.pointee.stat_get?(stat.raw) ?? 0
    }

    // MARK: Cross-module APIs (startup)

    /// Publishes `table` (static storage, forever; it must start with a `sy_table_header`) under `name`.
    @discardableResult
    public func apiPublish(_ name: String, _ table: UnsafeRawPointer) -> Bool {
        guard let f = raw.pointee.api_publish else { return false }
        return name.withCString { f($0, table) } == 0
    }

    /// Binds the API table published as `name`, checking its major and that it is at least `minSize` bytes.
    public func apiBind(_ name: String, major: UInt32, minSize: UInt32) throws(PluginError) -> UnsafeRawPointer {
        guard let f = raw.pointee.api_bind else { throw PluginError("the core offers no api_bind") }
        var err = [CChar](repeating: 0, count: 256)
        let t = err.withUnsafeMutableBufferPointer { e in
            name.withCString { f($0, major, minSize, e.baseAddress, e.count) }
        }
        guard let t else { throw PluginError(readError(err)) }
        return t
    }

    /// Binds an API table whose C type is `T` (its full size is required).
    public func apiBind<T>(_ name: String, major: UInt32, as type: T.Type) throws(PluginError) -> UnsafePointer<T> {
        try apiBind(name, major: major, minSize: UInt32(MemoryLayout<T>.stride)).assumingMemoryBound(to: T.self)
    }

    /// Finds the DB driver API for `url`'s scheme (the table published as `db:<scheme>`).
    public func dbBind(_ url: String, major: UInt32, minSize: UInt32) throws(PluginError) -> UnsafeRawPointer {
        guard let f = raw.pointee.db_bind else { throw PluginError("the core offers no db_bind") }
        var err = [CChar](repeating: 0, count: 256)
        let t = err.withUnsafeMutableBufferPointer { e in
            url.withCString { f($0, major, minSize, e.baseAddress, e.count) }
        }
        guard let t else { throw PluginError(readError(err)) }
        return t
    }

    // MARK: Routes (ABI 1.3, 1.7, 1.9)

    /// A script route by kind (`.request` for route[name], `.failure`, `.onReply`, `.branch`) and name, nil when the
    /// script has none (or the core offers no lookup for that kind). Through this plugin's own core on a 1.9 core.
    /// Resolve once (startup, a data reload, or per call where the name is only known then), run with route_run.
    public func routeFind(_ kind: RouteMask, _ name: String) -> OpaquePointer? {
        name.withCString { n -> OpaquePointer? in
            if let runtime, provides(\.rt_route_find_kind), let f = raw.pointee.rt_route_find_kind {
                return f(runtime, kind.rawValue, n)
            }
            if provides(\.route_find_kind), let f = raw.pointee.route_find_kind { return f(kind.rawValue, n) }
            guard kind == .request, provides(\.route_find), let f = raw.pointee.route_find else { return nil }
            return f(n)
        }
    }

    // MARK: Context (ABI 1.1)

    /// The route kind a context is running, or nil on a core older than ABI 1.1. (The context's thread.)
    public func routeType(_ ctx: SYContext) -> RouteMask? {
        guard provides(\.ctx_route_type), let f = raw.pointee.ctx_route_type else { return nil }
        return RouteMask(rawValue: f(ctx.raw))
    }

    // MARK: Context (ABI 1.2)

    /// The worker a context runs on: 1...N for script workers (as `onChildInit`'s rank), negative for the timer
    /// thread — the key for per-worker state (OpenSIPS's per-process data). Nil on a core older than ABI 1.2.
    /// (The context's thread.)
    public func worker(_ ctx: SYContext) -> Int32? {
        guard provides(\.ctx_worker), let f = raw.pointee.ctx_worker else { return nil }
        return f(ctx.raw)
    }
}

extension PluginHost {
    // MARK: MI transports (ABI 1.3)

    /// True when the core offers `mi_dispatch` (ABI 1.3+): a transport module should refuse to start otherwise.
    public var providesMIDispatch: Bool { provides(\.mi_dispatch) }

    /// Runs one JSON-RPC 2.0 request text through the core's MI (any thread; commands may run concurrently) and
    /// returns the single-line response bytes, or nil when there is none: a notification, or a core older than
    /// ABI 1.3 (check `providesMIDispatch` at init).
    public func miDispatch(_ request: UnsafeRawBufferPointer) -> [UInt8]? {
        typealias Reply = @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int) -> Void
        let reply: Reply = { arg, json, len in
            guard let arg else { return }
            let slot = arg.assumingMemoryBound(to: [UInt8]?.self)
            slot.pointee = json.map { Array(UnsafeRawBufferPointer(start: $0, count: len)) } ?? []
        }
        let bytes = request.baseAddress?.assumingMemoryBound(to: CChar.self)
        var out: [UInt8]? = nil
        let rc: Int32 = withUnsafeMutablePointer(to: &out) { slot in
            // ABI 1.9: through this plugin's own core.
            if let runtime, provides(\.rt_mi_dispatch), let f = raw.pointee.rt_mi_dispatch {
                return f(runtime, bytes, request.count, reply, slot)
            }
            guard provides(\.mi_dispatch), let f = raw.pointee.mi_dispatch else { return 0 }
            return f(bytes, request.count, reply, slot)
        }
        return rc == 1 ? out : nil
    }

    /// `miDispatch` over any byte collection (copied into contiguous storage if needed).
    public func miDispatch(_ request: some Collection<UInt8>) -> [UInt8]? {
        if let r = request.withContiguousStorageIfAvailable({ miDispatch(UnsafeRawBufferPointer($0)) }) { return r }
        return Array(request).withUnsafeBytes { miDispatch($0) }
    }
}

final class TimerBox: Sendable {
    let callback: @Sendable () -> Void
    init(_ callback: @escaping @Sendable () -> Void) { self.callback = callback }
}
