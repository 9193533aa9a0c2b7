import Foundation
import XCTest
import SwitchyardTestSupport

/// freeswitch_scripting's MI as OpenSIPS 3.6 answers it, driven by the real opensips-cli over mi_fifo against a real
/// esl-simulator: `fs_subscribe` with positional parameters (the way the cli is usually typed), the errors' codes and
/// texts (`500: Internal Error` with no detail, `fs_reload` without `db_url` → -32000 `Server error`).
final class FreeSwitchScriptingCLITests: XCTestCase {
    func testFsSubscribePositionalAndOpenSIPSErrorsThroughOpensipsCLI() throws {
        guard FileManager.default.fileExists(atPath: BinaryRunner.buildDirectory.appendingPathComponent("esl-simulator").path) else {
            throw XCTSkip("needs a built esl-simulator")
        }
        _ = try OpensipsCLI.path()
        let sim = try SimulatorProcess(["--password", "ClueCon", "--heartbeat", "0"])
        defer { sim.stop() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("fss-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let h = ServerHarness(plugins: """
        loadmodule "mi_fifo.so"
        loadmodule "freeswitch.so"
        loadmodule "freeswitch_scripting.so"
        modparam("mi_fifo", "fifo_name", "\(dir)/fifo")
        modparam("mi_fifo", "reply_dir", "\(dir)/")
        """)
        XCTAssertEqual(h.launch(), [])
        defer { h.stop() }
        let cfg = try OpensipsCLI.fifoConfig(dir: dir)
        let url = "fs://:ClueCon@127.0.0.1:\(sim.port)"

        // Positional: the cli sends ["<url>", ["DTMF", "HEARTBEAT"]].
        XCTAssertEqual(try OpensipsCLI.json(cfg, ["fs_subscribe", url, "DTMF", "HEARTBEAT"]) as? String, "OK")
        XCTAssertTrue(waitUntil(timeout: 10) {
            let lines = Set(((try? sim.commands()) ?? []))
            return lines.contains("event json DTMF") && lines.contains("event json HEARTBEAT")
        }, "\((try? sim.commands()) ?? [])")
        let list = try OpensipsCLI.json(cfg, ["fs_list"]) as? [String: Any]
        let sockets = list?["Sockets"] as? [[String: Any]]
        XCTAssertEqual(sockets?.first?["if"] as? String, "127.0.0.1:\(sim.port)")
        // OpenSIPS's order: each event added goes first.
        XCTAssertEqual(sockets?.first?["Events"] as? [String], ["HEARTBEAT", "DTMF"])
        // A second box goes first too.
        let sim2 = try SimulatorProcess(["--password", "ClueCon", "--heartbeat", "0"])
        defer { sim2.stop() }
        XCTAssertEqual(try OpensipsCLI.json(cfg, ["fs_subscribe", "fs://:ClueCon@127.0.0.1:\(sim2.port)", "CHANNEL_ANSWER"]) as? String, "OK")
        let list2 = (try OpensipsCLI.json(cfg, ["fs_list"]) as? [String: Any])?["Sockets"] as? [[String: Any]]
        XCTAssertEqual(list2?.compactMap { $0["if"] as? String }, ["127.0.0.1:\(sim2.port)", "127.0.0.1:\(sim.port)"])

        // Named parameters still work (the array split by the cli). HEARTBEAT stays: the freeswitch module keeps it
        // for its liveness check, so DTMF is the one nixed.
        XCTAssertEqual(try OpensipsCLI.json(cfg, ["fs_unsubscribe", "freeswitch_url=\(url)", "events=DTMF"]) as? String, "OK")
        XCTAssertTrue(waitUntil(timeout: 10) { ((try? sim.commands()) ?? []).contains("nixevent DTMF") }, "\((try? sim.commands()) ?? [])")

        // A bad URL: OpenSIPS's 500 "Internal Error" with no detail; the reason is in the log.
        let bad = try OpensipsCLI.run(cfg, ["fs_subscribe", "fs://:pw@127.0.0.1:99999", "DTMF"])
        XCTAssertTrue(bad.err.contains("500: Internal Error") && !bad.err.contains("("), bad.err)
        XCTAssertTrue(h.messages.contains { $0.contains("fs_subscribe") && $0.contains("port") }, h.messages.joined(separator: "\n"))

        // fs_unsubscribe: a box not in the pool is "OK" when the URL can name it (password given), 500 otherwise.
        XCTAssertEqual(try OpensipsCLI.json(cfg, ["fs_unsubscribe", "fs://:pw@127.0.0.1:1", "DTMF"]) as? String, "OK")
        let unknown = try OpensipsCLI.run(cfg, ["fs_unsubscribe", "127.0.0.2:1", "DTMF"])
        XCTAssertTrue(unknown.err.contains("500: Internal Error"), unknown.err + unknown.out)

        // fs_reload without db_url: OpenSIPS's handler returns NULL → -32000 "Server error".
        let reload = try OpensipsCLI.run(cfg, ["fs_reload"])
        XCTAssertTrue(reload.err.contains("-32000: Server error"), reload.err + reload.out)
    }
}
