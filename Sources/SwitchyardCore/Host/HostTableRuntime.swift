import SwitchyardABI
import Synchronization

/// The runtime-handle entries of the host table (ABI 1.8 and 1.9), and what they share with the older
/// handle-less forms: the same work on the core the handle names instead of the published one.
extension HostTable {
    static func log(_ core: (any HostServices)?, _ level: Int32, _ module: UnsafePointer<CChar>?,
                    _ msg: UnsafePointer<CChar>?, _ len: Int) {
        guard let core, core.log.enabled(Int(level)) else { return }
        let text = msg.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: len), as: UTF8.self) } ?? ""
        core.log.write(Int(level), module: cString(module) ?? "plugin", text)
    }

    /// event_raise (wait nil), event_raise_wait (wait: the timeout in ms, 0 = no limit) and rt_event_raise_here
    /// (here: its flags).
    static func raise(_ core: (any HostServices)?, _ name: UnsafePointer<CChar>?, _ params: UnsafePointer<sy_event_param>?,
                      _ n: UInt32, wait: UInt32?, here: UInt32? = nil) -> Int32 {
        guard let core, let name else { return -1 }
        var list: [(name: String, value: Value)] = []
        var trees: [(index: Int, tree: ValueTree)] = []
        if let params {
            list.reserveCapacity(Int(n))
            for i in 0..<Int(n) {
                let v = params[i].value
                if v.type == Int32(SY_VAL_OBJECT.rawValue) || v.type == Int32(SY_VAL_ARRAY.rawValue) {
                    // 1.9: copied whole; the script gets its JSON text only if it reads it as a string.
                    guard let tree = ValueTree(copying: v) else { return -1 }
                    trees.append((index: i, tree: tree))
                }
                list.append((name: ABIReader.str(params[i].name), value: ABIReader.value(v)))
            }
        }
        if let here {
            return Int32(core.raiseEventHere(String(cString: name), list, trees: trees, timeoutMS: wait ?? 0,
                                             moreBehind: here & UInt32(SY_EVENT_MORE_BEHIND) != 0))
        }
        if let wait { return Int32(core.raiseEventWaiting(String(cString: name), list, trees: trees, timeoutMS: wait)) }
        return Int32(core.raiseEvent(String(cString: name), list, trees: trees))
    }

    static func addTimer(_ core: (any HostServices)?, _ name: UnsafePointer<CChar>?, _ interval: UInt32,
                         _ cb: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?, _ user: UnsafeMutableRawPointer?) -> OpaquePointer? {
        guard let core, let cb, interval > 0 else { return nil }
        let userBits = UInt(bitPattern: user)
        let id = core.addTimer(name: cString(name) ?? "plugin", intervalMS: interval) {
            cb(UnsafeMutableRawPointer(bitPattern: userBits))
        }
        return TimerHandle(core: core, id: id).retainedForPlugin()
    }

    static func statRegister(_ core: (any HostServices)?, _ module: UnsafePointer<CChar>?, _ name: UnsafePointer<CChar>?,
                             _ flags: UInt32) -> OpaquePointer? {
        guard let core, let module, let name else { return nil }
        guard let cell = core.statRegister(module: String(cString: module), name: String(cString: name), flags: flags) else { return nil }
        // The registry keeps the Stat alive for the life of the server.
        return OpaquePointer(Unmanaged.passUnretained(cell).toOpaque())
    }

    static func miDispatch(_ core: (any HostServices)?, _ request: UnsafePointer<CChar>?, _ len: Int,
                           _ reply: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int) -> Void)?,
                           _ arg: UnsafeMutableRawPointer?) -> Int32 {
        guard let core, let request, let reply else { return 0 }
        let bytes = Array(UnsafeRawBufferPointer(start: request, count: len))
        guard var answer = core.miDispatch(bytes) else { return 0 }
        answer.withUTF8 { buf in
            buf.withMemoryRebound(to: CChar.self) { reply(arg, $0.baseAddress, $0.count) }
        }
        return 1
    }

    static func findRoute(_ core: (any HostServices)?, _ kind: UInt32, _ name: UnsafePointer<CChar>?) -> OpaquePointer? {
        guard let engine = core?.engine, let name else { return nil }
        let n = String(cString: name)
        // During reload_routes, a fixup on the resolving thread sees the routes being resolved.
        let routes = engine.routeTable.forLookup
        let box: RouteBox?
        switch RouteKind(rawValue: kind) {
        case .failure?: box = routes.failure[n]
        case .onreply?: box = routes.onreply[n]
        case .branch?: box = routes.branch[n]
        case .request?: box = routes.named[n]
        case .local?: box = routes.local  // the one local_route; no name
        default: box = nil
        }
        // Routes live as long as the engine; the handle is the RouteBox itself.
        return box.map { OpaquePointer(Unmanaged.passUnretained($0).toOpaque()) }
    }

    static func installRuntime(_ h: inout sy_host_api) {
        h.rt_log = { rt, level, module, msg, len in HostTable.log(HostBridge.runtime(rt), level, module, msg, len) }

        h.rt_log_enabled = { rt, level in HostBridge.runtime(rt).map { $0.log.enabled(Int(level)) ? 1 : 0 } ?? 0 }

        h.rt_event_raise = { rt, name, params, n in HostTable.raise(HostBridge.runtime(rt), name, params, n, wait: nil) }

        h.rt_event_raise_wait = { rt, name, params, n, timeout in
            HostTable.raise(HostBridge.runtime(rt), name, params, n, wait: timeout)
        }

        h.rt_sip_request = { rt, method, ruri, dst, extra, socket, timeout, done, arg in
            HostTable.sipRequest(HostBridge.runtime(rt), method, ruri, dst, extra, socket, timeout, done, arg)
        }

        h.rt_timer_add = { rt, name, interval, cb, user in
            HostTable.addTimer(HostBridge.runtime(rt), name, interval, cb, user)
        }

        // 1.9
        h.rt_mi_dispatch = { rt, request, len, reply, arg in
            HostTable.miDispatch(HostBridge.runtime(rt), request, len, reply, arg)
        }

        h.rt_route_find_kind = { rt, kind, name in HostTable.findRoute(HostBridge.runtime(rt), kind, name) }

        h.rt_stat_register = { rt, module, name, flags in
            HostTable.statRegister(HostBridge.runtime(rt), module, name, flags)
        }

        // 1.10
        h.rt_event_raise_here = { rt, name, params, n, timeout, flags in
            HostTable.raise(HostBridge.runtime(rt), name, params, n, wait: timeout, here: flags)
        }
    }
}

