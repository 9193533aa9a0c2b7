import SwitchyardABI
import SwitchyardSIP

/// The 1.15 entry for replies a plugin builds itself (tm's t_reply, 100 Trying, 200 canceling...): a script context on
/// those bytes, so tm's local_reply_route reads them before they are sent.
extension HostTable {
    static func installLocalReply(_ h: inout sy_host_api) {
        h.rt_sip_ctx_open_reply = { rt, buf, len, kind, parent in
            guard let buf, len > 0, let k = RouteKind(rawValue: kind), let engine = HostBridge.runtime(rt)?.engine
            else { return nil }
            let bytes = Array(UnsafeRawBufferPointer(start: buf, count: len))
            guard let msg = try? SIPMessage.parse(bytes), !msg.isRequest else { return nil }
            // Same thread as parent: share its per-worker variables; else a state of its own (an MI or timer thread).
            let worker = HostTable.context(parent)?.worker ?? engine.makeWorkerState(rank: -100)
            let ctx = engine.makeContext(worker: worker, routeType: k)
            ctx.message = ScriptMessage(sip: msg, origin: nil)
            return OpaquePointer(Unmanaged.passRetained(ctx).toOpaque())
        }
    }
}
