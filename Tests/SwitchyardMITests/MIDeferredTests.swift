import Dispatch
import Synchronization
import XCTest
@testable import SwitchyardMI

/// Commands that answer later (MICommand.Body.deferred): the completion entry returns before the answer and gets it
/// from the answering thread; the synchronous entry waits for it; a notification is done at once; the first answer
/// wins.
final class MIDeferredTests: XCTestCase {
    private final class Held: Sendable {
        let responders = Mutex<[MIResponder]>([])
        /// Signalled each time a "later" command starts (its responder is held).
        let started = DispatchSemaphore(value: 0)
    }

    private func dispatcher(_ held: Held) throws -> MIDispatcher {
        let registry = MIRegistry()
        try registry.register(MICommand(module: "test", name: "later", body: .deferred { _, r in
            held.responders.withLock { $0.append(r) }
            held.started.signal()
        }))
        try registry.register(MICommand(module: "test", name: "now", body: .deferred { _, r in r.complete(.ok) }))
        return MIDispatcher(registry: registry)
    }

    func testCompletionEntryDoesNotWaitForTheAnswer() throws {
        let held = Held()
        let d = try dispatcher(held)
        let got = Mutex<[String?]>([])
        d.handle(Array(#"{"jsonrpc":"2.0","method":"later","id":7}"#.utf8)) { t in got.withLock { $0.append(t) } }
        XCTAssertTrue(got.withLock { $0.isEmpty })
        // Another command meanwhile is answered at once, on this thread.
        d.handle(Array(#"{"jsonrpc":"2.0","method":"now","id":8}"#.utf8)) { t in got.withLock { $0.append(t) } }
        XCTAssertEqual(got.withLock { $0 }, [#"{"jsonrpc":"2.0","result":"OK","id":8}"#])

        let r = try XCTUnwrap(held.responders.withLock { $0.first })
        let done = expectation(description: "answered")
        DispatchQueue.global().async {
            XCTAssertTrue(r.complete(.result("late")))
            XCTAssertFalse(r.complete(.result("again")))
            done.fulfill()
        }
        wait(for: [done], timeout: 5)
        XCTAssertEqual(got.withLock { $0.last }, #"{"jsonrpc":"2.0","result":"late","id":7}"#)
        XCTAssertEqual(got.withLock { $0.count }, 2)
    }

    func testSynchronousEntryWaitsAndNotificationIsDoneAtOnce() throws {
        let held = Held()
        let d = try dispatcher(held)
        DispatchQueue.global().async {
            guard held.started.wait(timeout: .now() + 10) == .success else { return }  // the command has started
            held.responders.withLock { $0[0] }.complete(.error(code: 408, message: "Request Timeout"))
        }
        XCTAssertEqual(d.handle(#"{"jsonrpc":"2.0","method":"later","id":1}"#),
                       #"{"jsonrpc":"2.0","error":{"code":408,"message":"Request Timeout"},"id":1}"#)

        let got = Mutex<[String?]>([])
        d.handle(Array(#"{"jsonrpc":"2.0","method":"later"}"#.utf8)) { t in got.withLock { $0.append(t) } }
        XCTAssertEqual(got.withLock { $0 }, [nil])
        XCTAssertEqual(held.responders.withLock { $0.count }, 2)
    }
}
