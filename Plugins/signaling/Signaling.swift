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

/// tm's API table (1.2: module_t_state, module_t_reply), bound at init when tm is loaded.
struct TMReplier: @unchecked Sendable {
    // The table is published by tm for the life of the process and never written after; only read here.
    let api: UnsafePointer<sy_tm_api>

    static func bind(_ host: PluginHost) throws -> TMReplier? {
        let minSize = UInt32(MemoryLayout<sy_tm_api>.offset(of: \sy_tm_api.module_t_reply)! + MemoryLayout<OpaquePointer>.size)
        guard let raw = try? host.apiBind(SY_TM_API_NAME, major: UInt32(SY_TM_MAJOR), minSize: minSize) else {
            // Loaded but too old: refuse rather than answer statelessly what has a transaction.
            if (try? host.apiBind(SY_TM_API_NAME, major: UInt32(SY_TM_MAJOR), minSize: 0)) != nil {
                throw PluginError("the loaded tm has no module_t_reply (tm API 1.2 needed)")
            }
            return nil
        }
        let api = raw.assumingMemoryBound(to: sy_tm_api.self)
        guard api.pointee.header.abi_minor >= 2, api.pointee.module_t_reply != nil else {
            throw PluginError("the loaded tm has no module_t_reply (tm API 1.2 needed)")
        }
        return TMReplier(api: api)
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
            host.log(.info, bound != nil ? "replies through tm when a transaction exists" : "tm not loaded: stateless replies")
        }
        return m.build()
    }

    /// A literal code must be 100..699 and a literal reason not empty (checked at startup, as OpenSIPS's fixup).
    static let checkReply: FunctionFixupCheck = { args in
        if let code = args[0].constantInt, !(100...699).contains(code) {
            throw FixupError(argument: 0, "wrong code \(code), allowed values: 1xx - 6xx only")
        }
        if args[1].constantString == "" { throw FixupError(argument: 1, "empty reason") }
    }

    /// 1 sent, -1 not (bad code, empty reason, nothing to answer, not sent).
    func sendReply(_ ctx: SYContext, code: Int, reason: String) -> Int32 {
        guard (100...699).contains(code) else {
            host.log(.err, "send_reply: wrong code \(code), allowed values: 1xx - 6xx only")
            return -1
        }
        guard !reason.isEmpty else {
            host.log(.err, "send_reply: empty reason")
            return -1
        }
        if let tm = tm.withLock({ $0 }), tm.hasTransaction(ctx) {
            guard tm.reply(ctx, code: code, reason: reason) == 1 else {
                host.log(.err, "send_reply: failed to send the reply with tm")
                return -1
            }
            return 1
        }
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
