import Foundation
import XCTest
import SwitchyardJSON
import SwitchyardMI
@testable import SwitchyardCore

/// A plugin's later MI answer being handed to a transport while the server stops: failAll no longer sees the call,
/// so the stop waits for the delivery (the transport is destroyed only after it); an answer coming after failAll
/// answered the call reaches no transport.
final class MIAsyncDeliveryTests: XCTestCase {
    func testStopWaitsForAnAnswerBeingDelivered() {
        let pending = MIPendingCalls()
        let inside = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let responder = MIResponder { _ in
            inside.signal()   // the transport's reply callback has started...
            release.wait()    // ...and is still running
        }
        pending.add(responder)
        let handle = MIAsyncToken(responder: responder, pending: pending).handle
        let bits = UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle)))
        Thread { MIAsyncToken.finish(OpaquePointer(bitPattern: bits)!, .result(.string("late"))) }.start()
        XCTAssertEqual(inside.wait(timeout: .now() + 10), .success)

        pending.failAll("server stopping")
        XCTAssertEqual(pending.inDelivery, 1)
        XCTAssertFalse(pending.waitDelivered(ms: 20), "the stop went on while the answer was being delivered")
        release.signal()
        XCTAssertTrue(pending.waitDelivered(ms: 10_000))
        XCTAssertEqual(pending.inDelivery, 0)
    }

    func testAnswerAfterFailAllReachesNoTransport() {
        let pending = MIPendingCalls()
        let answers = Answers()
        let responder = MIResponder { answers.add($0) }
        pending.add(responder)
        let handle = MIAsyncToken(responder: responder, pending: pending).handle
        pending.failAll("server stopping")
        MIAsyncToken.finish(handle, .result(.string("late")))
        XCTAssertEqual(answers.count, 1, "only failAll's answer")
        XCTAssertEqual(pending.inDelivery, 0)
        XCTAssertTrue(pending.waitDelivered(ms: 0))
    }

    final class Answers: @unchecked Sendable { // guarded by lock
        private let lock = NSLock()
        private var n = 0
        func add(_: MIResult) { lock.lock(); n += 1; lock.unlock() }
        var count: Int { lock.lock(); defer { lock.unlock() }; return n }
    }
}
