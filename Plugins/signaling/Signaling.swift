// The OpenSIPS `signaling` module as a Switchyard plugin: send_reply(code, reason) answers statefully through tm when
// the request has a transaction (t_newtran, t_relay, a failure route), else statelessly through the core.
//
//   send_reply(code, reason)
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: "signaling") else { return nil }
    guard host.provides(\.sip_reply) else {
        host.log(.err, "this core has no SIP support (needs ABI 1.4)")
        return nil
    }
    return SignalingModule(host: host).build().pointer // allocated once, never freed
}

/// tm's API table, bound at init when tm is loaded: 1.1 (module_t_state) is enough to tell whether a request has a
/// transaction; replying on one needs 1.2's module_t_reply, used only when the table has it.
struct TMReplier: @unchecked Sendable {
    // The table is published by tm for the life of the process and never written after; only read here.
    let api: UnsafePointer<sy_tm_api>
    /// The table is 1.2 or later and carries module_t_reply.
    let canReply: Bool

    static func bind(_ host: PluginHost) throws -> TMReplier? {
        let size11 = MemoryLayout<sy_tm_api>.offset(of: \sy_tm_api.module_t_request)! + MemoryLayout<OpaquePointer>.size
        let size12 = MemoryLayout<sy_tm_api>.offset(of: \sy_tm_api.module_t_reply)! + MemoryLayout<OpaquePointer>.size
        guard let raw = try? host.apiBind(SY_TM_API_NAME, major: UInt32(SY_TM_MAJOR), minSize: UInt32(size11)) else {
            // Loaded but older than 1.1: no way to tell a transaction exists, so refuse rather than answer
            // statelessly what may have one.
            if (try? host.apiBind(SY_TM_API_NAME, major: UInt32(SY_TM_MAJOR), minSize: 0)) != nil {
                throw PluginError("the loaded tm has no module_t_state (tm API 1.1 needed)")
            }
            return nil
        }
        let api = raw.assumingMemoryBound(to: sy_tm_api.self)
        let h = api.pointee.header
        // Read module_t_reply only when the table is big enough to hold it.
        let canReply = h.abi_minor >= 2 && Int(h.struct_size) >= size12 && api.pointee.module_t_reply != nil
        return TMReplier(api: api, canReply: canReply)
    }

    /// True when the context's request has a transaction.
    func hasTransaction(_ ctx: SYContext) -> Bool {
        var s = sy_tm_state()
        return api.pointee.module_t_state?(api.pointee.module, ctx.raw, &s) == 0
    }

    func reply(_ ctx: SYContext, code: Int, reason: String) -> Int32 {
        var r = reason
        return r.withUTF8 { b in
            let s = sy_str(s: UnsafeRawPointer(b.baseAddress)?.assumingMemoryBound(to: CChar.self), len: b.count)
            return api.pointee.module_t_reply?(api.pointee.module, ctx.raw, Int32(code), s) ?? -1
        }
    }
}

final class SignalingModule: Sendable {
    let host: PluginHost
    /// Set once at init: tm's table, or nil when tm is not loaded.
    let tm = Mutex<TMReplier?>(nil)
    init(host: PluginHost) { self.host = host }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: "signaling", version: "1.0.0",
                                     description: "stateful or stateless replies")
        // Initialised after tm when both are loaded; fine without it.
        m.dependency(on: "tm", .soft)
        m.dependency(on: "sl", .soft)
        m.function("send_reply", params: [.int, .str], routes: [.request, .error, .failure],
                   fixup: SignalingModule.checkReply) { [self] call in
            sendReply(call.context, code: Int(call.int(0)), reason: call.string(1))
        }
        m.onInit { [self] in
            let bound = try TMReplier.bind(host)
            tm.withLock { $0 = bound }
            switch bound.map(\.canReply) {
            case true?: host.log(.info, "replies through tm when a transaction exists")
            case false?: host.log(.info, "tm API older than 1.2: stateless replies, none over a transaction")
            case nil: host.log(.info, "tm not loaded: stateless replies")
            }
        }
        return m.build()
    }

    /// A literal code must be 100..699 (checked at startup, as OpenSIPS's fixup). An empty reason is allowed: OpenSIPS
    /// refuses only a missing one.
    static let checkReply: FunctionFixupCheck = { args in
        if let code = args[0].constantInt, !(100...699).contains(code) {
            throw FixupError(argument: 0, "wrong code \(code), allowed values: 1xx - 6xx only")
        }
    }

    /// 1 sent, -1 not (bad code, nothing to answer, a transaction tm cannot reply on, not sent). An empty reason is
    /// sent as it is, as OpenSIPS does.
    func sendReply(_ ctx: SYContext, code: Int, reason: String) -> Int32 {
        guard (100...699).contains(code) else {
            host.log(.err, "send_reply: wrong code \(code), allowed values: 1xx - 6xx only")
            return -1
        }
        if let tm = tm.withLock({ $0 }), tm.hasTransaction(ctx) {
            // Never a stateless reply over a transaction: tm would not know of it.
            guard tm.canReply else {
                host.log(.err, "send_reply: the request has a transaction and the loaded tm cannot reply on it "
                    + "(module_t_reply needs tm API 1.2)")
                return -1
            }
            guard tm.reply(ctx, code: code, reason: reason) == 1 else {
                host.log(.err, "send_reply: failed to send the reply with tm")
                return -1
            }
            return 1
        }
        // Stateless, as sl's: an ACK is not answered but the call succeeds (the core adds a 3xx's destination set).
        if host.sipIsACK(ctx) { return 1 }
        switch host.sipReply(ctx, code: code, reason: reason) {
        case 1: return 1
        case -1:
            host.log(.dbg, "send_reply: no request to answer here")
            return -1
        default:
            host.log(.err, "send_reply: failed to send the stateless reply")
            return -1
        }
    }
}
