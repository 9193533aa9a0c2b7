// The OpenSIPS `sl` module as a Switchyard plugin: stateless replies. The core builds and sends the reply
// (host sip_reply: Via/From/To/Call-ID/CSeq copied, To tag added, sent to the top Via's received/rport address).
//
//   sl_send_reply(code, reason)   sl_reply_error()
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: "sl") else { return nil }
    guard host.provides(\.sip_reply) else {
        host.log(.err, "this core has no SIP support (needs ABI 1.4)")
        return nil
    }
    return SLModule(host: host).build().pointer // allocated once, never freed
}

/// The module's statistics, registered at init.
struct SLStats: Sendable {
    let byClass: [SYStat]   // 1xx..6xx
    let sent: SYStat
    let sentErr: SYStat
}

final class SLModule: Sendable {
    let host: PluginHost
    let stats = Mutex<SLStats?>(nil)
    /// modparam enable_stats (OpenSIPS default 1): 0 registers no statistics.
    let enableStats = Atomic<Bool>(true)
    init(host: PluginHost) { self.host = host }

    /// A literal code must be 100..699: a startup error at its place, as OpenSIPS's fixup.
    static let checkCode: FunctionFixupCheck = { args in
        if let code = args[0].constantInt, !(100...699).contains(code) {
            throw FixupError(argument: 0, "wrong code: \(code), allowed values: 1xx - 6xx only!")
        }
    }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: "sl", version: "1.0.0", description: "stateless replies")
        let routes: RouteMask = [.request, .error, .failure]
        m.param("enable_stats", .int) { [self] v in enableStats.store((v.intValue ?? 0) != 0, ordering: .relaxed) }
        m.function("sl_send_reply", params: [.int, .str], routes: routes, fixup: SLModule.checkCode) { [self] call in
            send(call, code: Int(call.int(0)), reason: call.string(1))
        }
        // OpenSIPS answers the error the last failed action left behind (err2reason_phrase); here there is none to
        // report, so its text for an unspecified error (E_UNSPEC, "-1"), with the module's signature.
        m.function("sl_reply_error", params: [], routes: routes) { [self] call in
            send(call, code: 500, reason: "I'm terribly sorry, server error occurred (1/SL)", isError: true)
        }
        m.onInit { [self] in
            guard enableStats.load(ordering: .relaxed) else { return }
            guard let s = host.statRegister("sent_replies"), let e = host.statRegister("sent_err_replies") else {
                throw PluginError("cannot register statistics")
            }
            var classes: [SYStat] = []
            for c in 1...6 {
                guard let st = host.statRegister("\(c)xx_replies") else { throw PluginError("cannot register statistics") }
                classes.append(st)
            }
            stats.withLock { $0 = SLStats(byClass: classes, sent: s, sentErr: e) }
        }
        return m.build()
    }

    /// Sends the reply. As OpenSIPS: an ACK is never answered but the call succeeds (1); a 3xx carries the destination
    /// set as its Contact (the core adds it); the statistics count what was sent, sent_err_replies only sl_reply_error's.
    func send(_ call: FunctionCall, code: Int, reason: String, isError: Bool = false) -> Int32 {
        guard (100...699).contains(code) else {
            host.log(.err, "sl_send_reply: invalid code \(code)")
            return -1
        }
        if host.sipIsACK(call.context) { return 1 }
        let rc = host.sipReply(call.context, code: code, reason: reason)
        if rc == 1, let s = stats.withLock({ $0 }) {
            host.statUpdate(s.sent)
            host.statUpdate(s.byClass[code / 100 - 1])
            if isError { host.statUpdate(s.sentErr) }
        }
        switch rc {
        case 1: return 1
        case -1:
            host.log(.dbg, "sl_send_reply: no request to answer here (not a SIP route)")
            return -1
        default:
            host.log(.err, "sl_send_reply: the reply could not be sent")
            return -1
        }
    }
}
