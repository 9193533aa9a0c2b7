import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardTestSupport

/// The DTMF-transfer scenario end to end: the real `switchyard` binary on Examples/dtmf-transfer/modules.conf (paths
/// and port rewritten) against the real `esl-simulator`, which places the calls, presses the digits and records
/// every ESL command it receives. The simulator is then killed and restarted on the same port mid-run.
final class DTMFTransferTests: XCTestCase {
    static let repoRoot: URL = Repo.root

    typealias Sim = SimulatorProcess

    private func waitUntil(_ what: String, timeout: TimeInterval, _ cond: () -> Bool) -> Bool {
        if SwitchyardTestSupport.waitUntil(timeout: timeout, poll: 0.02, cond) { return true }
        XCTFail("timed out waiting for \(what)")
        return false
    }

    /// The subscription part of a command record: the auth line and the `event json` lines.
    private func assertSubscribed(_ cmds: [String], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(cmds.first, "auth ClueCon", file: file, line: line)
        XCTAssertEqual(Set(cmds.filter { $0.hasPrefix("event ") }),
                       ["event json DTMF", "event json CHANNEL_STATE", "event json CHANNEL_ANSWER", "event json HEARTBEAT"],
                       file: file, line: line)
    }

    /// DTMF events the script has finished with: each logs "-> transferred to", "digit ignored" or "digit N ignored".
    private func handledEvents(_ sy: BinaryRunner) -> Int {
        sy.lines.filter { $0.contains("-> transferred to") || $0.hasSuffix("ignored") }.count
    }

    private func subscribed(_ sim: Sim) -> Bool {
        ((try? sim.commands()) ?? []).filter { $0.hasPrefix("event json ") }.count >= 4
    }