/// What a sy_timer stands for: the timer's id in the core that added it, so timer_remove reaches that core (not the
/// process-wide one, which may be another server by then). The sy_timer itself is no pointer but a key into the
/// live handles (never reused): timer_remove takes the entry out, so a second remove (a 1.8 plugin removing in both
/// stop and destroy; the 1.8 header never said "once"), a remove after stop or an unknown value does nothing, and no
/// memory a stale handle names is ever freed or read. The core is held weakly: a handle removed after its core is
/// gone does nothing.
final class TimerHandle: Sendable {
    private weak let core: (any HostServices)?
    let id: Int

    init(core: any HostServices, id: Int) {
        self.core = core
        self.id = id
    }

    /// The handles not yet removed, by key. Process-wide because the C handle carries nothing a lookup could start
    /// from that is safe to read once removed; the table holds only (key, weak core, id) entries.
    private static let live = Mutex<(next: UInt, handles: [UInt: TimerHandle])>((1, [:]))

    /// Enters the handle; its key (odd, never 0 nor reused) is the sy_timer the plugin gets.
    func retainedForPlugin() -> OpaquePointer {
        let key = Self.live.withLock { t -> UInt in
            let k = t.next
            t.next += 2
            t.handles[k] = self
            return k
        }
        return OpaquePointer(bitPattern: key)!
    }

    /// Live handles (tests).
    static var liveCount: Int { live.withLock { $0.handles.count } }

    /// timer_remove: stops the timer in its core, once. NULL, unknown and already-removed handles are ignored.
    static func remove(_ t: OpaquePointer?) {
        guard let t else { return }
        let key = UInt(bitPattern: t)
        guard let handle = live.withLock({ $0.handles.removeValue(forKey: key) }) else { return }
        handle.core?.removeTimer(handle.id)
    }
}
