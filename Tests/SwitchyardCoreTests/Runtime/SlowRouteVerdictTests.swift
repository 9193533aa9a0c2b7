import Foundation
import XCTest
@testable import SwitchyardCore

/// Which runs make an event_route slow (queued, never run on a producer's thread): one wait of
/// InlineRunners.blockedNs, or two runs of InlineRunners.slowNs or more among its last four. One run that a busy
/// machine preempted is not (that sent every event to the workers for a second each time it happened); a route
/// whose long waits come and go (a database call on every other event) is.
final class SlowRouteVerdictTests: XCTestCase {
    private let ms: UInt64 = 1_000_000

    /// The verdicts after each run of `walls` (ms), from a route that has not run yet.
    private func verdicts(_ walls: [UInt64]) -> [Bool] {
        var h: UInt8 = 0
        return walls.map { w in
            let v = InlineRunners.verdict(history: h, wall: w * ms)
            h = v.history
            return v.slow
        }
    }

    func testOnePreemptedRunIsNotSlow() {
        XCTAssertEqual(verdicts([1, 30, 1, 1, 1, 30, 1]), [false, false, false, false, false, false, false])
        XCTAssertEqual(verdicts([30, 1, 1, 1, 30]), [false, false, false, false, false], "one long run in four")
    }

    func testLongRunsTwiceInARowAndOneLongWaitAreSlow() {
        XCTAssertEqual(verdicts([30, 12]), [false, true], "waits or works on every run")
        XCTAssertEqual(verdicts([1, 100]), [false, true], "one wait of blockedNs")
        XCTAssertEqual(verdicts([1, 99]), [false, false], "below blockedNs, once")
    }

    /// A 10-99 ms wait on every other run: slow from its second long run on, and as long as the alternation goes on.
    func testLongRunsAlternatingWithQuickOnesAreSlow() {
        XCTAssertEqual(verdicts([50, 1, 50, 1, 50, 1, 50]), [false, false, true, true, true, true, true])
        XCTAssertEqual(verdicts([50, 1, 1, 50]), [false, false, false, true], "two long runs among the last four")
    }

    /// Quick again after three quick runs in a row (the long ones left the window); one blocked run alone leaves at
    /// once, as the next quick run shows the wait is gone.
    func testASlowRouteIsQuickAgainAfterThreeQuickRuns() {
        XCTAssertEqual(verdicts([30, 30, 1, 1, 1]), [false, true, true, true, false])
        XCTAssertEqual(verdicts([1, 200, 1]), [false, true, false])
        XCTAssertEqual(verdicts([200, 200, 1, 1, 1]), [true, true, true, true, false])
    }

    /// The history keeps four runs: older long runs are forgotten whatever the bits above.
    func testTheHistoryKeepsFourRuns() {
        XCTAssertEqual(InlineRunners.verdict(history: 0xFF, wall: 0).history, 0b1110)
        XCTAssertEqual(InlineRunners.verdict(history: 0b1000, wall: 0).history, 0)
        XCTAssertEqual(InlineRunners.verdict(history: 0b0100, wall: 10 * ms).history, 0b1001)
        XCTAssertTrue(InlineRunners.verdict(history: 0b0100, wall: 10 * ms).slow)
        XCTAssertFalse(InlineRunners.verdict(history: 0b1000, wall: 10 * ms).slow, "the older long run has left")
    }
}
