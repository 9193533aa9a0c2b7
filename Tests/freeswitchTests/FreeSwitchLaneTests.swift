import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// A box's events keep their order on the workers (the reader's lane) also when the freeswitch module is older than
/// API 1.5 (no box_burst; the test hook SWITCHYARD_TEST_FS_API_1_4 publishes the table as 1.4): freeswitch_scripting
/// then queues every event in the reader's lane instead of the shared queue. The lane goes with the reader.
final class FreeSwitchLaneTests: XCTestCase {
    static let password = "Lane-ClueCon"

    func testWithAnAPI14ModuleABoxsEventsRunInStreamOrderThroughItsLane() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        // Four workers and a route that takes a while: from a shared queue, events of the box would overtake.
        let h = ServerHarness("""
            mpath = "\(BinaryRunner.buildDirectory.path)"
            max_while_loops = 100000
            loadmodule "json.so"
            loadmodule "freeswitch.so"
            loadmodule "freeswitch_scripting.so"
            modparam("freeswitch_scripting", "fs_subscribe", "fs://:\(Self.password)@127.0.0.1:\(sim.port)/?DTMF")
            event_route[E_FREESWITCH] {
                $json(e) := $param(body);
                $var(i) = 0;
                while ($var(i) < 200) { $var(i) = $var(i) + 1; }
                xlog("SEQ $json(e/Event-Sequence)");
            }
            """)
        setenv("SWITCHYARD_TEST_FS_API_1_4", "1", 1)
        let problems = h.prepare(workers: 4).map(\.description)
        unsetenv("SWITCHYARD_TEST_FS_API_1_4")
        XCTAssertEqual(problems, [])
        try h.start()
        var stopped = false
        defer { if !stopped { h.stop() } }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))

        let n = 2000
        let flood = try ControlLine(port: sim.controlPort, "flood \(n)")
        defer { flood.close() }
        func seqs() -> [Int] {
            h.messages.compactMap { m in m.range(of: "SEQ ").flatMap { Int(m[$0.upperBound...]) } }
        }
        XCTAssertTrue(waitUntil(timeout: 60) { seqs().count >= n }, "\(seqs().count) of \(n) ran")
        let got = seqs()
        XCTAssertEqual(got.count, n)
        let overtaken = zip(got, got.dropFirst()).filter { $0.0 >= $0.1 }
        XCTAssertEqual(overtaken.count, 0, "run out of stream order, first: \(overtaken.first.map { "\($0.1) after \($0.0)" } ?? "")")
        XCTAssertEqual(Set(got).count, n, "an event ran twice")
        XCTAssertEqual(h.server.bus?.ranInline.load(ordering: .relaxed), 0, "without box_burst nothing runs on the reader")
        XCTAssertEqual(h.server.bus?.laneCount, 1, "the reader's lane")
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)

        // Stopped, the module joins the box's reader: its lane goes with it.
        h.stop()
        stopped = true
        XCTAssertEqual(h.server.bus?.laneCount, 0, "the ended reader left its lane behind")
    }
    /// Before API 1.4 only the box's reader reads command replies, so a lane (which the reader may block on) is not
    /// used: the events go through the shared queue, drained by every worker.
    func testWithAnAPI13ModuleEventsGoThroughTheSharedQueueNotALane() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let h = ServerHarness("""
            mpath = "\(BinaryRunner.buildDirectory.path)"
            loadmodule "json.so"
            loadmodule "freeswitch.so"
            loadmodule "freeswitch_scripting.so"
            modparam("freeswitch_scripting", "fs_subscribe", "fs://:\(Self.password)@127.0.0.1:\(sim.port)/?DTMF")
            event_route[E_FREESWITCH] {
                $json(e) := $param(body);
                xlog("SEQ $json(e/Event-Sequence)");
            }
            """)
        setenv("SWITCHYARD_TEST_FS_API_1_3", "1", 1)
        let problems = h.prepare(workers: 2).map(\.description)
        unsetenv("SWITCHYARD_TEST_FS_API_1_3")
        XCTAssertEqual(problems, [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))

        let n = 200
        let flood = try ControlLine(port: sim.controlPort, "flood \(n)")
        defer { flood.close() }
        func seqs() -> [Int] {
            h.messages.compactMap { m in m.range(of: "SEQ ").flatMap { Int(m[$0.upperBound...]) } }
        }
        XCTAssertTrue(waitUntil(timeout: 60) { seqs().count >= n }, "\(seqs().count) of \(n) ran")
        XCTAssertEqual(Set(seqs()).count, n)
        XCTAssertEqual(h.server.bus?.laneCount, 0, "an API 1.3 box's events were queued in a lane")
        XCTAssertEqual(h.server.bus?.ranInline.load(ordering: .relaxed), 0)
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
    }
}
