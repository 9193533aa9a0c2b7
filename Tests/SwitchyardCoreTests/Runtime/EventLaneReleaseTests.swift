import Foundation
import XCTest
import Synchronization
import SwitchyardTestSupport
@testable import SwitchyardCore

/// A producer's lane lives as long as the producer: a thread that ends leaves no lane behind once its events ran,
/// and the events it queued before it ended still run, in order. event_queue_size bounds each source on its own.
final class EventLaneReleaseTests: XCTestCase {
    private func harness(queueSize: Int? = nil) throws -> ServerHarness {
        let h = ServerHarness((queueSize.map { "event_queue_size = \($0)\n" } ?? "") + """
            event_route[E_LANE] { xlog("LANE $param(n)"); }
            """)
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        return h
    }

    /// Holds both workers in tasks until the returned semaphore is signalled twice (the tasks are taken: nothing of
    /// them stays queued). One task at a time: a worker takes several queued jobs at once, so two tasks queued together
    /// may both go to one worker, the second waiting behind the first.
    private func holdWorkers(_ h: ServerHarness) -> DispatchSemaphore {
        let release = DispatchSemaphore(value: 0), holding = DispatchSemaphore(value: 0)
        for _ in 0..<2 {
            XCTAssertEqual(h.server.queue?.offer(.task { _ in holding.signal(); release.wait() }), true)
            XCTAssertEqual(holding.wait(timeout: .now() + 5), .success)
        }
        return release
    }

    /// Raises E_LANE with n in `range` on the calling thread, queued in its lane; the return codes.
    private static func raise(_ bus: EventBus?, _ range: Range<Int>, timeout: TimeInterval? = nil) -> [Int] {
        range.map { bus?.raiseHere("E_LANE", [(name: "n", value: .int($0))], timeout: timeout, moreBehind: true) ?? -9 }
    }

    private func lanesRun(_ h: ServerHarness) -> [Int] {
        h.messages.compactMap { m in m.range(of: "LANE ").flatMap { Int(m[$0.upperBound...]) } }
    }

    /// The reader ends while its 50 events still wait (the workers are held): nothing is lost, they run in order once
    /// the workers are free, and then the lane is gone.
    func testALaneWhoseProducerEndedRunsItsEventsInOrderThenGoes() throws {
        let h = try harness()
        defer { h.stop() }
        let release = holdWorkers(h)
        let codes = Mutex<[Int]>([])
        let ended = DispatchSemaphore(value: 0)
        let bus = h.server.bus
        let reader = Thread { codes.withLock { $0 = Self.raise(bus, 0..<50) }; ended.signal() }
        reader.start()
        XCTAssertEqual(ended.wait(timeout: .now() + 5), .success)
        XCTAssertTrue(waitUntil(timeout: 5) { reader.isFinished })
        XCTAssertEqual(codes.withLock { $0 }, Array(repeating: 0, count: 50), "every event queued")
        XCTAssertEqual(h.server.bus?.laneCount, 1, "its events still wait: the lane stays")
        XCTAssertEqual(h.server.bus?.depth, 50, "event_queue_depth: the lane's events; its job in the worker queue is not one")
        XCTAssertEqual(lanesRun(h), [])

        release.signal(); release.signal()
        XCTAssertTrue(waitUntil(timeout: 10) { lanesRun(h).count == 50 }, "\(lanesRun(h).count) of 50 ran")
        XCTAssertEqual(lanesRun(h), Array(0..<50), "in the order raised")
        XCTAssertTrue(waitUntil(timeout: 5) { h.server.bus?.laneCount == 0 }, "the lane outlived its events")
        XCTAssertEqual(h.server.bus?.depth, 0)
    }

    /// The reader's events all ran while it lived (its lane stays for its next ones); when it ends, the lane goes.
    func testALaneGoesWhenItsIdleProducerEnds() throws {
        let h = try harness()
        defer { h.stop() }
        let exit = DispatchSemaphore(value: 0), raised = DispatchSemaphore(value: 0)
        let bus = h.server.bus
        let reader = Thread {
            XCTAssertEqual(Self.raise(bus, 0..<5), Array(repeating: 0, count: 5))
            raised.signal()
            exit.wait()
        }
        reader.start()
        XCTAssertEqual(raised.wait(timeout: .now() + 5), .success)
        XCTAssertTrue(waitUntil(timeout: 10) { lanesRun(h).count == 5 })
        XCTAssertEqual(lanesRun(h), Array(0..<5))
        XCTAssertEqual(h.server.bus?.laneCount, 1, "the reader lives: its lane stays")
        exit.signal()
        XCTAssertTrue(waitUntil(timeout: 5) { h.server.bus?.laneCount == 0 }, "the ended reader's lane stayed")
        XCTAssertTrue(reader.isFinished)
    }