    func testDTMFTransferScenarioAgainstSimulatorWithRestart() throws {
        let root = Self.repoRoot
        let example = root.appendingPathComponent("Examples/dtmf-transfer/modules.conf")
        guard FileManager.default.fileExists(atPath: example.path),
              FileManager.default.fileExists(atPath: BinaryRunner.buildDirectory.appendingPathComponent("esl-simulator").path) else {
            throw XCTSkip("needs the repository sources and a built esl-simulator")
        }

        var sim = try Sim(port: 0)
        let port = sim.port
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sy-dtmf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let db = dir.appendingPathComponent("data/dtmf.db").path  // a missing directory too: created on first run

        // The example as shipped, pointed at the simulator's port and a fresh database (which db_sqlite creates and
        // provisions through init_sql on first run).
        var cfg = try String(contentsOf: example, encoding: .utf8)
        for (from, to) in [
            ("sqlite://switchyard.db", "sqlite://" + db),
            // INFO: every DTMF event handled logs one line (transferred, or why not), which the test waits for.
            ("xlog_level = 2 ", "xlog_level = 3 "),
            ("fs://:ClueCon@127.0.0.1:8021?", "fs://:ClueCon@127.0.0.1:\(port)?"),
            ("\"/tmp/opensips_fifo\"", "\"\(dir.appendingPathComponent("fifo").path)\""),  // one FIFO per instance
            ("\"Plugins/drouting/schema/sqlite.sql\"", "\"\(root.appendingPathComponent("Plugins/drouting/schema/sqlite.sql").path)\""),
            ("\"Examples/dtmf-transfer/provision.sql\"", "\"\(root.appendingPathComponent("Examples/dtmf-transfer/provision.sql").path)\""),
        ] {
            XCTAssertTrue(cfg.contains(from), "the example config no longer contains \(from)")
            cfg = cfg.replacingOccurrences(of: from, with: to)
        }
        let cfgPath = dir.appendingPathComponent("modules.conf").path
        try cfg.write(toFile: cfgPath, atomically: true, encoding: .utf8)

        let sy = BinaryRunner(args: ["-f", cfgPath], cwd: dir.path)
        try sy.start()
        defer {
            if sy.process.isRunning { sy.process.interrupt() }
            _ = sy.wait(timeout: 10)
        }
        XCTAssertTrue(sy.waitForReady(timeout: 20), sy.output)
        XCTAssertTrue(sy.output.contains("created database \(db)"), sy.output)
        guard waitUntil("the subscriptions", timeout: 20, { subscribed(sim) }) else { return XCTFail(sy.output) }

        // 1000 is a support number (drouting prefix, group 0): 1 -> 1001, 2 -> 1002, anything else -> 1001.
        let c1 = try sim.call("1000", "1")
        let c2 = try sim.call("1000", "2")
        let c3 = try sim.call("1000", "9")
        let c4 = try sim.call("1000", "34")   // two digits at once: one transfer (both digits mean 1001)
        let c5 = try sim.call("1000", "1")
        guard waitUntil("the first five transfers", timeout: 10, { sim.transfers.count >= 5 }) else { return XCTFail(sy.output) }
        // A second digit on an already transferred call, and a call to a number that is not a support number.
        XCTAssertEqual(try sim.control("dtmf \(c5) 2"), ["+OK"])
        _ = try sim.call("2000", "1")
        // A last call; then every one of the 9 DTMF events so far has logged its line, extra transfers included.
        let c7 = try sim.call("1000", "2")
        guard waitUntil("the sentinel transfer", timeout: 10, { sim.transfers.count >= 6 }) else { return XCTFail(sy.output) }
        guard waitUntil("all 9 DTMF events handled", timeout: 10, { handledEvents(sy) >= 9 }) else { return XCTFail(sy.output) }

        var cmds = try sim.commands()
        assertSubscribed(cmds)
        XCTAssertEqual(cmds.filter { !$0.hasPrefix("auth ") && !$0.hasPrefix("event ") && !$0.hasPrefix("bgapi ") }, [],
                       "unexpected commands")
        XCTAssertEqual(cmds.filter { $0.hasPrefix("bgapi ") }.sorted(), [
            "bgapi uuid_transfer \(c1) -aleg 1001",
            "bgapi uuid_transfer \(c2) -aleg 1002",
            "bgapi uuid_transfer \(c3) -aleg 1001",
            "bgapi uuid_transfer \(c4) -aleg 1001",
            "bgapi uuid_transfer \(c5) -aleg 1001",
            "bgapi uuid_transfer \(c7) -aleg 1002",
        ].sorted(), sy.output)

        // FreeSWITCH dies: Switchyard notices, keeps retrying, and re-subscribes when it is back on the same port.
        sim.kill()
        XCTAssertTrue(sy.waitFor("connection lost", timeout: 10), sy.output)
        sim = try Sim(port: port)
        XCTAssertEqual(sim.port, port)
        guard waitUntil("the re-subscriptions", timeout: 30, { subscribed(sim) }) else { return XCTFail(sy.output) }

        let d1 = try sim.call("1000", "2")
        let d2 = try sim.call("1000", "1")
        _ = try sim.call("2000", "2")
        let d4 = try sim.call("1000", "7")
        guard waitUntil("the transfers after the restart", timeout: 10, { sim.transfers.count >= 3 }) else { return XCTFail(sy.output) }
        XCTAssertEqual(try sim.control("dtmf \(d1) 1"), ["+OK"])  // already transferred
        guard waitUntil("all 14 DTMF events handled", timeout: 10, { handledEvents(sy) >= 14 }) else { return XCTFail(sy.output) }

        cmds = try sim.commands()
        assertSubscribed(cmds)
        XCTAssertEqual(cmds.filter { $0.hasPrefix("bgapi ") }.sorted(), [
            "bgapi uuid_transfer \(d1) -aleg 1002",
            "bgapi uuid_transfer \(d2) -aleg 1001",
            "bgapi uuid_transfer \(d4) -aleg 1001",
        ].sorted(), sy.output)
        XCTAssertFalse(sy.output.contains("ERROR"), sy.output)
        sim.kill()
    }
}

extension SimulatorProcess {
    /// The DTMF test's simulator: a fixed ESL port, heartbeat every second.
    convenience init(port: Int) throws {
        try self.init(arguments: ["--port", String(port), "--heartbeat", "1"])
    }

    var transfers: [String] { ((try? commands()) ?? []).filter { $0.hasPrefix("bgapi ") } }
}
