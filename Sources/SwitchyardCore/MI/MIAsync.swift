import SwitchyardABI
import SwitchyardJSON
import SwitchyardMI
import Synchronization

/// An MI answer a plugin promised for later (ABI 1.9 `sy_mi_async`): the C handle is this object, retained from
/// `mi_async_begin` until the plugin answers on it.
final class MIAsyncToken: Sendable {
    let responder: MIResponder
    let pending: MIPendingCalls

    init(responder: MIResponder, pending: MIPendingCalls) {
        self.responder = responder
        self.pending = pending
    }

    var handle: OpaquePointer { OpaquePointer(Unmanaged.passRetained(self).toOpaque()) }

    /// The plugin's answer: given (unless the call was answered already), and the handle's retain released.
    static func finish(_ p: OpaquePointer, _ result: MIResult) {
        let token = Unmanaged<MIAsyncToken>.fromOpaque(UnsafeRawPointer(p)).takeRetainedValue()
        token.pending.remove(token.responder)
        token.responder.complete(result)
    }
}

/// The MI calls whose answer is still to come, so a stopping server answers them instead of letting their
/// clients (and the transports' threads) wait for a plugin that is going away.
final class MIPendingCalls: Sendable {
    private let calls = Mutex<[ObjectIdentifier: MIResponder]>([:])

    func add(_ r: MIResponder) { calls.withLock { $0[ObjectIdentifier(r)] = r } }

    func remove(_ r: MIResponder) { _ = calls.withLock { $0.removeValue(forKey: ObjectIdentifier(r)) } }

    var count: Int { calls.withLock { $0.count } }

    /// Answers every pending call with -32000 (the plugins' later answers are dropped).
    func failAll(_ why: String) {
        let all = calls.withLock { c -> [MIResponder] in defer { c.removeAll() }; return Array(c.values) }
        for r in all { r.complete(.error(code: -32000, message: "Server error", data: .string(why))) }
    }
}

extension MICore {
    /// A plugin's JSON answer as a result: -32000 when the text is not JSON.
    static func result(json text: String) -> MIResult {
        guard let value = try? JSONParser().parse(text) else {
            return .error(code: -32000, message: "Server error", data: .string("module reply is not valid JSON"))
        }
        return .result(value)
    }
}
