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
