import SwitchyardABI
import SwitchyardSIP

/// The 1.10 entries for requests a plugin builds itself (tm's t_uac, MI t_uac_dlg, t_new_request): a script context on
/// those bytes, so the local_route reads and edits them, and the edited bytes back, to be sent as they are.
extension HostTable {
    static func installLocalRoute(_ h: inout sy_host_api) {
        h.rt_sip_ctx_open_request = { rt, buf, len, kind, parent in
            guard let buf, len > 0, let k = RouteKind(rawValue: kind), let engine = HostBridge.runtime(rt)?.engine
            else { return nil }
            let bytes = Array(UnsafeRawBufferPointer(start: buf, count: len))
            guard let msg = try? SIPMessage.parse(bytes), msg.isRequest else { return nil }
            // Same thread as parent: share its per-worker variables; else a state of its own (an MI or timer thread).
            let worker = HostTable.context(parent)?.worker ?? engine.makeWorkerState(rank: -100)
            let ctx = engine.makeContext(worker: worker, routeType: k)
            ctx.message = ScriptMessage(sip: msg, origin: nil)
            return OpaquePointer(Unmanaged.passRetained(ctx).toOpaque())
        }

        h.sip_build_edited = { ctxp, out in
            guard let ctx = HostTable.context(ctxp), let out, let msg = ctx.message.sip, msg.isRequest else { return -1 }
            HostTable.keepBytes(ctx, MessageWriter.editedRequest(msg, edits: ctx.message.edits), out)
            return 0
        }
    }
}

extension MessageWriter {
    /// A request with the script's header edits applied and nothing else changed (its own Via stays the only one).
    static func editedRequest(_ msg: SIPMessage, edits: HeaderEdits) -> [UInt8] {
        ByteWriter.build(capacity: msg.bytes.count + 128) { out in
            msg.bytes.withUnsafeBufferPointer { b in
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[msg.methodRange.lowerBound..<msg.headersStart]))
            }
            appendHeaders(&out, msg, edits: edits, topVia: nil, topViaText: nil)
        }
    }
}
