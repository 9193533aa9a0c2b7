// Runs a body on several threads at once. DispatchQueue.concurrentPerform runs no more bodies at a time than the
// machine has cores, so on a 2-core box it never makes three calls overlap; these are real threads.
import Foundation

public enum OnThreads {
    /// Runs `body(i)` for i in 0..<count, each on a thread of its own, all started before any is waited for;
    /// returns when all have finished.
    public static func run(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let done = DispatchSemaphore(value: 0)
        for i in 0..<count {
            let t = Thread {
                body(i)
                done.signal()
            }
            t.start()
        }
        for _ in 0..<count { done.wait() }
    }
}