    /// event_queue_size is per source: two readers each fill their own lane to it while the workers are held (neither
    /// waits behind the other), and events raised without a lane have a queue of that size of their own (the next
    /// is dropped). event_queue_depth counts them all.
    func testEventQueueSizeBoundsEachSourceOnItsOwn() throws {
        let size = 4
        let h = try harness(queueSize: size)
        defer { h.stop() }
        let release = holdWorkers(h)
        for reader in 0..<2 {
            let codes = Mutex<[Int]>([])
            let done = DispatchSemaphore(value: 0)
            let base = 100 * (reader + 1)
            let bus = h.server.bus
            let t = Thread {
                codes.withLock { $0 = Self.raise(bus, base..<(base + size)) + Self.raise(bus, (base + size)..<(base + size + 1), timeout: 0.05) }
                done.signal()
            }
            t.start()
            XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
            XCTAssertEqual(codes.withLock { $0 }, Array(repeating: 0, count: size) + [-1], "reader \(reader): its lane holds \(size), then it waits")
        }
        XCTAssertEqual((0..<size).map { h.server.raiseEvent("E_LANE", [(name: "n", value: .int(900 + $0))]) },
                       Array(repeating: 0, count: size))
        XCTAssertEqual(h.server.raiseEvent("E_LANE", [(name: "n", value: .int(999))]), -1, "the shared queue is full: dropped")
        XCTAssertEqual(h.server.bus?.depth, 3 * size)
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 1)

        release.signal(); release.signal()
        XCTAssertTrue(waitUntil(timeout: 10) { lanesRun(h).count == 3 * size }, "\(lanesRun(h).count) ran")
        XCTAssertEqual(lanesRun(h).filter { $0 >= 100 && $0 < 200 }, Array(100..<(100 + size)))
        XCTAssertEqual(lanesRun(h).filter { $0 >= 200 && $0 < 300 }, Array(200..<(200 + size)))
        XCTAssertTrue(waitUntil(timeout: 5) { h.server.bus?.depth == 0 && h.server.bus?.laneCount == 0 })
    }

    /// A reader never waits behind the shared queue: with it full (the workers held), a reader's events still go into
    /// its lane at once (the lane's job is pushed past the shared queue's bound), each raise with a 50 ms timeout.
    func testAReaderDoesNotWaitBehindAFullSharedQueue() throws {
        let size = 4
        let h = try harness(queueSize: size)
        defer { h.stop() }
        let release = holdWorkers(h)
        XCTAssertEqual((0..<size).map { h.server.raiseEvent("E_LANE", [(name: "n", value: .int(900 + $0))]) },
                       Array(repeating: 0, count: size))
        XCTAssertEqual(h.server.raiseEvent("E_LANE", [(name: "n", value: .int(999))]), -1, "the shared queue is full")
        let codes = Mutex<[Int]>([])
        let done = DispatchSemaphore(value: 0)
        let bus = h.server.bus
        let reader = Thread { codes.withLock { $0 = Self.raise(bus, 100..<(100 + size), timeout: 0.05) }; done.signal() }
        reader.start()
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        XCTAssertEqual(codes.withLock { $0 }, Array(repeating: 0, count: size), "queued in the lane, not timed out")
        XCTAssertEqual(h.server.bus?.depth, 2 * size)

        release.signal(); release.signal()
        XCTAssertTrue(waitUntil(timeout: 10) { lanesRun(h).count == 2 * size }, "\(lanesRun(h).count) ran")
        XCTAssertEqual(lanesRun(h).filter { $0 >= 100 && $0 < 200 }, Array(100..<(100 + size)))
        XCTAssertTrue(waitUntil(timeout: 5) { h.server.bus?.depth == 0 && h.server.bus?.laneCount == 0 })
    }
}

/// Events raised once the workers stopped taking them (the server stopping) are counted, not dropped: no "queue full"
/// line, no drop counted, one summary by event name for the line the server writes when it stops.
final class EventsRaisedWhileStoppingTests: XCTestCase {
    func testEventsRefusedAfterTheQueueClosedAreCountedForOneLine() throws {
        let h = ServerHarness("event_route[E_LANE] { xlog(\"LANE $param(n)\"); }\nevent_route[E_OTHER] { xlog(\"OTHER\"); }\n")
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        h.stop()
        let bus = try XCTUnwrap(h.server.bus)
        let codes = (0..<3).map { bus.raiseHere("E_LANE", [(name: "n", value: .int($0))], timeout: nil, moreBehind: false) }
            + [bus.raise("E_LANE", []), bus.raiseWaiting("E_OTHER", [], timeout: nil)]
        XCTAssertEqual(codes, [-1, -1, -1, -1, -1])
        XCTAssertEqual(bus.dropped.load(ordering: .relaxed), 0, "refused while stopping is not a full queue")
        XCTAssertFalse(h.messages.contains { $0.contains("event queue full") }, h.messages.joined(separator: "\n"))
        XCTAssertEqual(bus.stoppedSummary(), "5 events raised after the workers stopped taking events did not run (E_LANE: 4, E_OTHER: 1)")
        XCTAssertNil(bus.stoppedSummary(), "taken once")
    }
}

/// Jobs pushed outside the bound (a lane's) never wait, and keep their place among bounded ones as the ring grows.
final class JobQueuePushTests: XCTestCase {
    func testPushedJobsGoPastTheBoundInOrder() {
        let q = JobQueue<Int>(capacity: 2)
        XCTAssertTrue(q.offer(1))
        XCTAssertTrue(q.push(2))
        XCTAssertTrue(q.offer(3))
        XCTAssertFalse(q.offer(4), "two bounded jobs: full")
        for j in 5..<9 { XCTAssertTrue(q.push(j), "pushed past the bound") }
        XCTAssertEqual(q.depth, 7)
        XCTAssertEqual(q.boundedDepth, 2)
        var got: [Int] = []
        while got.count < 7, let j = q.take() { got.append(j) }
        XCTAssertEqual(got, [1, 2, 3, 5, 6, 7, 8])
        XCTAssertEqual(q.boundedDepth, 0)
        q.close()
        XCTAssertFalse(q.push(9), "closed")
    }
}
