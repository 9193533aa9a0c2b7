import SwitchyardABI
import SwitchyardSIP

/// The request state a branch route may change, kept apart so the next branch starts from the request as the
/// request route left it (ABI 1.8 sip_msg_save/restore).
final class SavedMessage {
    // Made, read and freed by the transaction layer on the context's thread (restore) or any thread (free): never
    // shared while in use.
    let message: ScriptMessage
    init(_ m: ScriptMessage) { message = m }
}

/// The 1.8 entries for tm's own requests and its branches (kept out of HostTable.swift on purpose).
extension HostTable {
    static func installUAC(_ h: inout sy_host_api) {
        h.sip_local_target = { rt, dst, socket, target, via, viaSize, viaLen in
            guard let target, let via else { return -2 }
            // The core named by the handle: with several cores in one process, each plugin uses its own sockets.
            guard let sip = HostBridge.runtime(rt)?.engine.sip else { return -6 }
            switch sip.localTarget(uri: HostTable.text(dst), socket: HostTable.text(socket)) {
            case .failure(let e): return e.code
            case .success(let (sock, addr)):
                var text = Array("SIP/2.0/\(sock.viaTransport) \(sock.viaHost):\(sock.viaPort)".utf8)
                guard text.count < viaSize else { return -7 }
                text.append(0)
                text.withUnsafeBytes { b in UnsafeMutableRawPointer(via).copyMemory(from: b.baseAddress!, byteCount: b.count) }
                viaLen?.pointee = text.count - 1
                HostTable.fill(target, socket: sock, conn: 0, dst: addr)
                return 0
            }
        }

        h.sip_msg_save = { ctxp in
            guard let ctx = HostTable.context(ctxp), let msg = ctx.message.sip, msg.isRequest else { return nil }
            return OpaquePointer(Unmanaged.passRetained(SavedMessage(ctx.message)).toOpaque())
        }

        h.sip_msg_restore = { ctxp, sp in
            guard let sp else { return -1 }
            guard let ctx = HostTable.context(ctxp), let msg = ctx.message.sip else { return -2 }
            let saved = Unmanaged<SavedMessage>.fromOpaque(UnsafeRawPointer(sp)).takeUnretainedValue().message
            guard saved.sip === msg else { return -2 }
            ctx.message = saved
            // The reply lines kept with the transaction's request stay as they are now (those added since the save
            // included): append_to_reply after t_relay, or in a failure route, still reaches tm's replies.
            if let kept = ctx.keptBy?.replyLines, kept != ctx.message.edits.replyLines { ctx.message.edits.replyLines = kept }
            return 0
        }

        h.sip_branch_attrs = { ctxp, index, q, path in
            guard let ctx = HostTable.context(ctxp) else { return -1 }
            // No Path is kept on a branch (no registrar sets one), and the request-URI branch has no q of its own.
            var value: Int? = nil
            if index >= 0 {
                guard Int(index) < ctx.message.branches.count else { return -1 }
                value = ctx.message.branches[Int(index)].q
            } else if index != -1 || ctx.message.requestURI == nil {
                return -1
            }
            q?.pointee = Int32(value ?? -1)
            path?.pointee = sy_str(s: nil, len: 0)
            return 0
        }

        h.sip_msg_state_free = { sp in
            guard let sp else { return }
            Unmanaged<SavedMessage>.fromOpaque(UnsafeRawPointer(sp)).release()
        }
    }
}

extension SIPCore {
    /// The socket and destination of a request made here (no received message): the URI's host, port and transport
    /// resolved as a relayed request's (SRV when it has no port), from `socket` when given. Errors are the ABI's (-2 bad URI, -3 not our socket, -4 unresolvable, -6 no socket).
    func localTarget(uri text: String, socket: String) -> Result<(SIPSocket, SocketAddress), BuildError> {
        guard let uri = SIPURI(text), !uri.host.isEmpty else { return .failure(.init(code: -2)) }
        let secure = uri.scheme.lowercased() == "sips"
        let transport = uri.param("transport")?.lowercased()
        let port = uri.port.isEmpty ? nil : Int(uri.port)
        if !uri.port.isEmpty { guard let p = port, (1...65535).contains(p) else { return .failure(.init(code: -2)) } }
        var forced: SIPSocket? = nil
        if !socket.isEmpty {
            guard let s = findSocket(socket) else { return .failure(.init(code: -3)) }
            forced = s
        }
        let bare = uri.host.hasPrefix("[") ? String(uri.host.dropFirst().dropLast()) : uri.host
        return localDestination(host: uri.param("maddr") ?? bare, port: port, transport: transport, secure: secure,
                                forced: forced)
    }
}
