// From one proxy to several: two `switchyard` processes on Examples/scale-out/modules.conf (routing in MariaDB, the
// transfer marks in Redis), both subscribed to the same esl-simulator box, so both receive every DTMF event. The
// simulator floods 10,000 calls (one DTMF each): exactly one uuid_transfer must come back per call, none missing.
import SwitchyardTestSupport
import Foundation
import XCTest

final class ScaleOutTests: XCTestCase {
    func testTwoInstancesTransferEachCallExactlyOnce() throws {
        let mysqlURL = try TestServers.mysqlURL()
        let redisURL = try TestServers.redisURL()
        let root = TestServers.repoRoot
        let cli = SQLCLI(.mysql, url: mysqlURL)
        let dbName = "sy_scale_\(UUID().uuidString.prefix(8).lowercased())"
        let dbURL = try cli.createDatabase(dbName)
        defer { cli.dropDatabase(dbName) }
        try cli.load("Plugins/drouting/schema/mysql.sql", database: dbName)
        try cli.load("Examples/scale-out/provision.sql", database: dbName)
        // The flood's calls go to `flood<i>`: one prefix-less rule of group 0 makes them support calls too.
        try cli.run("INSERT INTO dr_rules (groupid, prefix, priority, gwlist) VALUES ('0', '', 0, 'freeswitch')", database: dbName)

        let sim = try SimulatorProcess(["--heartbeat", "1"])
        defer { sim.kill() }
        var cfg = try String(contentsOf: root.appendingPathComponent("Examples/scale-out/modules.conf"), encoding: .utf8)
        for (from, to) in [
            ("mysql://switchyard:secret@localhost/switchyard", dbURL),
            ("redis://127.0.0.1:6379/", redisURL),
            ("fs://:ClueCon@127.0.0.1:8021?", "fs://:ClueCon@127.0.0.1:\(sim.port)?"),
            ("xlog_level = 2 ", "xlog_level = -1 "),   // no log line per transfer
        ] {
            XCTAssertTrue(cfg.contains(from), "the example config no longer contains \(from)")
            cfg = cfg.replacingOccurrences(of: from, with: to)
        }
        let cfgPath = writeTemp(cfg)
        defer { try? FileManager.default.removeItem(atPath: cfgPath) }
        let a = BinaryRunner(args: ["-f", cfgPath]), b = BinaryRunner(args: ["-f", cfgPath])
        try a.start()
        try b.start()
        defer {
            for p in [a, b] { p.process.interrupt(); _ = p.wait(timeout: 10) }
        }
        XCTAssertTrue(a.waitForReady(timeout: 30), a.output)
        XCTAssertTrue(b.waitForReady(timeout: 30), b.output)
        // Both subscribed: two connections, four `event json` commands each.
        guard TestServers.waitUntil(30, {
            ((try? sim.commandLines()) ?? []).filter { $0.line.hasPrefix("event json ") }.count >= 8
        }) else { return XCTFail("not both subscribed: \((try? sim.commands()) ?? [])\n\(a.output)\n\(b.output)") }
        _ = try sim.control("clear")

        let calls = 10_000
        let t0 = Date()
        _ = try sim.control("flood \(calls)")
        var transfers: [(conn: String, line: String)] = []
        var last = 0, lastChange = Date(), tLast = Date()
        func read() -> [(conn: String, line: String)] { ((try? sim.commandLines()) ?? []).filter { $0.line.hasPrefix("bgapi uuid_transfer ") } }
        // Until every call is transferred, or nothing has moved for 5 s.
        waitUntil(timeout: 3600, poll: 0.1) {
            transfers = read()
            if transfers.count != last { last = transfers.count; lastChange = Date(); tLast = Date() }
            return transfers.count >= calls || Date().timeIntervalSince(lastChange) >= 5
        }
        if transfers.count >= calls {
            // Nothing marks the end of the flood's handling on both instances: half a second more for any extra transfer.
            let n = transfers.count
            holds(for: 0.5, poll: 0.1) { read().count == n }
            transfers = read()
        }
        let secs = tLast.timeIntervalSince(t0)
        let uuids = transfers.map { $0.line.split(separator: " ")[2] }
        let perInstance = Dictionary(grouping: transfers, by: \.conn).mapValues(\.count)
        print(String(format: "scale-out: %d calls, 2 instances, %d uuid_transfer (%d distinct calls), per connection %@; "
                     + "%.0f events/s received by each instance (%.2f s)", calls, transfers.count, Set(uuids).count,
                     perInstance.description, Double(calls) / secs, secs))
        XCTAssertEqual(transfers.count, calls, "one transfer per call")
        XCTAssertEqual(Set(uuids).count, calls, "no call transferred twice, none missing")
        XCTAssertEqual(perInstance.count, 2, "both instances took part: \(perInstance)")
        XCTAssertFalse(a.output.contains("ERROR"), a.output)
        XCTAssertFalse(b.output.contains("ERROR"), b.output)
    }
}
