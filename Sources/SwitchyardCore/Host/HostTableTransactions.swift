import Foundation
import SwitchyardABI
import SwitchyardSIP

/// The transaction entries of the host table (ABI 1.7): what tm needs to be stateful on top of the stateless core.
extension HostTable {
    static func handle(_ ctx: ScriptContext) -> OpaquePointer {
        OpaquePointer(Unmanaged.passUnretained(ctx).toOpaque())
    }

    /// Calls body with the C view of the context's message fields, pointing into the message (valid during the call).
    static func withInfo<R>(_ ctx: ScriptContext, _ body: (UnsafePointer<sy_sip_info>) -> R) -> R {
        guard let msg = ctx.message.sip else {
            var none = sy_sip_info()
            return body(&none)
        }
        return msg.bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else {
                var none = sy_sip_info()
                return body(&none)
            }
            var info = memoInfo(ctx, msg, base: base)
            return body(&info)
        }
    }

    /// The C view of the context's message fields for sip_info, pointing into the message's bytes (borrowed, not
    /// copied). The pointers outlive this call: `msg.bytes` is a `let` array of the message object, so its storage
    /// never moves or changes, and the context keeps the message (and so the storage) until it is reset or loaded
    /// with another message, which no host call on the context does; sip_info documents the pointers as valid until
    /// the next host call on the context, which is shorter.
    static func info(_ ctx: ScriptContext) -> sy_sip_info {
        guard let msg = ctx.message.sip,
              let base = msg.bytes.withUnsafeBufferPointer({ $0.baseAddress }) else { return sy_sip_info() }
        return memoInfo(ctx, msg, base: base)
    }

    /// SIPCore.sipInfo of the context's message, computed once per message on a context (the request hook and
    /// t_relay ask for the same message). The memo holds the message, so the pointers into its bytes stay valid.
    static func memoInfo(_ ctx: ScriptContext, _ msg: SIPMessage, base: UnsafePointer<UInt8>) -> sy_sip_info {
        if ctx.sipInfoMemoMessage === msg { return ctx.sipInfoMemo }
        let info = SIPCore.sipInfo(msg, base: base)
        ctx.sipInfoMemoMessage = msg
        ctx.sipInfoMemo = info
        return info
    }

    /// Hands bytes to a plugin: kept in the context until the next host call on it.
    static func keepBytes(_ ctx: ScriptContext, _ bytes: [UInt8], _ out: UnsafeMutablePointer<sy_str>) {
        ctx.bytesKeeper.clear()
        ctx.bytesKeeper.append(bytes)
        out.pointee = ctx.bytesKeeper.str(0, bytes.count)
    }

    static func fill(_ t: UnsafeMutablePointer<sy_sip_target>, socket: SIPSocket, conn: UInt64, dst: SocketAddress) {
        var v = sy_sip_target()
        v.socket = OpaquePointer(Unmanaged.passUnretained(socket).toOpaque())
        v.conn = conn
        v.dst = dst.storage
        v.dst_len = socklen_t(dst.family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        v.reliable = socket.proto.isStream ? 1 : 0
        t.pointee = v
    }

    static func optText(_ s: sy_str) -> String? {
        let t = text(s)
        return t.isEmpty ? nil : t
    }

    static func installTransactions(_ h: inout sy_host_api) {
        h.sip_hooks_register = { hooks in
            guard let hooks, hooks.pointee.header.abi_major == UInt32(SY_ABI_MAJOR) else { return -2 }
            guard let engine = HostBridge.services?.engine else { return -3 }
            if engine.sipHooks != nil { return -1 }
            engine.sipHooks = ABIReader.copy(sy_sip_hooks.self, from: UnsafeRawPointer(hooks),
                                       available: Int(hooks.pointee.header.struct_size))
            return 0
        }

        h.sip_info = { ctxp, out in
            guard let ctx = HostTable.context(ctxp), let out, ctx.message.sip != nil else { return -2 }
            out.pointee = HostTable.info(ctx)
            return 0
        }

        h.sip_build_request = { ctxp, ruri, dst, branch, out, target in
            guard let ctx = HostTable.context(ctxp), let out, let target, let sip = ctx.engine.sip else { return -1 }
            switch sip.buildRequest(ctx, ruri: HostTable.optText(ruri), dest: HostTable.optText(dst),
                                    branch: HostTable.optText(branch), from: 0,
                                    keep: { out.pointee = ctx.bytesKeeper.keep(UnsafeRawBufferPointer($0)) }) {
            case .failed(let code): return code
            case .built(let socket, let addr, _, _):
                HostTable.fill(target, socket: socket, conn: 0, dst: addr)
                sip.counters.forwarded.add(1, ordering: .relaxed)
                return 0
            }
        }

        h.sip_build_reply = { ctxp, code, reason, toTag, extra, body, out, target in
            guard let ctx = HostTable.context(ctxp), let out, let target, let sip = ctx.engine.sip else { return -1 }
            if code == 0 {
                // Only where replies to this request go.
                guard let msg = ctx.message.sip, msg.isRequest, let origin = ctx.message.origin,
                      let top = (try? msg.vias())?.first else { return -1 }
                let (conn, dst) = sip.replyTarget(top, origin: origin, forceRport: ctx.message.via.forceRport)
                out.pointee = sy_str(s: nil, len: 0)
                HostTable.fill(target, socket: origin.socket, conn: conn, dst: dst)
                return 0
            }
            // No body at all (body.s NULL): a 3xx carries the destination set (tm's t_reply); a body, even empty, none
            // (t_reply_with_body), as OpenSIPS prints it in _reply only.
            let bodyBytes = UnsafeRawBufferPointer(start: body.s.map { UnsafeRawPointer($0) }, count: body.s == nil ? 0 : body.len)
            guard let (socket, conn, dst) = sip.buildReply(ctx, code: Int(code), reason: HostTable.text(reason),
                                                           toTag: HostTable.optText(toTag),
                                                           extraHeaders: HostTable.replyExtra(ctx, HostTable.text(extra),
                                                                                              code: body.s == nil ? Int(code) : 0),
                                                           body: bodyBytes,
                                                           keep: { out.pointee = ctx.bytesKeeper.keep(UnsafeRawBufferPointer($0)) })
            else { return -1 }
            HostTable.fill(target, socket: socket, conn: conn, dst: dst)
            return 0
        }

        h.sip_build_relayed = { ctxp, out in
            guard let ctx = HostTable.context(ctxp), let out, let msg = ctx.message.sip, !msg.isRequest,
                  let vias = try? msg.vias(), !vias.isEmpty else { return -1 }
            // Content-Length added for a stream hop, told by the second Via as OpenSIPS does (none: a datagram).
            let stream = vias.count > 1 && !vias[1].transportIs("UDP")
            // Unreachable without SIP: a context holding a SIP reply was made by the SIP core.
            guard let sip = ctx.engine.sip else { return -1 }
            // Built in the thread's output buffer and copied once into the context's: no array made and freed per
            // relayed reply (tm builds one for every reply it relays).
            sip.output.with { w in
                SIPCore.relayedReply(into: &w, msg, topVia: vias[0], edits: &ctx.message.edits, stream: stream)
                out.pointee = ctx.bytesKeeper.keep(UnsafeRawBufferPointer(w.bytes))
            }
            return 0
        }

        h.sip_send = { target, buf, len in
            guard let target, let buf, let sp = target.pointee.socket else { return -1 }
            let socket = Unmanaged<SIPSocket>.fromOpaque(UnsafeRawPointer(sp)).takeUnretainedValue()
            guard let send = socket.proto.export.send else { return -1 }
            var storage = target.pointee.dst
            return withUnsafePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    send(socket.listener, target.pointee.conn, sa, target.pointee.dst_len, buf, len, socket.proto.export.user) == 0 ? 0 : -1
                }
            }
        }

        h.sip_snapshot = { ctxp in
            guard let ctx = HostTable.context(ctxp), let msg = ctx.message.sip, msg.isRequest, let origin = ctx.message.origin
            else { return nil }
            // The worker goes on routing this message while the transaction (timer thread, other workers) reads it.
            msg.fillCaches()
            let snap = RequestSnapshot(message: msg, origin: origin, ctx: ctx)
            ctx.keptBy = snap
            return OpaquePointer(Unmanaged.passRetained(snap).toOpaque())
        }

        h.sip_snapshot_free = { sp in
            guard let sp else { return }
            Unmanaged<RequestSnapshot>.fromOpaque(UnsafeRawPointer(sp)).release()
        }

        h.sip_ctx_open = { sp, kind, parent in
            guard let sp, let k = RouteKind(rawValue: kind) else { return nil }
            let snap = Unmanaged<RequestSnapshot>.fromOpaque(UnsafeRawPointer(sp)).takeUnretainedValue()
            let engine = snap.engine
            let worker = HostTable.context(parent)?.worker ?? engine.makeWorkerState(rank: -100)
            let ctx = snap.open(kind: k, engine: engine, worker: worker)
            return OpaquePointer(Unmanaged.passRetained(ctx).toOpaque())
        }

        h.sip_ctx_close = { ctxp, saveTo in
            guard let ctxp else { return }
            let ctx = Unmanaged<ScriptContext>.fromOpaque(UnsafeRawPointer(ctxp)).takeRetainedValue()
            if let saveTo {
                Unmanaged<RequestSnapshot>.fromOpaque(UnsafeRawPointer(saveTo)).takeUnretainedValue().save(from: ctx)
            }
            ctx.releaseSlot()
        }

        h.route_find_kind = { kind, name in HostTable.findRoute(HostBridge.services, kind, name) }

        h.ctx_dropped = { ctxp in
            guard let ctx = HostTable.context(ctxp), ctx.dropped else { return 0 }
            ctx.dropped = false
            return 1
        }

        h.ctx_slot_set = { ctxp, ptr, release in
            guard let ctx = HostTable.context(ctxp) else { return -1 }
            ctx.releaseSlot()
            ctx.slot = ptr
            ctx.slotRelease = release
            return 0
        }

        h.ctx_slot_get = { ctxp in HostTable.context(ctxp)?.slot }

        h.sip_branch_get = { ctxp, index, uri, dst in
            guard let ctx = HostTable.context(ctxp), Int(index) < ctx.message.branches.count else { return -1 }
            let b = ctx.message.branches[Int(index)]
            // Both strings in one kept buffer.
            let k = ctx.bytesKeeper
            k.clear()
            let u = k.append(b.uri.utf8)
            let d = k.append((b.dst ?? "").utf8)
            uri?.pointee = k.str(u, d - u)
            dst?.pointee = k.str(d, k.count - d)
            return 0
        }

        h.sip_branches_clear = { ctxp in
            HostTable.context(ctxp)?.message.branches.removeAll()
        }
    }
}
