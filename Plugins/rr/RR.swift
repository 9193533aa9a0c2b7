// The OpenSIPS `rr` module as a Switchyard plugin: Record-Route and loose routing.
//
//   modparam("rr", "append_fromtag", 1)   modparam("rr", "enable_double_rr", 1)   modparam("rr", "add_username", 0)
//   record_route([params])   record_route_preset(host[, host2])   add_rr_param(param)   loose_route()
//   check_route_param(re)   is_direction(dir)   $rr_params
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: "rr") else { return nil }
    guard host.provides(\.sip_header_add), host.hasContextValues else {
        host.log(.err, "this core lacks the SIP or per-context functions rr needs (ABI 1.14)")
        return nil
    }
    return RRModule(host: host).build().pointer // allocated once, never freed
}

/// Variables resolved at init.
struct RRVars: Sendable {
    let ri: SYVar, rp: SYVar, proto: SYVar, du: SYVar, viaHost: SYVar, viaPort: SYVar, toTag: SYVar
    let fromTag: SYVar, origUser: SYVar, ruriUser: SYVar, ruri: SYVar
}

/// The per-message state (record-routed already, parameters waiting for record_route, the parameters of our Route):
/// per-context values the core clears for each message and a failure route starts without, as OpenSIPS keeps them in
/// the processing context (context_register_int/str). The script cannot see or change them.
enum RRState {
    static let done = "rr.done", pending = "rr.pending", routeParams = "rr.route_params"
}

final class RRModule: Sendable {
    let host: PluginHost
    let vars = Mutex<RRVars?>(nil)
    /// modparams, as OpenSIPS's defaults.
    let appendFromTag = Atomic<Bool>(true)
    let doubleRR = Atomic<Bool>(true)
    let addUsername = Atomic<Bool>(false)
    init(host: PluginHost) { self.host = host }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: "rr", version: "1.0.0", description: "Record-Route and loose routing")
        m.param("append_fromtag", .int) { [self] v in appendFromTag.store((v.intValue ?? 0) != 0, ordering: .relaxed) }
        // One socket per transport here: a single Record-Route is always enough; the flag only gates the second
        // argument of record_route_preset, as in OpenSIPS.
        m.param("enable_double_rr", .int) { [self] v in doubleRR.store((v.intValue ?? 0) != 0, ordering: .relaxed) }
        m.param("add_username", .int) { [self] v in addUsername.store((v.intValue ?? 0) != 0, ordering: .relaxed) }
        m.param("enable_socket_mismatch_warning", .int) { _ in }  // no socket is chosen from a second Route here
        let build: RouteMask = [.request, .branch, .failure]
        m.function("record_route", params: [[.str, .optional]], routes: build) { [self] call in recordRoute(call) }
        m.function("record_route_preset", params: [.str, [.str, .optional]], routes: build) { [self] call in
            recordRoutePreset(call)
        }
        m.function("add_rr_param", params: [.str], routes: build) { [self] call in addRRParam(call) }
        m.function("loose_route", params: [], routes: [.request]) { [self] call in looseRoute(call) }
        m.function("check_route_param", params: [.str], routes: [.request], fixup: RRModule.checkRegex) { [self] call in
            checkRouteParam(call)
        }
        m.function("is_direction", params: [.str], routes: [.request], fixup: directionFixup) { [self] call in
            isDirection(call)
        }
        m.pseudoVariable("rr_params") { [self] ctx in routeParams(ctx).map { .string($0) } ?? .null }
        m.onInit { [self] in
            let v = RRVars(ri: try host.varParse("$Ri"), rp: try host.varParse("$Rp"), proto: try host.varParse("$proto"),
                           du: try host.varParse("$du"), viaHost: try host.varParse("$socket_in(via_host)"),
                           viaPort: try host.varParse("$socket_in(via_port)"), toTag: try host.varParse("$tt"),
                           fromTag: try host.varParse("$ft"), origUser: try host.varParse("$oU"),
                           ruriUser: try host.varParse("$rU"), ruri: try host.varParse("$ru"))
            vars.withLock { $0 = v }
        }
        return m.build()
    }

    /// The resolved variables (set at init, before any route runs).
    var v: RRVars? { vars.withLock { $0 } }


    /// The receiving socket: its IP and port, the host and port it advertises (Via/Record-Route), its transport.
    func local(_ ctx: SYContext) -> (ip: String, port: Int64, viaHost: String, viaPort: Int64, proto: String)? {
        guard let v, case .some(.string(let ip)) = host.varGet(ctx, v.ri),
              case .some(.int(let port)) = host.varGet(ctx, v.rp) else { return nil }
        var proto = "udp"
        if case .some(.string(let p)) = host.varGet(ctx, v.proto) { proto = p }
        var viaHost = ip, viaPort = port
        if case .some(.string(let h)) = host.varGet(ctx, v.viaHost) { viaHost = h }
        if case .some(.int(let p)) = host.varGet(ctx, v.viaPort) { viaPort = p }
        return (ip, port, viaHost, viaPort, proto)
    }
}
