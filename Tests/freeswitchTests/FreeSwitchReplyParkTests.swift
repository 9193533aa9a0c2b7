import Foundation
import XCTest
import SwitchyardMI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// A worker waiting for its freeswitch_esl reply reads the socket itself (Plugins/freeswitch/ReplyPark.swift): the
/// reply wakes that worker only, the box's I/O thread sleeps on; events read on the way are still delivered by the
/// I/O thread, in stream order, none lost. A real esl-simulator on loopback, the server in-process.
final class FreeSwitchReplyParkTests: XCTestCase {
    static let password = "Park-ClueCon"

    private func config(_ port: Int, route: String) -> String {
        """
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "json.so"
        loadmodule "freeswitch.so"
        loadmodule "freeswitch_scripting.so"
        modparam("freeswitch_scripting", "fs_subscribe", "fs://:\(Self.password)@127.0.0.1:\(port)/?DTMF")
        event_route[E_FREESWITCH] {
            $json(e) := $param(body);
            xlog("DIGIT $json(e/DTMF-Digit)");
        }
        event_route[E_GO] {
        \(route)
        }
        """
    }

    /// A per-box statistic of the freeswitch module (refreshed every second), nil until it shows.
    private func boxStat(_ h: ServerHarness, _ name: String, port: Int) -> Int? {
        let reply = h.server.mi.dispatcher.response(
            toText: #"{"jsonrpc":"2.0","method":"get_statistics","params":{"statistics":["freeswitch:"]},"id":1}"#)
        return reply?["result"]?.objectValue?["freeswitch:\(name)@127.0.0.1_\(port)"]?.intValue.map { Int($0) }
    }

    /// 300 commands one after the other from one worker, no events: the waiting worker reads replies itself (the
    /// reply wakes it, not the I/O thread); every reply is read once, by it or by the I/O thread (which reads those
    /// that come back before the worker sleeps on the socket: how many depends on the machine's load, so only the
    /// split's sum and that the worker reads at all are asserted; the wake-ups saved are a benchmark's matter).
    func testTheWaitingWorkerReadsItsReplyAndTheIOThreadSleepsOn() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let n = 300
        let h = ServerHarness(config(sim.port, route: """
            $var(i) = 0; $var(ok) = 0;
            while ($var(i) < \(n)) {
                $var(out) = "";
                if (freeswitch_esl("api echo park$var(i)", "127.0.0.1:\(sim.port)", $var(out))) {
                    $var(ok) = $var(ok) + 1;
                }
                $var(i) = $var(i) + 1;
            }
            xlog("GODONE ok=$var(ok) last=$var(out)");
        """))
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))

        XCTAssertEqual(h.server.raiseEvent("E_GO", []), 0)
        XCTAssertTrue(h.waitFor("GODONE", timeout: 30), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.contains("GODONE ok=\(n) last=park\(n - 1)") }, h.messages.suffix(5).joined(separator: "\n"))
        // Only the route's commands wait for their replies (subscriptions do not): n replies in all.
        var byCaller = 0, byIO = 0
        XCTAssertTrue(waitUntil(timeout: 5) {
            byCaller = boxStat(h, "replies_read_by_caller", port: sim.port) ?? 0
            byIO = boxStat(h, "replies_read_by_io", port: sim.port) ?? 0
            return byCaller + byIO >= n
        }, "replies read: \(byCaller) by the caller, \(byIO) by the I/O thread")
        XCTAssertEqual(byCaller + byIO, n, "each reply read once (\(byCaller) by the caller, \(byIO) by the I/O thread)")
        if h.messages.contains(where: { $0.contains("epoll refused the socket") }) {
            // The documented fallback (EPOLLEXCLUSIVE refused: old kernel, sandbox): the I/O thread reads every reply.
            XCTAssertEqual(byIO, n, "epoll refused: the I/O thread reads every reply")
        } else {
            XCTAssertGreaterThan(byCaller, 0, "the waiting worker never read its reply itself")
        }
    }

    /// `api uuid_send_dtmf <uuid> 0123456789` makes the box send ten DTMF events ahead of each reply: the waiting
    /// worker reads them on its way to its reply. The other worker runs their route in stream order, every digit once.
    func testEventsReadAheadOfAReplyAreDeliveredInOrder() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let rounds = 30
        let h = ServerHarness(config(sim.port, route: """
            $var(i) = 0; $var(ok) = 0;
            while ($var(i) < \(rounds)) {
                if (freeswitch_esl("api uuid_send_dtmf $param(uuid) 0123456789", "127.0.0.1:\(sim.port)", $var(out))) {
                    $var(ok) = $var(ok) + 1;
                }
                $var(i) = $var(i) + 1;
            }
            xlog("GODONE ok=$var(ok)");
        """))
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))
        let uuid = try sim.call("1000", "-")
        XCTAssertEqual(h.server.raiseEvent("E_GO", [("uuid", .str(uuid))]), 0)
        XCTAssertTrue(h.waitFor("GODONE", timeout: 30), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.contains("GODONE ok=\(rounds)") }, h.messages.suffix(5).joined(separator: "\n"))
        func digits() -> String {
            h.messages.compactMap { m in m.range(of: "DIGIT ").map { r in String(m[r.upperBound...].prefix(1)) } }.joined()
        }
        XCTAssertTrue(waitUntil(timeout: 10) { digits().count >= rounds * 10 }, "\(digits().count) digits")
        XCTAssertEqual(digits(), String(repeating: "0123456789", count: rounds))
    }
}
