import Foundation
import XCTest
import SwitchyardJSON
@testable import SwitchyardCore
import SwitchyardTestSupport

/// FreeSWITCH-driven weights end to end: sipp calls through Switchyard (ds_select_dst + stateless forward()) to three
/// sipp UAS "boxes", each with an esl-simulator as its Event Socket (own --idle-cpu, changed live with `set idle-cpu`).
/// The split of calls follows round(100 × (1 − sessions/max) × idle/100); it moves when a box's idle CPU changes; a box
/// whose ESL connection is gone gets nothing with freeswitch_lost_weight 0, and keeps its last weight by default
/// (OpenSIPS); before the first heartbeat a box weighs max_freeswitch_weight; one ESL connection per box is shared
/// with freeswitch_scripting.
final class FreeSwitchWeightTests: XCTestCase {
    private var cleanups: [() -> Void] = []
    private var workDir = ""

    override func setUpWithError() throws {
        guard Repo.which("sipp") != nil else { throw XCTSkip("sipp is not on PATH (Debian: sip-tester)") }
        workDir = FileManager.default.temporaryDirectory.appendingPathComponent("ds-fs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for c in cleanups.reversed() { c() }
        cleanups = []
        try? FileManager.default.removeItem(atPath: workDir)
    }

    private func simulator(idle: Double, heartbeat: Double = 0.3) throws -> Simulator {
        let s = try Simulator(["--idle-cpu", String(idle), "--max-sessions", "100", "--session-count", "0",
                               "--heartbeat", String(heartbeat)])
        cleanups.append { s.kill() }
        return s
    }

    /// The proxy: INVITEs pick a box (algorithm 6: random, weighted), the rest of a call follows its INVITE.
    private func proxy(db: String, port: Int, params: [String] = [], extra: String = "") throws -> Harness {
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(port)
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "cache_local.so"
        loadmodule "db_sqlite.so"
        loadmodule "freeswitch.so"
        \(extra)
        loadmodule "dispatcher.so"
        modparam("dispatcher", "db_url", "sqlite://\(db)")
        modparam("dispatcher", "fetch_freeswitch_stats", 1)
        \(params.map { "modparam(\"dispatcher\", \($0))" }.joined(separator: "\n"))
        route {
            if ($rm == "INVITE") {
                if (!ds_select_dst(1, 6)) { sl_send_reply(503, "No box"); exit; }
                cache_store("local", "ds_$ci", "$du", 120);
            } else {
                if (!cache_fetch("local", "ds_$ci", $var(d))) { exit; }
                $du = $var(d);
            }
            forward();
        }
        """)
        try h.prepareAndStart()
        cleanups.append { h.stop() }
        return h
    }

    private func dests(_ h: Harness) -> [JSONValue] {
        guard let d = h.mi("ds_list", #"{"full":1}"#)?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"],
              case .array(let a) = d else { return [] }
        return a
    }
    private func weights(_ h: Harness) -> [Int] { dests(h).compactMap { $0["weight"]?.intValue.map(Int.init) } }
    private func hits(_ h: Harness) -> [Int] { dests(h).compactMap { $0["first_hit_counter"]?.intValue.map(Int.init) } }

    /// Runs `calls` sipp calls through the proxy (all must succeed) and returns each box's share of them.
    private func batch(_ h: Harness, proxy: Int, calls: Int, file: StaticString = #filePath, line: UInt = #line) throws -> [Double] {
        let before = hits(h)
        let (status, out) = try Sipp.uac(proxy: proxy, calls: calls, rate: 200, cwd: workDir)
        XCTAssertEqual(status, 0, "sipp UAC failed:\n\(out.suffix(2000))\n\(h.log.suffix(3000))", file: file, line: line)
        let after = hits(h)
        let delta = zip(after, before).map { $0 - $1 }
        XCTAssertEqual(delta.reduce(0, +), calls, "every INVITE went through ds_select_dst once", file: file, line: line)
        return delta.map { Double($0) / Double(calls) }
    }

    func testSplitFollowsHeartbeatsMovesWithIdleCPUAndSkipsALostBox() throws {
        let sims = try [90.0, 60.0, 30.0].map { try simulator(idle: $0) }
        let uasPorts = (0..<3).map { _ in Ports.udp() }
        for p in uasPorts { let u = try Sipp.uas(port: p, cwd: workDir); cleanups.append { u.stop() } }
        let rows = (0..<3).map { "(1, 'sip:127.0.0.1:\(uasPorts[$0])', 'fs://:ClueCon@127.0.0.1:\(sims[$0].port)')" }
        let db = try SQLiteCLI.database("INSERT INTO dispatcher (setid, destination, weight) VALUES \(rows.joined(separator: ","));")
        let port = Ports.udp()
        // freeswitch_scripting subscribes box 1 too: the same connection must serve both modules.
        let h = try proxy(db: db, port: port, params: ["\"freeswitch_lost_weight\", 0", "\"random_seed\", 20261206"], extra: """
            loadmodule "freeswitch_scripting.so"
            modparam("freeswitch_scripting", "fs_subscribe", "fs://:ClueCon@127.0.0.1:\(sims[0].port)?DTMF")
            """)
        XCTAssertTrue(waitUntil(10) { self.weights(h) == [90, 60, 30] }, "weights \(weights(h))\n\(h.log)")
        XCTAssertEqual(sims[0].control("stats").map { $0.contains(" connections=1 ") }, true, sims[0].control("stats") ?? "")

        // 1. The split follows 90 : 60 : 30 (tolerance ±0.08 of each share: > 3 standard deviations at 400 calls; the
        //    seeded generator keeps the run reproducible).
        let s1 = try batch(h, proxy: port, calls: 400)
        for (share, expected) in zip(s1, [0.5, 1.0 / 3, 1.0 / 6]) { XCTAssertEqual(share, expected, accuracy: 0.08, "shares \(s1)") }

        // 2. Box 1 gets busy, box 3 idle: 10 : 60 : 90 within one heartbeat interval (+ the 1 s refresh period).
        let t0 = Date()
        sims[0].control("set idle-cpu 10")
        sims[2].control("set idle-cpu 90")
        XCTAssertTrue(waitUntil(0.3 + 1.0 + 1.0) { self.weights(h) == [10, 60, 90] }, "weights \(weights(h))")
        print("weights moved \(Int(Date().timeIntervalSince(t0) * 1000)) ms after `set idle-cpu` (heartbeat 300 ms, refresh 1 s)")
        let s2 = try batch(h, proxy: port, calls: 400)
        for (share, expected) in zip(s2, [10.0 / 160, 60.0 / 160, 90.0 / 160]) { XCTAssertEqual(share, expected, accuracy: 0.08, "shares \(s2)") }

        // 3. Box 3's ESL connection is gone: weight 0 (freeswitch_lost_weight), no call for it.
        sims[2].kill()
        XCTAssertTrue(waitUntil(5) { self.weights(h).last == 0 }, "weights \(weights(h))\n\(h.log)")
        XCTAssertTrue(waitUntil(5) { h.log.contains("lost") }, h.log)
        let s3 = try batch(h, proxy: port, calls: 200)
        XCTAssertEqual(s3[2], 0, "shares \(s3)")
        XCTAssertEqual(s3[0], 10.0 / 70, accuracy: 0.1, "shares \(s3)")
    }

    func testBeforeTheFirstHeartbeatMaxWeightAfterALossTheLastWeight() throws {
        // No periodic heartbeat: the box is connected but has sent no figures yet.
        let sim = try simulator(idle: 50, heartbeat: 0)
        let uas = Ports.udp(), other = Ports.udp()
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, weight) VALUES
              (1, 'sip:127.0.0.1:\(uas)', 'fs://:ClueCon@127.0.0.1:\(sim.port)'),
              (1, 'sip:127.0.0.1:\(other)', '500');
            """)
        let port = Ports.udp()
        let h = try proxy(db: db, port: port, params: ["\"max_freeswitch_weight\", 200"])
        XCTAssertTrue(waitUntil(5) { (sim.control("stats") ?? "").contains(" authed=1 ") })
        // No heartbeat comes (heartbeat 0), so no event marks a refresh: watch more than one refresh period.
        XCTAssertTrue(holds(for: 1.5) { weights(h) == [200, 200] }, "\(weights(h))")
        XCTAssertEqual(weights(h), [200, 200], "static 500 truncated to max_freeswitch_weight; FS box at max before figures")

        // The figure: from a HEARTBEAT with new figures to the new weight being in use (ds_list reads the live weight).
        var latencies: [Int] = []
        for (i, idle) in [40.0, 70.0, 20.0, 55.0, 35.0].enumerated() {
            sim.control("set idle-cpu \(idle)")
            let t0 = Date()
            sim.control("heartbeat")
            let want = Int((200 * idle / 100).rounded())
            XCTAssertTrue(waitUntil(10) { self.weights(h).first == want }, "round \(i): \(weights(h))")
            latencies.append(Int(Date().timeIntervalSince(t0) * 1000))
        }
        print("heartbeat -> weight in use (ms), refresh period 1 s: \(latencies) median \(latencies.sorted()[2])")

        // ds_reload: new destination objects, the same connection (no second one), weight refreshed at once.
        XCTAssertEqual(h.mi("ds_reload")?["result"]?.stringValue, "OK")
        XCTAssertEqual(weights(h).first, 70)
        XCTAssertEqual(sim.control("stats").map { $0.contains(" accepted=1 ") }, true, sim.control("stats") ?? "")

        // The box goes away: the weight stays at its last value (OpenSIPS), traffic keeps flowing to it.
        sim.kill()
        XCTAssertTrue(waitUntil(5) { h.log.contains("lost") }, h.log)
        // Nothing comes from a lost box, so no event marks a refresh: watch more than one refresh period after the loss.
        XCTAssertTrue(holds(for: 1.5) { weights(h).first == 70 }, "\(weights(h))")
        XCTAssertEqual(weights(h).first, 70) // 200 × 35 %
    }
}
