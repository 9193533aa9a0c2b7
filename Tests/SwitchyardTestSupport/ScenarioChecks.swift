// The DB users end to end on a server driver: the real `switchyard` binary loading drouting rules and the
// freeswitch_scripting boxes from a scratch database built from the schema files shipped for that server.
import Foundation
import XCTest

public struct ScenarioChecks {
    public let cli: SQLCLI
    /// "db_mysql" / "db_postgres"
    public let module: String
    /// "mysql" / "postgres" (the schema file's name)
    public let schema: String

    public init(cli: SQLCLI, module: String, schema: String) {
        self.cli = cli
        self.module = module
        self.schema = schema
    }

    func scratchName(_ what: String) -> String { "sy_\(what)_\(UUID().uuidString.prefix(8).lowercased())" }

    /// drouting reads dr_rules/dr_gateways/dr_carriers (OpenSIPS names, version table) and routes by them.
    public func drouting() throws {
        let name = scratchName("dr")
        let url = try cli.createDatabase(name)
        defer { cli.dropDatabase(name) }
        try cli.load("Plugins/drouting/schema/\(schema).sql", database: name)
        try cli.run("""
            INSERT INTO dr_gateways (gwid, type, address, strip, probe_mode, state) VALUES ('gw1', 0, '127.0.0.1:5099', 0, 0, 0);
            INSERT INTO dr_carriers (carrierid, gwlist, flags, state) VALUES ('c1', 'gw1', 0, 0);
            INSERT INTO dr_rules (groupid, prefix, priority, gwlist, sort_alg) VALUES ('0', '1000', 0, '', 'N');
            INSERT INTO dr_rules (groupid, prefix, priority, gwlist, sort_alg) VALUES ('1', '49', 0, 'gw1', 'N');
            INSERT INTO dr_rules (groupid, prefix, priority, gwlist, sort_alg) VALUES ('1', '33', 0, '#c1', 'N');
            """, database: name)
        let cfg = writeTemp("""
            log_level = 3
            udp_workers = 2
            loadmodule "\(module).so"
            loadmodule "drouting.so"
            modparam("drouting", "db_url", "\(url)")
            startup_route {
                $ru = "sip:1000@example.com";
                if (do_routing("0", "C")) { xlog("L_NOTICE", "CHECK 1000 in group 0\\n"); }
                $ru = "sip:2000@example.com";
                if (!do_routing("0", "C")) { xlog("L_NOTICE", "CHECK 2000 not in group 0\\n"); }
                $ru = "sip:4930123@example.com";
                if (do_routing("1")) { xlog("L_NOTICE", "CHECK 4930123 -> $ru\\n"); }
                $ru = "sip:3312@example.com";
                if (do_routing("1")) { xlog("L_NOTICE", "CHECK 3312 -> $ru\\n"); }
            }
            """)
        defer { try? FileManager.default.removeItem(atPath: cfg) }
        let sy = BinaryRunner(args: ["-f", cfg])
        try sy.start()
        defer { sy.process.interrupt(); _ = sy.wait(timeout: 10) }
        XCTAssertTrue(sy.waitForReady(timeout: 20), sy.output)
        XCTAssertTrue(sy.waitFor("CHECK 3312", timeout: 5), sy.output)
        let checks = sy.lines.filter { $0.contains("CHECK ") }.map { String($0[$0.range(of: "CHECK ")!.lowerBound...]) }
        XCTAssertEqual(checks, ["CHECK 1000 in group 0", "CHECK 2000 not in group 0",
                                "CHECK 4930123 -> sip:4930123@127.0.0.1:5099", "CHECK 3312 -> sip:3312@127.0.0.1:5099"],
                       sy.output)
        XCTAssertFalse(sy.output.contains("ERROR"), sy.output)
    }

    /// freeswitch_scripting's `freeswitch` table: the box of the row is connected and subscribed.
    public func freeswitchTable() throws {
        let sim = try SimulatorProcess(["--heartbeat", "1"])
        defer { sim.kill() }
        let name = scratchName("fs")
        let url = try cli.createDatabase(name)
        defer { cli.dropDatabase(name) }
        try cli.load("Plugins/freeswitch_scripting/schema/\(schema).sql", database: name)
        try cli.run("INSERT INTO freeswitch (username, password, ip, port, events_csv) "
                    + "VALUES (NULL, 'ClueCon', '127.0.0.1', \(sim.port), 'DTMF,HEARTBEAT')", database: name)
        let cfg = writeTemp("""
            log_level = 3
            loadmodule "\(module).so"
            loadmodule "freeswitch.so"
            loadmodule "freeswitch_scripting.so"
            modparam("freeswitch_scripting", "db_url", "\(url)")
            event_route[E_FREESWITCH] { xlog("L_NOTICE", "EVENT $param(name)\\n"); }
            """)
        defer { try? FileManager.default.removeItem(atPath: cfg) }
        let sy = BinaryRunner(args: ["-f", cfg])
        try sy.start()
        defer { sy.process.interrupt(); _ = sy.wait(timeout: 10) }
        XCTAssertTrue(sy.waitForReady(timeout: 20), sy.output)
        XCTAssertTrue(TestServers.waitUntil(20) {
            Set(((try? sim.commands()) ?? []).filter { $0.hasPrefix("event json ") })
                == ["event json DTMF", "event json HEARTBEAT"]
        }, "\(sy.output)\n\((try? sim.commands()) ?? [])")
        XCTAssertTrue(sy.waitFor("EVENT HEARTBEAT", timeout: 10), sy.output)
    }

    /// A wrong password (or an unreachable server) at startup stops startup, naming the URL with the password masked.
    public func startupFails(url: String, password: String, expect: String) throws {
        let cfg = writeTemp("""
            loadmodule "\(module).so"
            loadmodule "drouting.so"
            modparam("drouting", "db_url", "\(url)")
            """)
        defer { try? FileManager.default.removeItem(atPath: cfg) }
        let (status, out) = try BinaryRunner.run(["-f", cfg], timeout: 30)
        XCTAssertEqual(status, 1, out)
        let masked = SQLCLI.maskedForm(url)
        XCTAssertTrue(out.contains("cannot connect to \(masked)"), "expected 'cannot connect to \(masked)' in:\n\(out)")
        XCTAssertTrue(out.contains(expect), "expected '\(expect)' in:\n\(out)")
        XCTAssertFalse(out.contains(password), "the password appears in the output:\n\(out)")
        XCTAssertFalse(out.contains("ready"), out)
    }
}

extension SQLCLI {
    /// scheme://user:***@rest
    public static func maskedForm(_ url: String) -> String {
        guard let sep = url.range(of: "://"), let at = url[sep.upperBound...].firstIndex(of: "@") else { return url }
        let creds = url[sep.upperBound..<at]
        guard let colon = creds.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }
}
