// local_route: the script sees (and may add or remove headers on) every request tm generates itself (t_uac of the API
// — dispatcher pings —, MI t_uac_dlg, t_new_request) before it is sent; then the local_request_route modparam's
// route[name] reads the request as sent (read-only). Both need a 1.10 core; an older one sends the request untouched.
import SwitchyardABI
import SwitchyardPluginKit

/// The routes run on a local request, found once at startup (nil: not in the script / the core cannot run them).
struct LocalRoutes: @unchecked Sendable {
    // Route handles are owned by the core and immutable until the server stops.
    var local: OpaquePointer?
    var request: OpaquePointer?

    init() {}

    /// The script's local_route and the route[name] of local_request_route (unknown name: a startup error).
    init(core: CoreLink, requestRouteName: String) throws(PluginError) {
        guard core.host.provides(\.sip_build_edited) else {
            if !requestRouteName.isEmpty { throw PluginError("local_request_route needs a core with ABI 1.10") }
            return
        }
        local = core.route(.local, "")
        if !requestRouteName.isEmpty {
            guard let r = core.route(.request, requestRouteName) else {
                throw PluginError("local_request_route: no route[\(requestRouteName)] in the script")
            }
            request = r
        }
    }
}

extension CoreLink {
    /// A context of `kind` on request bytes built here (ABI 1.10); nil on an older core or bytes that do not parse.
    func openRequest(_ bytes: [UInt8], kind: RouteMask, parent: SYContext?) -> SYContext? {
        guard host.provides(\.rt_sip_ctx_open_request), let f = api.rt_sip_ctx_open_request else { return nil }
        return bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { f(api.runtime, $0.baseAddress, $0.count, kind.rawValue, parent?.raw) }
        }.map { SYContext($0) }
    }

    /// The context's request with the script's header edits, Via untouched (ABI 1.10).
    func buildEdited(_ ctx: SYContext) -> [UInt8]? {
        var out = sy_str()
        return api.sip_build_edited!(ctx.raw, &out) == 0 ? CoreLink.copy(out) : nil
    }
}

extension TM {
    /// The bytes to send for a request built here: as local_route left them (OpenSIPS: a `drop` there ends the route
    /// but the request is still sent, with the edits made before it; $ru/$du changes are not applied). Then the
    /// local_request_route, whose edits are discarded. Runs without any bucket lock held (the script may itself
    /// generate requests). `parent`: the script context the request comes from (t_new_request), on this thread.
    func runLocalRoutes(_ bytes: [UInt8], parent: SYContext?) -> [UInt8] {
        var out = bytes
        // A request generated from local_route itself (t_new_request there) does not run it again: no endless loop.
        if let parent, core.api.ctx_route_type!(parent.raw) == RouteMask.local.rawValue { return out }
        if let route = localRoutes.local {
            guard let ctx = core.openRequest(bytes, kind: .local, parent: parent) else {
                host.log(.err, "local_route not run: the request built here does not parse (sent as is)")
                return out
            }
            core.run(ctx, route)
            _ = core.dropped(ctx)
            if let edited = core.buildEdited(ctx) { out = edited }
            core.close(ctx, saveTo: nil)
        }
        if let route = localRoutes.request, let ctx = core.openRequest(out, kind: .request, parent: parent) {
            core.run(ctx, route)
            core.close(ctx, saveTo: nil)
        }
        return out
    }
}
