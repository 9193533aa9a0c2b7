import Foundation
import XCTest
import Synchronization
@testable import SwitchyardCore

/// One producer's ordered lane of events: order, the job rule, shutdown, and bounded storage.
final class EventLaneTests: XCTestCase {
    private let route = RouteBox(kind: .event, name: "E_TEST",
                                 location: SourceLocation(file: SourceFile(path: "test.cfg", text: ""), line: 1, column: 1))

    private func event(_ n: Int) -> ScriptEvent { ScriptEvent(name: "E_TEST", params: [(name: "n", value: .int(n))]) }

    private func number(_ e: (RouteBox, ScriptEvent)?) -> Int? {
        guard case .int(let n)? = e?.1.params.first?.value else { return nil }
        return n
    }

    func testEventsComeOutInOrderAndOnlyTheFirstAsksForAJob() {
        let lane = EventLane(capacity: 8)
        XCTAssertEqual(lane.append(route, event(1), deadline: nil, closed: { false }), .needsJob)
        XCTAssertEqual(lane.append(route, event(2), deadline: nil, closed: { false }), .joined)
        XCTAssertEqual(number(lane.next()), 1)
        XCTAssertEqual(lane.append(route, event(3), deadline: nil, closed: { false }), .joined, "the job still runs")
        XCTAssertEqual(number(lane.next()), 2)
        XCTAssertEqual(number(lane.next()), 3)
        XCTAssertNil(lane.next(), "empty: the job ends")
        XCTAssertEqual(lane.append(route, event(4), deadline: nil, closed: { false }), .needsJob, "a new job after it ended")
    }

    func testNothingJoinsAfterShutdownBegan() {
        let lane = EventLane(capacity: 8)
        XCTAssertEqual(lane.append(route, event(1), deadline: nil, closed: { false }), .needsJob)
        // The lane has its job and room, but the queue closed: the event is refused, so the job can end.
        XCTAssertEqual(lane.append(route, event(2), deadline: nil, closed: { true }), .closed)
        XCTAssertEqual(number(lane.next()), 1)
        XCTAssertNil(lane.next())
    }

    func testAFullLaneWaitsUntilItsDeadline() {
        let lane = EventLane(capacity: 2)
        _ = lane.append(route, event(1), deadline: nil, closed: { false })
        _ = lane.append(route, event(2), deadline: nil, closed: { false })
        XCTAssertEqual(lane.append(route, event(3), deadline: Date(), closed: { false }), .timedOut)
        XCTAssertEqual(lane.depth, 2)
    }

    /// Its producer gone, a lane is retired once, when it has no job: at once if idle, else after its last event.
    func testALaneIsRetiredOnceWhenItsProducerIsGoneAndItHasNoJob() {
        let retired = Mutex(0)
        let idle = EventLane(capacity: 8) { _ in retired.withLock { $0 += 1 } }
        idle.producerExited()
        XCTAssertEqual(retired.withLock { $0 }, 1, "no job: retired at once")

        retired.withLock { $0 = 0 }
        let busy = EventLane(capacity: 8) { _ in retired.withLock { $0 += 1 } }
        XCTAssertEqual(busy.append(route, event(1), deadline: nil, closed: { false }), .needsJob)
        XCTAssertEqual(busy.append(route, event(2), deadline: nil, closed: { false }), .joined)
        busy.producerExited()
        XCTAssertEqual(retired.withLock { $0 }, 0, "its job still runs")
        XCTAssertEqual(number(busy.next()), 1)
        XCTAssertEqual(number(busy.next()), 2)
        XCTAssertEqual(retired.withLock { $0 }, 0)
        XCTAssertNil(busy.next())
        XCTAssertEqual(retired.withLock { $0 }, 1, "retired by the worker after the last event")
    }

    /// The producer's exit racing the worker's last next(), over many lanes: each lane is retired exactly once
    /// (both sides decide under the lane's lock), and every event is taken.
    func testProducerExitRacingTheLastNextRetiresEachLaneOnce() {
        let n = 2000
        let retired = Mutex([Int](repeating: 0, count: n))
        let lanes = (0..<n).map { i in EventLane(capacity: 4) { _ in retired.withLock { $0[i] += 1 } } }
        for (i, lane) in lanes.enumerated() {
            XCTAssertEqual(lane.append(route, event(i), deadline: nil, closed: { false }), .needsJob)
        }
        let taken = Mutex([Int]())
        let start = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let worker = Thread {
            start.wait()
            for lane in lanes {
                while let e = lane.next() { if case .int(let v)? = e.1.params.first?.value { taken.withLock { $0.append(v) } } }
            }
            done.signal()
        }
        let producer = Thread {
            start.wait()
            for lane in lanes { lane.producerExited() }
            done.signal()
        }
        worker.start(); producer.start()
        start.signal(); start.signal()
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(taken.withLock { $0 }, Array(0..<n), "every event taken, in lane order")
        let counts = retired.withLock { $0 }
        XCTAssertEqual(counts.filter { $0 != 1 }.count, 0, "lanes not retired exactly once: \(counts.enumerated().filter { $0.1 != 1 }.prefix(5))")
    }

    /// Under steady backpressure the lane never runs empty; its array must not grow with every event that passed.
    func testStorageStaysBoundedWhenTheLaneNeverEmpties() {
        let capacity = 16
        let lane = EventLane(capacity: capacity)
        var sent = 0, taken = 0
        while sent < capacity { _ = lane.append(route, event(sent), deadline: nil, closed: { false }); sent += 1 }
        for _ in 0..<10_000 {
            XCTAssertEqual(number(lane.next()), taken)
            taken += 1
            XCTAssertNotEqual(lane.append(route, event(sent), deadline: nil, closed: { false }), .timedOut)
            sent += 1
            XCTAssertLessThanOrEqual(lane.storage, 2 * capacity)
        }
        XCTAssertEqual(lane.depth, capacity)
    }
}
