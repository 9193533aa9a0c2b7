import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// Stopping the server while a box streams events: the box's reader still hands events over after the workers
/// stopped taking them. None of that is a failure worth a warning per event; every event the core was handed here is
/// accounted for once: it ran, or it is counted in the one line the core writes when it stops (the workers end in
/// time here; lane events left by workers that do not are not counted, see the freeswitch_scripting README).
final class FreeSwitchShutdownTests: XCTestCase {
    static let password = "Stop-ClueCon"

    func testStoppingWhileEventsFlowLogsOneCountInsteadOfAWarningPerEvent() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let h = ServerHarness("""
            mpath = "\(BinaryRunner.buildDirectory.path)"
            event_queue_size = 16
            loadmodule "json.so"
            loadmodule "freeswitch.so"
            loadmodule "freeswitch_scripting.so"
            modparam("freeswitch_scripting", "fs_subscribe", "fs://:\(Self.password)@127.0.0.1:\(sim.port)/?DTMF")
            event_route[E_FREESWITCH] {
                xlog("RAN $param(name)");
            }
            """)
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        var stopped = false
        defer { if !stopped { h.stop() } }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))

        // Both workers held (one at a time: a worker takes several queued jobs at once), then a flood far longer than
        // the test: the box's lane fills and its reader waits for room in it when the stop begins, so it hands over
        // at least that event after the workers stopped taking events (the module unsubscribes only once that
        // callback returned).
        let release = DispatchSemaphore(value: 0), holding = DispatchSemaphore(value: 0)
        for _ in 0..<2 {
            XCTAssertEqual(h.server.queue?.offer(.task { _ in holding.signal(); release.wait() }), true)
            XCTAssertEqual(holding.wait(timeout: .now() + 5), .success)
        }
        let flood = try ControlLine(port: sim.controlPort, "flood 1000000")
        defer { flood.close() }
        func ran() -> Int { h.messages.filter { $0 == "RAN DTMF" }.count }
        XCTAssertTrue(waitUntil(timeout: 10) { h.server.bus?.laneDepth == 16 }, "the lane did not fill")
        let before = h.messages.count
        // The stop waits for the workers: another thread lets them go once the stop has closed the queue.
        let queue = try XCTUnwrap(h.server.queue)
        let closed = DispatchSemaphore(value: 0), letGo = DispatchSemaphore(value: 0)
        Thread {
            if waitUntil(timeout: 30, { queue.isClosed }) { closed.signal() }
            release.signal(); release.signal()
            letGo.signal()
        }.start()
        h.stop()
        stopped = true
        XCTAssertEqual(letGo.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(closed.wait(timeout: .now()), .success, "the workers were let go before the queue closed")

        let during = Array(h.messages[before...])
        let complaints = during.filter { $0.hasPrefix("WARNING:") || $0.hasPrefix("ERROR:") || $0.contains("not queued") }
        XCTAssertEqual(complaints, [], "the stop logged warnings")
        let summaries = during.filter { $0.contains("did not run") }
        XCTAssertLessThanOrEqual(summaries.count, 1, "one line at most for the events refused while stopping:\n"
                                 + during.suffix(20).joined(separator: "\n"))
        // Whether the simulator's stream outlasts the workers is a race with the stop: when events were refused,
        // the one line counts them; when none were, there is no line and every raised event ran.
        let notRun = summaries.first.flatMap { s in
            s.range(of: "stopping: ").flatMap { Int(s[$0.upperBound...].prefix { $0.isNumber }) }
        } ?? 0
        if let line = summaries.first {
            XCTAssertGreaterThan(notRun, 0, line)
            XCTAssertTrue(line.hasSuffix("(E_FREESWITCH: \(notRun))"), line)
        }
        // Each event handed to the core either ran (an event queued before the stop runs before the workers end)
        // or was counted as not run: none twice, none unaccounted.
        XCTAssertEqual(ran() + notRun, h.server.bus?.raised.load(ordering: .relaxed), "ran \(ran()), not run \(notRun)")
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
    }
}
