import Foundation
import XCTest
import Synchronization
import SwitchyardTestSupport
@testable import SwitchyardCore

/// The bounded queue between event sources and script workers: a producer waiting in put() is woken at low water,
/// but never starves while other producers keep the queue above it.
final class JobQueueTests: XCTestCase {
    func testWaitingProducerGetsAFreedSlotAboveLowWater() {
        let q = JobQueue<Int>(capacity: 4)
        for i in 0..<4 { XCTAssertTrue(q.offer(i)) }
        let done = Atomic<Bool>(false)
        let t = Thread {
            XCTAssertTrue(q.put(99, timeout: nil))
            done.store(true, ordering: .releasing)
        }
        t.start()
        // A producer blocked in put() shows nothing from outside (its wait is private to the queue): it must still be
        // blocked a while after it started.
        XCTAssertTrue(holds(for: 0.02, poll: 0.002) { !done.load(ordering: .acquiring) }, "the queue is full")
        XCTAssertEqual(q.take(), 0) // 3 left: above low water (2), no wake-up signal
        waitUntil(timeout: 10, poll: 0.001) { done.load(ordering: .acquiring) }
        XCTAssertTrue(done.load(ordering: .acquiring), "the waiting producer took the freed slot")
        XCTAssertEqual((0..<4).compactMap { _ in q.take() }, [1, 2, 3, 99])
    }

    func testPutTimesOutOnAFullQueueAndOfferRefuses() {
        let q = JobQueue<Int>(capacity: 1)
        XCTAssertTrue(q.offer(1))
        XCTAssertFalse(q.offer(2))
        let start = Date()
        XCTAssertFalse(q.put(3, timeout: 0.05))
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.04)
        q.close()
        XCTAssertEqual(q.take(), 1)
        XCTAssertNil(q.take())
    }
}
