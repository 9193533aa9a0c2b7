import SwitchyardABI
import SwitchyardMI
import Synchronization

/// The 1.9 entries: MI answers given later, and the transport entry that receives them through a callback.
extension HostTable {
    static func installMIAsync(_ h: inout sy_host_api) {
        h.mi_async_begin = { call in
            guard let call else { return nil }
            return MICallBox.from(call).promise()
        }

        h.mi_async_reply_json = { token, json, len in
            guard let token else { return }
            let text = json.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: len), as: UTF8.self) } ?? ""
            MIAsyncToken.finish(token, MICore.result(json: text))
        }

        h.mi_async_reply_error = { token, code, message, data in
            guard let token else { return }
            MIAsyncToken.finish(token, .error(code: Int(code), message: HostTable.cString(message) ?? "Error",
                                              data: HostTable.cString(data).map { .string($0) }))
        }

        h.rt_mi_dispatch_async = { rt, request, len, reply, arg in
            guard let server = HostBridge.runtime(rt), let request, let reply else { return -1 }
            let bytes = Array(UnsafeRawBufferPointer(start: request, count: len))
            // The transport's arg crosses threads as bits: it promised to keep it valid until reply is called.
            let argBits = UInt(bitPattern: arg)
            let state = DispatchState()
            server.mi.dispatcher.handle(bytes) { text in
                guard var text else {
                    state.finish(answered: false)
                    return
                }
                text.withUTF8 { buf in
                    buf.withMemoryRebound(to: CChar.self) { reply(UnsafeMutableRawPointer(bitPattern: argBits), $0.baseAddress, $0.count) }
                }
                state.finish(answered: true)
            }
            return state.returned()
        }
    }
}

/// What rt_mi_dispatch_async returns: 1 answered before returning, 0 a notification answered before returning
/// (nothing sent), 2 the answer comes later (a deferred command still waiting when the dispatcher returned).
private final class DispatchState: Sendable {
    private let state = Mutex<(returned: Bool, result: Int32?)>((false, nil))

    func finish(answered: Bool) {
        state.withLock { s in if !s.returned { s.result = answered ? 1 : 0 } }
    }

    func returned() -> Int32 {
        state.withLock { s in
            s.returned = true
            return s.result ?? 2
        }
    }
}
