import Dispatch
import Synchronization

/// Runs a command's handler and folds thrown errors into an `MIResult`.
///
/// `MIError` becomes that error reply; any other error becomes -32000 "Server error" with the
/// error's text as data, so a failing handler never takes a transport thread down with it.
enum MIInvocation {
    static func run(_ command: MICommand, _ params: MIRequestParams) -> MIResult {
        switch command.body {
        case .sync(let handler):
            return fold { try handler(params) }
        case .async:
            return runBlocking(command, params)
        case .deferred(let handler):
            let responder = MIResponder()
            handler(params, responder)
            return responder.wait()
        }
    }

    /// The completion form: `done` runs exactly once, on this thread for a sync command or a deferred one that
    /// answered before returning, else on the thread that answers (the concurrency pool for an async command).
    static func run(_ command: MICommand, _ params: MIRequestParams, done: @escaping @Sendable (MIResult) -> Void) {
        switch command.body {
        case .sync(let handler):
            done(fold { try handler(params) })
        case .async:
            Task.detached { done(await run(command, params)) }
        case .deferred(let handler):
            handler(params, MIResponder(done))
        }
    }

    static func run(_ command: MICommand, _ params: MIRequestParams) async -> MIResult {
        switch command.body {
        case .sync(let handler):
            return fold { try handler(params) }
        case .async(let handler):
            do {
                return try await handler(params)
            } catch {
                return fold(error)
            }
        case .deferred(let handler):
            let responder = MIResponder()
            handler(params, responder)
            return await responder.value()
        }
    }

    private static func fold(_ body: () throws -> MIResult) -> MIResult {
        do {
            return try body()
        } catch {
            return fold(error)
        }
    }

    private static func fold(_ error: any Error) -> MIResult {
        if let error = error as? MIError { return .error(error) }
        return .error(.serverError(String(describing: error)))
    }

    /// A transport thread waiting for an async command: the task runs on the concurrency pool,
    /// the thread sleeps on a semaphore.
    private static func runBlocking(_ command: MICommand, _ params: MIRequestParams) -> MIResult {
        let handoff = Handoff()
        Task.detached {
            let result = await run(command, params)
            handoff.result.withLock { $0 = result }
            handoff.done.signal()
        }
        handoff.done.wait()
        return handoff.result.withLock { $0 } ?? .serverError
    }

    private final class Handoff: Sendable {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<MIResult?>(nil)
    }
}
