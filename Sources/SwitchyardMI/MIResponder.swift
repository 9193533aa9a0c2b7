import Dispatch
import Synchronization

/// The answer of one MI call that a handler gives later (OpenSIPS's `MI_ASYNC_RPL_FLAG` commands: a request sent
/// out, a remote answer awaited). The handler keeps the responder, returns at once, and calls `complete` once from
/// any thread; the transport that asked gets the reply then, without a thread of its own waiting for it.
///
/// One-shot: the first `complete` wins, later ones are ignored and return false (a server stopping answers pending
/// calls itself, the handler's own answer may still come after).
public final class MIResponder: Sendable {
    private enum State {
        case waiting((@Sendable (MIResult) -> Void)?)
        case done(MIResult)
    }

    private let state: Mutex<State>

    /// `onComplete` runs once, on the thread that calls `complete`.
    public init(_ onComplete: (@Sendable (MIResult) -> Void)? = nil) {
        state = Mutex(.waiting(onComplete))
    }

    /// Gives the answer; false if one was given already.
    @discardableResult
    public func complete(_ result: MIResult) -> Bool {
        let action: ((@Sendable (MIResult) -> Void)?)? = state.withLock { s in
            guard case .waiting(let f) = s else { return nil }
            s = .done(result)
            return .some(f)
        }
        guard let action else { return false }
        action?(result)
        return true
    }

    /// True once answered.
    public var isComplete: Bool {
        state.withLock { if case .done = $0 { return true } else { return false } }
    }

    /// The answer, blocking the calling thread until it is given (the synchronous MI entry points).
    func wait() -> MIResult {
        let sem = DispatchSemaphore(value: 0)
        let ready: MIResult? = state.withLock { s in
            switch s {
            case .done(let r): return r
            case .waiting(let f):
                s = .waiting { r in
                    f?(r)
                    sem.signal()
                }
                return nil
            }
        }
        if let ready { return ready }
        sem.wait()
        return state.withLock { if case .done(let r) = $0 { return r } else { return .serverError } }
    }

    /// The answer, suspending the task until it is given.
    func value() async -> MIResult {
        await withCheckedContinuation { (k: CheckedContinuation<MIResult, Never>) in
            let ready: MIResult? = state.withLock { s in
                switch s {
                case .done(let r): return r
                case .waiting(let f):
                    s = .waiting { r in
                        f?(r)
                        k.resume(returning: r)
                    }
                    return nil
                }
            }
            if let ready { k.resume(returning: ready) }
        }
    }
}
