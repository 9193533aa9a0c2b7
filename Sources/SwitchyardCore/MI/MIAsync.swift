#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
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

    /// The plugin's answer: given (unless the call was answered already, by a stopping server), and the handle's
    /// retain released. While the transport's reply callback runs the answer is counted as being delivered, so a
    /// stopping server waits for it before the transport is destroyed.
    static func finish(_ p: OpaquePointer, _ result: MIResult) {
        let token = Unmanaged<MIAsyncToken>.fromOpaque(UnsafeRawPointer(p)).takeRetainedValue()
        guard token.pending.beginDelivery(token.responder) else { return }
        defer { token.pending.endDelivery() }
        token.responder.complete(result)
    }
}

/// The MI calls whose answer is still to come, so a stopping server answers them instead of letting their
/// clients (and the transports' threads) wait for a plugin that is going away; and the plugins' answers being handed
/// to a transport right now, so the stop waits for them before the transports are destroyed.
final class MIPendingCalls: @unchecked Sendable { // `calls` and `delivering` are guarded by `mutex`; `cond` signals
    // `delivering` reaching 0
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>
    private var calls: [ObjectIdentifier: MIResponder] = [:]
    private var delivering = 0

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    func add(_ r: MIResponder) { locked { calls[ObjectIdentifier(r)] = r } }

    func remove(_ r: MIResponder) { _ = locked { calls.removeValue(forKey: ObjectIdentifier(r)) } }

    var count: Int { locked { calls.count } }

    /// Answers being handed to a transport now.
    var inDelivery: Int { locked { delivering } }

    /// A plugin's answer is about to be given: false when the call is no longer pending (failAll answered it).
    /// Taking it out and counting it happen under one lock, so failAll either answers the call or sees it counted.
    func beginDelivery(_ r: MIResponder) -> Bool {
        locked {
            guard calls.removeValue(forKey: ObjectIdentifier(r)) != nil else { return false }
            delivering += 1
            return true
        }
    }

    func endDelivery() {
        locked {
            delivering -= 1
            if delivering == 0 { pthread_cond_broadcast(cond) }
        }
    }

    /// Answers every pending call with -32000 (the plugins' later answers are dropped).
    func failAll(_ why: String) {
        let all = locked { () -> [MIResponder] in defer { calls.removeAll() }; return Array(calls.values) }
        for r in all { r.complete(.error(code: -32000, message: "Server error", data: .string(why))) }
    }

    /// Waits until no answer is being delivered, at most `ms` milliseconds; true when none is.
    @discardableResult
    func waitDelivered(ms: Int) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let ns = Int(deadline.tv_nsec) + ms * 1_000_000
        deadline.tv_sec += ns / 1_000_000_000
        deadline.tv_nsec = ns % 1_000_000_000
        return locked {
            while delivering > 0 {
                if pthread_cond_timedwait(cond, mutex, &deadline) == ETIMEDOUT { return delivering == 0 }
            }
            return true
        }
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
