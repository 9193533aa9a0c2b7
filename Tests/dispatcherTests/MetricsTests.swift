import Foundation
import XCTest
import SwitchyardJSON
import Synchronization
@testable import SwitchyardCore

/// Destination states as statistics, read over MI `get_statistics` on a whole server: per-destination dst_active and
/// dst_state, per-set and total counts, the FreeSWITCH-driven dst_weight (an esl-simulator box), a second partition,
/// no password in a statistic name, and the gauges following ds_set_state over MI and a reload that drops a row.
final class MetricsTests: XCTestCase {
    private var cleanups: [() -> Void] = []

    override func tearDown() {
        for c in cleanups.reversed() { c() }
        cleanups = []
    }

    private func port() -> Int { Ports.udp() }

    private func stats(_ h: Harness) -> [String: Int64] {
        guard case .object(let o)? = h.mi("get_statistics", #"{"statistics":["dispatcher:"]}"#)?["result"] else { return [:] }
        var out: [String: Int64] = [:]
        for m in o.members { if let i = m.value.intValue { out[m.key] = i } }
        return out
    }

    func testStatesCountsAndWeightsAsStatistics() throws {
        let sim = try Simulator(["--idle-cpu", "50", "--max-sessions", "100", "--session-count", "0", "--heartbeat", "0.3"])
        cleanups.append { sim.kill() }
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, weight) VALUES
              (1, 'sip:10.0.0.1', '1'),
              (1, 'sip:10.0.0.2:5070', '1'),
              (2, 'sip:bob:secret@10.0.0.7;transport=udp', '1'),
              (3, 'sip:127.0.0.1:5090', 'fs://:ClueCon@127.0.0.1:\(sim.port)');
            """)
        let db2 = try SQLiteCLI.database("INSERT INTO dispatcher (setid, destination) VALUES (7, 'sip:10.1.1.1:5080');")
        let p = port()
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(p)
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "db_sqlite.so"
        loadmodule "freeswitch.so"
        loadmodule "dispatcher.so"
        modparam("dispatcher", "db_url", "sqlite://\(db)")
        modparam("dispatcher", "fetch_freeswitch_stats", 1)
        modparam("dispatcher", "max_freeswitch_weight", 200)
        modparam("dispatcher", "partition", "trunks: db_url = sqlite://\(db2)")
        route { sl_send_reply(200, "OK"); }
        """)
        try h.prepareAndStart()
        cleanups.append { h.stop() }

        // Right after start: every destination active, the FS box at 200 × 50 % once its heartbeats arrive.
        XCTAssertTrue(waitUntil(10) { self.stats(h)["dispatcher:dst_weight@3_127.0.0.1_5090"] == 100 }, "\(stats(h))\n\(h.log)")
        var s = stats(h)
        XCTAssertEqual(s["dispatcher:dst_active@1_10.0.0.1"], 1, "\(s)")
        XCTAssertEqual(s["dispatcher:dst_state@1_10.0.0.2_5070"], 0, "\(s)")
        XCTAssertEqual(s["dispatcher:dst_active@2_bob_10.0.0.7_transport_udp"], 1, "\(s)")
        XCTAssertEqual(s["dispatcher:dst_active@trunks@7_10.1.1.1_5080"], 1, "\(s)")
        XCTAssertEqual(s["dispatcher:set_active@1"], 2, "\(s)")
        XCTAssertEqual(s["dispatcher:set_active@trunks@7"], 1, "\(s)")
        XCTAssertEqual(s["dispatcher:destinations_active"], 5, "\(s)")
        XCTAssertEqual(s["dispatcher:destinations_inactive"], 0, "\(s)")
        XCTAssertNil(s["dispatcher:dst_weight@1_10.0.0.1"], "only FreeSWITCH-driven destinations have a weight gauge")
        XCTAssertFalse(s.keys.contains { $0.contains("secret") }, "\(s.keys)")
        // Gauges: list_statistics calls them non-incremental.
        let list = h.mi("list_statistics", #"{"statistics":["dispatcher:"]}"#)?["result"]
        XCTAssertEqual(list?["dispatcher:destinations_active"]?.stringValue, "non-incremental", "\(String(describing: list))")

        // ds_set_state over MI: inactive, then probing; the gauges follow within a refresh.
        XCTAssertEqual(h.mi("ds_set_state", #"{"state":"i","group":"1","address":"sip:10.0.0.2:5070"}"#)?["result"]?.stringValue, "OK")
        for _ in 0..<3 { // ds_probing_threshold (3) "p" marks put it in probing, as in OpenSIPS
            XCTAssertEqual(h.mi("ds_set_state", #"{"state":"p","group":"trunks:7","address":"sip:10.1.1.1:5080"}"#)?["result"]?.stringValue, "OK")
        }
        XCTAssertTrue(waitUntil(5) { self.stats(h)["dispatcher:dst_active@1_10.0.0.2_5070"] == 0 }, "\(stats(h))")
        XCTAssertTrue(waitUntil(5) { self.stats(h)["dispatcher:dst_state@trunks@7_10.1.1.1_5080"] == 2 }, "\(stats(h))")
        s = stats(h)
        XCTAssertEqual(s["dispatcher:dst_state@1_10.0.0.2_5070"], 1, "\(s)")
        XCTAssertEqual(s["dispatcher:set_active@1"], 1, "\(s)")
        XCTAssertEqual(s["dispatcher:set_inactive@1"], 1, "\(s)")
        XCTAssertEqual(s["dispatcher:set_probing@trunks@7"], 1, "\(s)")
        XCTAssertEqual(s["dispatcher:destinations_active"], 3, "\(s)")
        XCTAssertEqual(s["dispatcher:destinations_inactive"], 1, "\(s)")
        XCTAssertEqual(s["dispatcher:destinations_probing"], 1, "\(s)")
        // reset_statistics leaves gauges alone.
        _ = h.mi("reset_statistics", #"{"statistics":["dispatcher:destinations_active"]}"#)
        XCTAssertEqual(stats(h)["dispatcher:destinations_active"], 3)

        // Back to active; the box's idle CPU moves its weight gauge.
        XCTAssertEqual(h.mi("ds_set_state", #"{"state":"a","group":"1","address":"sip:10.0.0.2:5070"}"#)?["result"]?.stringValue, "OK")
        sim.control("set idle-cpu 80")
        XCTAssertTrue(waitUntil(5) { self.stats(h)["dispatcher:dst_active@1_10.0.0.2_5070"] == 1 }, "\(stats(h))")
        XCTAssertTrue(waitUntil(5) { self.stats(h)["dispatcher:dst_weight@3_127.0.0.1_5090"] == 160 }, "\(stats(h))")

        // A reload that drops a row: its gauges fall to 0, the totals count what is left.
        _ = try SQLiteCLI.run(db, "DELETE FROM dispatcher WHERE destination = 'sip:10.0.0.1';")
        XCTAssertEqual(h.mi("ds_reload")?["result"]?.stringValue, "OK")
        XCTAssertTrue(waitUntil(5) { self.stats(h)["dispatcher:destinations_active"] == 3 }, "\(stats(h))")
        s = stats(h)
        XCTAssertEqual(s["dispatcher:dst_active@1_10.0.0.1"], 0, "\(s)")
        XCTAssertEqual(s["dispatcher:set_active@1"], 1, "\(s)")
    }
}
