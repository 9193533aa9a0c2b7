import Foundation
import XCTest
import SwitchyardJSON
import Synchronization
@testable import SwitchyardCore
import SwitchyardTestSupport

/// Probing takes a silent destination out and brings it back (OPTIONS to tiny UDP destinations, E_DISPATCHER_STATUS
/// with OpenSIPS's reasons); ds_probing_mode 0 probes only destinations in probing; ds_reload under sipp traffic loses
/// no call.
final class ProbingAndReloadTests: XCTestCase {
    private var cleanups: [() -> Void] = []

    override func tearDown() {
        for c in cleanups.reversed() { c() }
        cleanups = []
    }

    private func server(_ db: String, port: Int, params: [String], route: String = "sl_send_reply(200, \"OK\");") throws -> Harness {
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(port)
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "cache_local.so"
        loadmodule "db_sqlite.so"
        loadmodule "dispatcher.so"
        modparam("dispatcher", "db_url", "sqlite://\(db)")
        \(params.map { "modparam(\"dispatcher\", \($0))" }.joined(separator: "\n"))
        route {
        \(route)
        }
        event_route[E_DISPATCHER_STATUS] {
            xlog("L_NOTICE", "EVENT $param(address) $param(status) $param(reason)\\n");
        }
        """)
        try h.prepareAndStart()
        cleanups.append { h.stop() }
        return h
    }

    private func states(_ h: Harness) -> [String] {
        guard case .array(let a)? = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"] else { return [] }
        return a.compactMap { $0["state"]?.stringValue }
    }

    func testProbingTakesASilentDestinationOutAndBringsItBack() throws {
        let a = try Responder(answer: 200), b = try Responder(answer: 0)
        cleanups.append { a.stop(); b.stop() }
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, priority) VALUES (1, 'sip:127.0.0.1:\(a.port)', 1), (1, 'sip:127.0.0.1:\(b.port)', 0);
            """)
        let port = Ports.udp()
        let h = try server(db, port: port, params: ["\"ds_ping_interval\", 1", "\"ds_probing_mode\", 1", "\"ds_probing_threshold\", 2",
                                                    "\"ds_ping_timeout\", 300", "\"ds_ping_from\", \"sip:pinger@switchyard\"",
                                                    "\"options_reply_codes\", \"404\""],
                           route: "ds_select_dst(1, 4); sl_send_reply(200, \"$du\");")
        // Two unanswered probes (threshold 2): b goes to probing, then is never selected.
        XCTAssertTrue(waitUntil(8) { self.states(h) == ["Active", "Probing"] }, "\(states(h))\n\(h.log)")
        XCTAssertTrue(waitUntil(5) { h.log.contains("EVENT sip:127.0.0.1:\(b.port) inactive negative probing reply") }, h.log)
        XCTAssertEqual(a.methods.withLock { $0 }.first, "OPTIONS")
        let c = try UDPSocket()
        for _ in 0..<4 { XCTAssertEqual(c.request(server: port)?.hasSuffix("sip:127.0.0.1:\(a.port)"), true) }
        // b answers again (a listed code counts as success): back to active, selected again.
        b.code.store(404, ordering: .relaxed)
        XCTAssertTrue(waitUntil(8) { self.states(h) == ["Active", "Active"] }, "\(states(h))\n\(h.log)")
        XCTAssertTrue(waitUntil(5) { h.log.contains("EVENT sip:127.0.0.1:\(b.port) active 200 OK probing reply") }, h.log)
        let picks = Set((0..<4).compactMap { _ in c.request(server: port)?.split(separator: " ").last.map(String.init) })
        XCTAssertEqual(picks, ["sip:127.0.0.1:\(a.port)", "sip:127.0.0.1:\(b.port)"])
    }

    func testModeZeroProbesOnlyProbingDestinationsAndNeverInactiveOnes() throws {
        let a = try Responder(answer: 200), b = try Responder(answer: 200), c = try Responder(answer: 200)
        cleanups.append { a.stop(); b.stop(); c.stop() }
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, state, priority) VALUES
              (1, 'sip:127.0.0.1:\(a.port)', 0, 3), (1, 'sip:127.0.0.1:\(b.port)', 2, 2), (1, 'sip:127.0.0.1:\(c.port)', 1, 1);
            """)
        let h = try server(db, port: Ports.udp(), params: ["\"ds_ping_interval\", 1", "\"ds_ping_timeout\", 300"])
        XCTAssertEqual(states(h), ["Active", "Probing", "Inactive"]) // persistent_state read at start
        XCTAssertTrue(waitUntil(5) { self.states(h) == ["Active", "Active", "Inactive"] }, "\(states(h))")
        // Mode 0 probes no destination now (none is Probing any more), so no later probe can mark a round: watch one
        // more probe round; nothing may reach the active or the inactive destination.
        XCTAssertTrue(holds(for: 1.2) { a.received.load(ordering: .relaxed) == 0 && c.received.load(ordering: .relaxed) == 0 })
        XCTAssertEqual(a.received.load(ordering: .relaxed), 0)
        XCTAssertEqual(c.received.load(ordering: .relaxed), 0)
        XCTAssertGreaterThanOrEqual(b.received.load(ordering: .relaxed), 1)
    }

    func testReloadUnderTrafficLosesNoCall() throws {
        guard Repo.which("sipp") != nil else { throw XCTSkip("sipp is not on PATH") }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("ds-rl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        cleanups.append { try? FileManager.default.removeItem(atPath: work) }
        let u1 = Ports.udp(), u2 = Ports.udp()
        for p in [u1, u2] { let u = try Sipp.uas(port: p, cwd: work); cleanups.append { u.stop() } }
        let db = try SQLiteCLI.database("INSERT INTO dispatcher (setid, destination, weight) VALUES (1, 'sip:127.0.0.1:\(u1)', '1');")
        let port = Ports.udp()
        let h = try server(db, port: port, params: [], route: """
            if ($rm == "INVITE") {
                if (!ds_select_dst(1, 0)) { sl_send_reply(503, "No destination"); exit; }
                cache_store("local", "ds_$ci", "$du", 120);
            } else {
                if (!cache_fetch("local", "ds_$ci", $var(d))) { exit; }
                $du = $var(d);
            }
            forward();
            """)
        // While 400 calls run, the table changes and ds_reload runs every 20 ms.
        // Two semaphores: with one, the test's own wait could take back its stop signal, and the thread would go on
        // reloading into the next test.
        let stop = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let reloads = ReloadCounter()
        let t = Thread {
            var on = false
            while stop.wait(timeout: .now() + .milliseconds(20)) == .timedOut {
                on.toggle()
                _ = try? SQLiteCLI.run(db, on ? "INSERT INTO dispatcher (setid, destination, weight) VALUES (1, 'sip:127.0.0.1:\(u2)', '2');"
                                              : "DELETE FROM dispatcher WHERE destination = 'sip:127.0.0.1:\(u2)';")
                if h.mi("ds_reload")?["result"]?.stringValue == "OK" { reloads.add() }
            }
            done.signal()
        }
        t.start()
        let (status, out) = try Sipp.uac(proxy: port, calls: 400, rate: 200, cwd: work)
        stop.signal()
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "the reloading thread did not stop")
        XCTAssertEqual(status, 0, "calls failed during reloads:\n\(out.suffix(2000))")
        XCTAssertGreaterThan(reloads.value, 10)
        print("\(reloads.value) reloads during 400 calls, none lost")
    }
}

final class ReloadCounter: Sendable {
    private let n = Atomic<Int>(0)
    func add() { n.add(1, ordering: .relaxed) }
    var value: Int { n.load(ordering: .relaxed) }
}
