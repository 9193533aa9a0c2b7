// The seed article's script in its OpenSIPS 2.4 forms, against MariaDB and the esl-simulator: `children`, a
// `mysql://` db_url for drouting, `fetch_event_params`, `do_routing("0", "C")` and freeswitch_esl() with its box
// and output written as quoted variables ("$var(fs_box)", "$var(output)"), which 2.4 took as the variables.
import SwitchyardTestSupport
import Foundation
import XCTest

final class ArticleScriptTests: XCTestCase {
    static func script(dbURL: String, eslPort: Int) -> String {
        """
        children=4
        log_level=3

        loadmodule "db_mysql.so"
        loadmodule "drouting.so"
        loadmodule "json.so"
        loadmodule "cachedb_local.so"
        loadmodule "freeswitch.so"
        loadmodule "freeswitch_scripting.so"

        modparam("drouting", "db_url", "\(dbURL)")
        modparam("freeswitch_scripting", "fs_subscribe", "fs://:ClueCon@127.0.0.1:\(eslPort)?DTMF")

        event_route[E_FREESWITCH] {
            fetch_event_params("$avp(name);$avp(sender);$avp(body)");
            $json(ev) := $avp(body);
            $var(fs_box) = $avp(sender);
            $ru = "sip:" + $avp(sender);
            $rU = $json(ev/Caller-Destination-Number);
            if (!do_routing("0", "C")) {
                exit;
            }
            if (!cache_insert("local", "xfer:$json(ev/Unique-ID)", "1", 600)) {
                exit;
            }
            freeswitch_esl("bgapi uuid_transfer $json(ev/Unique-ID) -aleg 1001", "$var(fs_box)", "$var(output)");
            xlog("L_NOTICE", "ARTICLE transferred $json(ev/Unique-ID): $var(output)\\n");
        }
        """
    }

    func testArticleScriptRunsInIts24Form() throws {
        let cli = SQLCLI(.mysql, url: try TestServers.mysqlURL())
        let name = "sy_article_\(UUID().uuidString.prefix(8).lowercased())"
        let url = try cli.createDatabase(name)
        defer { cli.dropDatabase(name) }
        try cli.load("Plugins/drouting/schema/mysql.sql", database: name)
        try cli.run("INSERT INTO dr_rules (groupid, prefix, priority, gwlist) VALUES ('0', '1000', 0, '')", database: name)
        let sim = try SimulatorProcess(["--heartbeat", "1"])
        defer { sim.kill() }
        let cfg = writeTemp(Self.script(dbURL: url, eslPort: sim.port))
        defer { try? FileManager.default.removeItem(atPath: cfg) }

        // It passes the full check, with a notice naming the 3.x form of the quoted output variable.
        let (status, check) = try BinaryRunner.run(["-c", "-f", cfg], timeout: 30)
        XCTAssertEqual(status, 0, check)
        XCTAssertTrue(check.contains("\"$var(output)\" is taken as $var(output)"), check)

        let sy = BinaryRunner(args: ["-f", cfg])
        try sy.start()
        defer { sy.process.interrupt(); _ = sy.wait(timeout: 10) }
        XCTAssertTrue(sy.waitForReady(timeout: 20), sy.output)
        XCTAssertTrue(TestServers.waitUntil(20) { ((try? sim.commands()) ?? []).contains("event json DTMF") }, sy.output)
        let call = try sim.call("1000", "1")
        _ = try sim.call("2000", "1")   // not a support number
        XCTAssertTrue(sy.waitFor("ARTICLE transferred \(call): +OK Job-UUID", timeout: 10), sy.output)
        XCTAssertEqual(try sim.commands().filter { $0.hasPrefix("bgapi ") }, ["bgapi uuid_transfer \(call) -aleg 1001"])
    }

    /// --syntax-only knows module aliases: cachedb_local.so is cache_local of this build.
    func testSyntaxOnlyKnowsModuleAliases() throws {
        let cfg = writeTemp(Self.script(dbURL: "mysql://u:p@localhost/db", eslPort: 8021))
        defer { try? FileManager.default.removeItem(atPath: cfg) }
        let (status, out) = try BinaryRunner.run(["--syntax-only", "-f", cfg], timeout: 30)
        XCTAssertEqual(status, 0, out)
        XCTAssertFalse(out.contains("not part of this build"), out)
        XCTAssertTrue(out.contains("syntax ok"), out)
    }
}
