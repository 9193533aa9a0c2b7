// local_reply_route: the route[name] the modparam names runs on every reply tm generates itself and sends through
// OpenSIPS's _reply_light path (t_reply, t_reply_with_body, the 100 Trying, 200 canceling, the 487 and 47x of
// t_relay, MI t_reply, t_reply_by_callid), just before it is first sent, outside the bucket lock (PendingReply).
// Read-only: the reply goes out as built.
// OpenSIPS 3.6.8 resolves the name among the onreply routes and runs the request route of that index; here the
// name is a plain route[name] (what the documentation describes). Needs a 1.15 core (rt_sip_ctx_open_reply).
import SwitchyardABI
import SwitchyardPluginKit

/// The route found once at startup (nil: no modparam).
///
/// @unchecked Sendable: its one field is set once at startup, before any worker runs, and only read after; the
/// handle it holds points at core-owned route data that is immutable until the server stops.
struct LocalReplyRoute: @unchecked Sendable {
    var route: OpaquePointer?

    init() {}

    /// The route[name] of local_reply_route (a name the script lacks, or an older core, stops startup).
    init(core: CoreLink, name: String) throws(PluginError) {
        guard !name.isEmpty else { return }
        guard core.host.provides(\.rt_sip_ctx_open_reply) else {
            throw PluginError("local_reply_route needs a core with ABI 1.15")
        }
        guard let r = core.route(.request, name) else {
            throw PluginError("local_reply_route: no route[\(name)] in the script")
        }
        route = r
    }
}

extension CoreLink {
    /// A context of `kind` on reply bytes built here (ABI 1.15); nil on an older core or bytes that do not parse.
    func openReply(_ bytes: [UInt8], kind: RouteMask, parent: SYContext?) -> SYContext? {
        guard host.provides(\.rt_sip_ctx_open_reply), let f = api.rt_sip_ctx_open_reply else { return nil }
        return bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { f(api.runtime, $0.baseAddress, $0.count, kind.rawValue, parent?.raw) }
        }.map { SYContext($0) }
    }
}

/// A local reply held back while the bucket lock is held: its local_reply_route runs, and it is sent, after the
/// unlock (OpenSIPS's _reply_light runs the route after UNLOCK_REPLIES). The route may then block (a lookup) without
/// stalling the bucket, and may take another bucket (t_reply_by_callid) without a lock-order inversion.
struct PendingReply {
    let bytes: [UInt8]
    let target: sy_sip_target
    let parent: SYContext?
}

extension TM {
    /// Sends a local reply now when no local_reply_route is set, else leaves it in `pending` (lock held): the
    /// transaction's state is updated meanwhile, so a retransmitted request gets this reply at once.
    @inline(__always)
    func sendLocal(_ bytes: [UInt8], to target: sy_sip_target, parent: SYContext?, pending: inout PendingReply?) {
        if localReplyRoute.route == nil {
            core.send(target, bytes)
        } else {
            pending = PendingReply(bytes: bytes, target: target, parent: parent)
        }
    }

    /// Runs local_reply_route on a held-back reply and sends it (bucket lock released by this thread).
    @inline(__always)
    func deliver(_ pending: PendingReply?) {
        guard let p = pending else { return }
        runLocalReplyRoute(p.bytes, parent: p.parent)
        core.send(p.target, p.bytes)
    }

    /// Runs local_reply_route on a reply about to be sent. The context has no transaction (tm's variables are null
    /// there, its functions see no transaction) and nothing it changes is sent. `parent`: the script context on this
    /// thread, if any (its per-worker variables are shared).
    @inline(__always)
    func runLocalReplyRoute(_ bytes: [UInt8], parent: SYContext?) {
        guard let route = localReplyRoute.route else { return }
        guard let ctx = core.openReply(bytes, kind: .request, parent: parent) else {
            host.log(.err, "local_reply_route not run: the reply built here does not parse")
            return
        }
        core.run(ctx, route)
        core.close(ctx, saveTo: nil)
    }
}
