import Foundation
import XCTest
@testable import SwitchyardCore

/// Which run makes an event_route slow (queued, never run on a producer's thread): its own CPU time, one long wait, or
/// a wait past InlineRunners.slowNs on two runs in a row. One run that a busy machine preempted (long in wall-clock
/// time, little CPU) is not: that sent every event to the workers for a second each time it happened.
final class SlowRouteVerdictTests: XCTestCase {
    private let ms: UInt64 = 1_000_000

    func testOnePreemptedRunIsNotSlowButHeavyWorkAndRepeatedOrLongWaitsAre() {
        XCTAssertFalse(InlineRunners.isSlow(wall: 30 * ms, cpu: 1 * ms, previousLong: false), "preempted once")
        XCTAssertTrue(InlineRunners.isSlow(wall: 30 * ms, cpu: 1 * ms, previousLong: true), "waits on every run")
        XCTAssertTrue(InlineRunners.isSlow(wall: 12 * ms, cpu: 11 * ms, previousLong: false), "heavy work")
        XCTAssertTrue(InlineRunners.isSlow(wall: InlineRunners.blockedNs, cpu: 0, previousLong: false), "one long wait")
        XCTAssertFalse(InlineRunners.isSlow(wall: 2 * ms, cpu: 1 * ms, previousLong: true), "quick again after a long run")
    }

    /// The CPU clock counts the thread's own work, not the time it is off the CPU (waiting, or preempted).
    func testTheThreadCPUClockCountsWorkNotWaiting() {
        let cpu0 = InlineRunners.threadCPUNs()
        _ = DispatchSemaphore(value: 0).wait(timeout: .now() + .milliseconds(30)) // off the CPU for 30 ms: the subject
        XCTAssertLessThan(InlineRunners.threadCPUNs() &- cpu0, InlineRunners.slowNs)
        let cpu1 = InlineRunners.threadCPUNs()
        var x: UInt64 = 0
        while InlineRunners.threadCPUNs() &- cpu1 < InlineRunners.slowNs { x &+= 1 } // ends on the clock itself
        XCTAssertGreaterThan(x, 0)
    }
}
