import Foundation
import XCTest
import SwitchyardMI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The `drouting` plugin (Plugins/drouting, libdrouting.so) over `db_sqlite` on real SQLite files built with the sqlite3
/// CLI from Plugins/drouting/schema/sqlite.sql: spec §7.1 (D1–D20 as far as they apply without SIP), §7.2 timerecs,
/// flags, weights, MI, reloads (concurrent with routing, failing ones keeping the old data).
final class DroutingModuleTests: XCTestCase {
    static let schema = Repo.root.appendingPathComponent("Plugins/drouting/schema/sqlite.sql").path

    /// Local-time Unix seconds for a date.
    static func local(_ y: Int, _ m: Int, _ d: Int, _ h: Int = 0, _ mi: Int = 0, tz: TimeZone = .current) -> Int {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = tz
        return Int(c.date(from: DateComponents(year: y, month: m, day: d, hour: h, minute: mi))!.timeIntervalSince1970)
    }
    static let monday = local(2024, 6, 3, 10)
    static let saturday = local(2024, 6, 8, 10)

    static let fixture = """
    INSERT INTO dr_gateways (gwid, type, address, strip, pri_prefix, state, probe_mode, attrs) VALUES
      ('gw1', 1, '10.0.0.1', 0, NULL, 0, 0, 'a=1'),
      ('gw2', 1, '10.0.0.2:5070', 2, '00', 0, 0, 'a=2'),
      ('gw3', 2, '10.0.0.3', 0, '+', 2, 0, NULL),
      ('gw4', 1, 'sip:10.0.0.4;transport=tcp', 0, NULL, 0, 0, NULL),
      ('gw5', 1, '10.0.0.5', 10, NULL, 0, 0, NULL);
    INSERT INTO dr_carriers (carrierid, gwlist, flags, state, attrs) VALUES
      ('cr1', 'gw2,gw1', 0, 0, 'c=1'),
      ('cr2', 'gw3,gw4,gw1', 1, 0, NULL);
    INSERT INTO dr_rules (ruleid, groupid, prefix, timerec, priority, gwlist, attrs) VALUES
      (1, '0', '40', NULL, 0, 'gw1', 'r1'),
      (2, '0', '4021', NULL, 0, 'gw2,gw1', 'r2'),
      (3, '0', '4021', '20200101T000000||24H|weekly|||SA,SU', 10, '#cr1', 'r3'),
      (4, '0,1', '', NULL, 0, 'gw1', 'def'),
      (5, '1', '44', NULL, 0, 'gw3,gw2', 'r5'),
      (6, '1', '45', NULL, 0, '#cr2', 'r6'),
      (7, '0', '46', NULL, 0, 'gw1=0,gw2=0', ''),
      (8, '0', '47', NULL, 0, 'gw1=100,gw2=0', ''),
      (9, '3', '48', NULL, 0, 'gw1=75,gw2=25', '');
    """

    private var files: [String] = []

    override func tearDown() {
        for f in files { try? FileManager.default.removeItem(atPath: f) }
        files = []
    }

    /// A new SQLite file with the schema and `sql` applied.
    private func database(_ sql: String = DroutingModuleTests.fixture) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dr-\(UUID().uuidString).db").path
        files.append(path)
        try sqlite(path, (try String(contentsOfFile: Self.schema, encoding: .utf8)) + "\n" + sql)
        return path
    }

    private func sqlite(_ path: String, _ sql: String) throws { try SQLiteCLI.run(path, sql) }

    static let route = """
    event_route[E_DR] {
        $var(ra) = NULL; $var(ga) = NULL; $var(ca) = NULL;
        $ru = $param(ru);
        if ($param(flags) == "check") { do_routing($param(group), "C", , $var(ra)); }
        else { do_routing($param(group), $param(flags), , $var(ra), $var(ga), $var(ca)); }
        xlog("$param(case) rc=$rc ru=$ru ids=$(avp(gwid)[0]),$(avp(gwid)[1]),$(avp(gwid)[2]) alt=$(avp(ruri)[0]),$(avp(ruri)[1]) pfx=$avp(rpfx) rid=$avp(rid) cr=$(avp(crid)[0]),$(avp(crid)[1]) ra=$var(ra) ga=$var(ga) ca=$var(ca)");
        if ($param(next) >= 1) { use_next_gw(); xlog("$param(case) next1 rc=$rc ru=$ru"); }
        if ($param(next) >= 2) { use_next_gw(); xlog("$param(case) next2 rc=$rc ru=$ru"); }
        if ($param(next) >= 3) { use_next_gw(); xlog("$param(case) next3 rc=$rc ru=$ru"); }
        if ($param(next) >= 4) { use_next_gw(); xlog("$param(case) next4 rc=$rc ru=$ru"); }
        xlog("$param(case) done");
    }
    """

    private func harness(db: String, time: Int, body: String = DroutingModuleTests.route, extra: [String] = []) -> ServerHarness {
        ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "db_sqlite.so"
        loadmodule "drouting.so"
        modparam("drouting", "db_url", "sqlite://\(db)")
        modparam("drouting", "gw_id_avp", "$avp(gwid)")
        modparam("drouting", "ruri_avp", "$avp(ruri)")
        modparam("drouting", "rule_id_avp", "$avp(rid)")
        modparam("drouting", "rule_prefix_avp", "$avp(rpfx)")
        modparam("drouting", "carrier_id_avp", "$avp(crid)")
        modparam("drouting", "fixed_time", \(time))
        modparam("drouting", "random_seed", 42)
        \(extra.joined(separator: "\n"))
        \(body)
        """)
    }

    private func start(_ h: ServerHarness, workers: Int = 2, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(h.prepare(workers: workers).map(\.description), [], log(h), file: file, line: line)
        try h.start()
    }

    private func mi(_ h: ServerHarness, _ method: String, _ params: String = "{}") -> JSONValue? {
        h.server.mi.dispatcher.response(toText: #"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#)
    }

    private func log(_ h: ServerHarness) -> String { h.messages.joined(separator: "\n") }

    /// Runs one case through event_route[E_DR] and returns its log lines (without the case name).
    @discardableResult
    private func route(_ h: ServerHarness, _ name: String, ru: String, group: Int?, flags: String = "", next: Int = 0,
                       file: StaticString = #filePath, line: UInt = #line) -> [String] {
        var params: [(name: String, value: Value)] = [("case", .str(name)), ("ru", .str(ru)), ("flags", .str(flags)),
                                                      ("next", .int(next))]
        if let group { params.append(("group", .int(group))) }
        XCTAssertEqual(h.server.raiseEvent("E_DR", params), 0, file: file, line: line)
        XCTAssertTrue(h.waitFor("\(name) done"), "no '\(name) done' in:\n" + log(h), file: file, line: line)
        return h.messages.filter { $0.hasPrefix(name + " ") && !$0.hasSuffix(" done") }.map { String($0.dropFirst(name.count + 1)) }
    }

    // MARK: - §7.1

    struct Case {
        let name: String, ru: String, group: Int, flags: String, next: Int
        let expect: [String] // substrings of the first line, then the next-lines in order
    }

    func testSpecTableMonday() throws {
        let h = harness(db: try database(), time: Self.monday)
        try start(h)
        defer { h.stop() }
        let cases: [Case] = [
            Case(name: "D1", ru: "sip:40211234567@proxy.lan;user=phone", group: 0, flags: "", next: 0, expect: [
                "rc=1 ru=sip:00211234567@10.0.0.2:5070;user=phone ids=gw2,gw1,<null> alt=sip:40211234567@10.0.0.1;user=phone,<null> pfx=4021 rid=2 cr=,"]),
            Case(name: "D3", ru: "sip:4099@x", group: 0, flags: "", next: 0, expect: ["rc=1 ru=sip:4099@10.0.0.1 ids=gw1,<null>"]),
            Case(name: "D4", ru: "sip:+4021555@x", group: 0, flags: "", next: 0, expect: ["rc=1 ru=sip:+4021555@10.0.0.1 ", "pfx= rid=4"]),
            Case(name: "D5", ru: "sip:5551234@x", group: 0, flags: "", next: 0, expect: ["rc=1 ru=sip:5551234@10.0.0.1 ", "rid=4"]),
            Case(name: "D6", ru: "sip:4021@x", group: 0, flags: "L", next: 0, expect: ["rc=1 ru=sip:0021@10.0.0.2:5070 ids=gw2,gw1,<null> alt=sip:4021@10.0.0.1,"]),
            Case(name: "D7", ru: "sip:40215@x", group: 0, flags: "L", next: 0, expect: ["rc=-1 ru=sip:40215@x "]),
            Case(name: "D8", ru: "sip:40211234567@x", group: 0, flags: "check", next: 0, expect: [
                "rc=1 ru=sip:40211234567@x ids=<null>,<null>,<null> alt=<null>,<null> pfx=4021 rid=2 cr=<null>,<null> ra=r2 ga=<null> ca=<null>"]),
            Case(name: "D9", ru: "sip:441234@x", group: 1, flags: "", next: 0, expect: ["rc=1 ru=sip:001234@10.0.0.2:5070 ids=gw2,<null>,<null> alt=<null>,"]),
            Case(name: "D10", ru: "sip:3333@x", group: 1, flags: "", next: 0, expect: ["rc=1 ru=sip:3333@10.0.0.1 "]),
            Case(name: "D11", ru: "sip:4021@x", group: 2, flags: "", next: 0, expect: ["rc=-1 ru=sip:4021@x "]),
            Case(name: "D12", ru: "sip:40211234567@proxy.lan;user=phone", group: 0, flags: "", next: 2, expect: [
                "rc=1 ru=sip:00211234567@10.0.0.2:5070;user=phone", "rc=1 ru=sip:40211234567@10.0.0.1;user=phone", "rc=-1 "]),
            Case(name: "D13", ru: "sip:4512@x", group: 1, flags: "", next: 0, expect: ["rc=1 ru=sip:4512@10.0.0.4;transport=tcp ids=gw4,<null>,<null> ", "cr=cr2,<null>"]),
            Case(name: "D14", ru: "sip:4699@x", group: 0, flags: "W", next: 1, expect: ["rc=1 ru=sip:4699@10.0.0.1 ids=gw1,gw2", "rc=1 ru=sip:0099@10.0.0.2:5070"]),
            Case(name: "D15", ru: "sip:4799@x", group: 0, flags: "W", next: 1, expect: ["rc=1 ru=sip:4799@10.0.0.1 ids=gw1,gw2", "rc=1 ru=sip:0099@10.0.0.2:5070"]),
            Case(name: "D16", ru: "sip:40211234567@x", group: 0, flags: "F", next: 4, expect: [
                "rc=1 ru=sip:00211234567@10.0.0.2:5070 ", "rc=1 ru=sip:40211234567@10.0.0.1", "rc=1 ru=sip:40211234567@10.0.0.1",
                "rc=1 ru=sip:40211234567@10.0.0.1", "rc=-1 "]),
            Case(name: "ATTRS", ru: "sip:4021999@x", group: 0, flags: "", next: 0, expect: ["ra=r2 ga=a=2 ca="]),
            Case(name: "TEL", ru: "tel:4099;phone-context=x", group: 0, flags: "", next: 0, expect: ["rc=1 ru=sip:4099@10.0.0.1;phone-context=x "]),
            Case(name: "PW", ru: "sips:4099:secret@host:5061;transport=tls?X=1", group: 0, flags: "", next: 0, expect: [
                "rc=1 ru=sip:4099:secret@10.0.0.1;transport=tls?X=1 "]),
        ]
        for c in cases {
            let lines = route(h, c.name, ru: c.ru, group: c.group, flags: c.flags, next: c.next)
            XCTAssertGreaterThanOrEqual(lines.count, 1, c.name)
            guard let first = lines.first else { continue }
            if c.name == "D4" || c.name == "D5" || c.name == "D13" || c.name == "D16" {
                if c.name == "D16" {
                    XCTAssertEqual(lines.count, 5, "\(c.name): \(lines)")
                    for (i, e) in c.expect.enumerated() where i < lines.count {
                        XCTAssertTrue(lines[i].contains(e), "\(c.name)[\(i)]: '\(lines[i])' lacks '\(e)'")
                    }
                } else {
                    for e in c.expect { XCTAssertTrue(first.contains(e), "\(c.name): '\(first)' lacks '\(e)'") }
                }
                continue
            }
            XCTAssertTrue(first.contains(c.expect[0]), "\(c.name): '\(first)' lacks '\(c.expect[0])'")
            for (i, e) in c.expect.dropFirst().enumerated() {
                XCTAssertTrue(i + 1 < lines.count && lines[i + 1].contains(e), "\(c.name) next\(i + 1): \(lines) lacks '\(e)'")
            }
        }

        // D20: MI dr_number_routing (3.x JSON).
        let nr = mi(h, "dr_number_routing", #"{"group_id":0,"number":"40211234567"}"#)?["result"]
        XCTAssertEqual(nr?["Matched Prefix"]?.stringValue, "4021")
        XCTAssertEqual(nr?["GW List"]?[0]?["GATEWAY"]?.stringValue, "gw2")
        XCTAssertEqual(nr?["GW List"]?[1]?["GATEWAY"]?.stringValue, "gw1")
        XCTAssertEqual(nr?["ATTRS"]?.stringValue, "r2")
        XCTAssertEqual(mi(h, "dr_number_routing", #"{"number":"40211234567"}"#)?["result"]?.stringValue, "No match")

        // D19: disable gw2 over MI, then D1 again.
        XCTAssertEqual(mi(h, "dr_gw_status", #"{"gw_id":"gw2","status":0}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(mi(h, "dr_gw_status", #"{"gw_id":"gw2"}"#)?["result"]?["State"]?.stringValue, "Disabled MI")
        XCTAssertEqual(mi(h, "dr_gw_status", #"{"gw_id":"gw3"}"#)?["result"]?["State"]?.stringValue, "Inactive")
        XCTAssertEqual(mi(h, "dr_gw_status", #"{"gw_id":"nope"}"#)?["error"]?["code"]?.intValue, 404)
        let d19 = route(h, "D19", ru: "sip:40211234567@proxy.lan;user=phone", group: 0)
        XCTAssertTrue(d19.first?.contains("rc=1 ru=sip:40211234567@10.0.0.1;user=phone ids=gw1,<null>") == true, "\(d19)")
        let list = mi(h, "dr_gw_status")?["result"]?["Gateways"]
        XCTAssertEqual(list?[0]?["ID"]?.stringValue, "gw1")
        XCTAssertEqual(list?[0]?["ATTRS"]?.stringValue, "a=1")
        XCTAssertEqual(list?[1]?["State"]?.stringValue, "Disabled MI")
        // Reload keeps the MI state (inherit_state default).
        XCTAssertEqual(mi(h, "dr_reload")?["result"]?.stringValue, "OK")
        XCTAssertEqual(mi(h, "dr_gw_status", #"{"gw_id":"gw2"}"#)?["result"]?["State"]?.stringValue, "Disabled MI")
        XCTAssertEqual(mi(h, "dr_gw_status", #"{"gw_id":"gw2","status":1}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(mi(h, "dr_gw_status", #"{"gw_id":"gw2"}"#)?["result"]?["State"]?.stringValue, "Active")

        // Carriers.
        XCTAssertEqual(mi(h, "dr_carrier_status", #"{"carrier_id":"cr1"}"#)?["result"]?["Enabled"]?.stringValue, "yes")
        XCTAssertEqual(mi(h, "dr_carrier_status", #"{"carrier_id":"cr1","status":0}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(mi(h, "dr_carrier_status", #"{"carrier_id":"cr1"}"#)?["result"]?["Enabled"]?.stringValue, "no ")
        XCTAssertEqual(mi(h, "dr_carrier_status")?["result"]?["Carriers"]?[0]?["ATTRS"]?.stringValue, "c=1")
        XCTAssertEqual(mi(h, "dr_carrier_status", #"{"carrier_id":"x"}"#)?["error"]?["code"]?.intValue, 404)
    }

    func testSpecTableSaturday() throws {
        let h = harness(db: try database(), time: Self.saturday)
        try start(h)
        defer { h.stop() }
        // D2: rule 3 (weekend), carrier cr1 in definition order.
        let d2 = route(h, "D2", ru: "sip:40211234567@proxy.lan;user=phone", group: 0)
        XCTAssertTrue(d2.first?.contains("rc=1 ru=sip:00211234567@10.0.0.2:5070;user=phone ids=gw2,gw1,<null> alt=sip:40211234567@10.0.0.1;user=phone,<null> pfx=4021 rid=3 cr=cr1,cr1 ra=r3 ga=a=2 ca=c=1") == true, "\(d2)")
        let nr = mi(h, "dr_number_routing", #"{"group_id":0,"number":"40211234567"}"#)?["result"]
        XCTAssertEqual(nr?["GW List"]?[0]?["CARRIER"]?.stringValue, "cr1")
    }

    func testRouteToGWAndCarrierAndGWChecks() throws {
        let h = harness(db: try database(), time: Self.monday, body: """
        startup_route {
            $ru = "sip:123@x;user=phone";
            route_to_gw("gw5"); xlog("D17 rc=$rc ru=$ru");
            $ru = "sip:123@x";
            route_to_gw("gw1,nope,gw4"); xlog("R2 rc=$rc ru=$ru alt=$(avp(ruri)[0]) ids=$(avp(gwid)[0]),$(avp(gwid)[1])");
            route_to_gw("gw1,,gw2"); xlog("R3 rc=$rc");
            $ru = "sip:777@x";
            route_to_carrier("cr2"); xlog("C1 rc=$rc ru=$ru ids=$(avp(gwid)[0]),$(avp(gwid)[1])");
            route_to_carrier("nope"); xlog("C2 rc=$rc");
            dr_is_gw("sip:10.0.0.2:5070", 1); xlog("G1 rc=$rc");
            dr_is_gw("sip:10.0.0.2:5071", 1); xlog("G2 rc=$rc");
            dr_is_gw("sip:10.0.0.2:5071", 1, "n"); xlog("G3 rc=$rc");
            dr_is_gw("sip:10.0.0.1:5080", -1); xlog("D18 rc=$rc");
            dr_is_gw("sip:10.0.0.1:5080", -1, "n", $var(ga)); xlog("D18n rc=$rc ga=$var(ga)");
            dr_is_gw("sip:10.0.0.2", 2); xlog("G4 rc=$rc");
            $ru = "sip:4455@10.0.0.2:5070";
            goes_to_gw(1, "spi"); xlog("G5 rc=$rc ru=$ru id=$avp(gwid)");
            is_from_gw(); xlog("F1 rc=$rc");
        }
        """)
        try start(h)
        defer { h.stop() }
        let out = log(h)
        for line in ["D17 rc=1 ru=sip:10.0.0.5;user=phone", "R2 rc=1 ru=sip:123@10.0.0.1 alt=sip:123@10.0.0.4;transport=tcp ids=gw1,gw4",
                     "R3 rc=-1", "C1 rc=1 ru=sip:777@10.0.0.4;transport=tcp ids=gw4,<null>", "C2 rc=-1",
                     "G1 rc=1", "G2 rc=-1", "G3 rc=1", "D18 rc=-1", "D18n rc=1 ga=a=1", "G4 rc=-1",
                     "G5 rc=1 ru=sip:0055@10.0.0.2:5070 id=gw2", "F1 rc=-1"] {
            XCTAssertTrue(h.messages.contains(line), "missing '\(line)' in:\n" + out)
        }
    }

    // MARK: - weights

    /// Spec §1.3 step 6 / §6 item 5: a matched rule's `routeid` route runs (with C too); names are resolved at load,
    /// unknown ones are logged and ignored; a drop in the route fails do_routing.
    func testRuleRouteID() throws {
        let db = try database(Self.fixture + """

        INSERT INTO dr_rules (ruleid, groupid, prefix, priority, routeid, gwlist) VALUES
          (11, '0', '5011', 0, 'mark', 'gw1'), (12, '0', '5022', 0, 'dropper', 'gw1'), (13, '0', '5033', 0, 'missing', 'gw1');
        """)
        let h = harness(db: db, time: Self.monday, body: """
        route[mark] { $var(mark) = $var(mark) + 1; xlog("RT in mark ru=$ru"); }
        route[dropper] { xlog("RT3 in dropper"); drop; }
        startup_route {
            $var(mark) = 0;
            $ru = "sip:5011@x"; do_routing(0); xlog("RT1 rc=$rc mark=$var(mark) ru=$ru");
            $ru = "sip:5011@x"; do_routing(0, "C"); xlog("RT2 rc=$rc mark=$var(mark) ru=$ru rid=$avp(rid)");
            $ru = "sip:5033@x"; do_routing(0); xlog("RT4 rc=$rc ru=$ru");
            $ru = "sip:4099@x"; do_routing(0); xlog("RT5 rc=$rc mark=$var(mark)");
            $ru = "sip:5022@x"; do_routing(0); xlog("RT3 after drop");
        }
        """)
        try start(h)
        defer { h.stop() }
        let out = log(h)
        for line in ["RT in mark ru=sip:5011@x", "RT1 rc=1 mark=1 ru=sip:5011@10.0.0.1", "RT2 rc=1 mark=2 ru=sip:5011@x rid=11",
                     "RT4 rc=1 ru=sip:5033@10.0.0.1", "RT5 rc=1 mark=2", "RT3 in dropper"] {
            XCTAssertTrue(h.messages.contains(line), "missing '\(line)' in:\n" + out)
        }
        // The drop ends the script too (the core's route_run), and do_routing returned -1 without routing.
        XCTAssertFalse(out.contains("RT3 after drop"), out)
        XCTAssertTrue(out.contains("route 'missing' of rule 13 does not exist: ignored"), out)
        // Names are resolved again on reload.
        XCTAssertEqual(mi(h, "dr_reload")?["result"]?.stringValue, "OK")
        XCTAssertEqual(h.messages.filter { $0.contains("route 'missing' of rule 13 does not exist") }.count, 2, out)
    }

    func testWeightedOrderingDistribution() throws {
        let h = harness(db: try database(), time: Self.monday, body: """
        startup_route {
            $var(i) = 0; $var(first1) = 0;
            while ($var(i) < 4000) {
                $ru = "sip:4800@x";
                do_routing(3, "W");
                if ($avp(gwid) == "gw1") { $var(first1) = $var(first1) + 1; }
                $var(i) = $var(i) + 1;
            }
            xlog("W first1=$var(first1)");
            $var(i) = 0; $var(z) = 0;
            while ($var(i) < 200) {
                $ru = "sip:4700@x";
                do_routing(0, "W");
                if ($avp(gwid) == "gw1" && $(avp(gwid)[1]) == "gw2") { $var(z) = $var(z) + 1; }
                $var(i) = $var(i) + 1;
            }
            xlog("W zero=$var(z)");
        }
        """)
        try start(h)
        defer { h.stop() }
        let line = h.messages.first { $0.hasPrefix("W first1=") } ?? ""
        let n = Int(line.dropFirst("W first1=".count)) ?? -1
        XCTAssertTrue((2800...3200).contains(n), "gw1 (weight 75 of 100) first in \(n)/4000\n" + log(h))
        XCTAssertTrue(h.messages.contains("W zero=200"), log(h))
    }

    // MARK: - reloads

    func testReloadUnderConcurrentLookups() throws {
        let db = try database()
        let h = harness(db: db, time: Self.monday, body: """
        event_route[E_LOOP] {
            $var(i) = 0; $var(bad) = 0;
            while ($var(i) < 3000) {
                $ru = "sip:4099@x";
                do_routing(0);
                if ($rc != 1) { $var(bad) = $var(bad) + 1; }
                else if ($ru != "sip:4099@10.0.0.1" && $ru != "sip:4099@10.0.0.9") { $var(bad) = $var(bad) + 1; xlog("odd $ru"); }
                $var(i) = $var(i) + 1;
            }
            xlog("loop $param(n) bad=$var(bad)");
        }
        """)
        try start(h, workers: 4)
        defer { h.stop() }
        for n in 0..<4 { XCTAssertEqual(h.server.raiseEvent("E_LOOP", [("n", .int(n))]), 0) }
        for i in 0..<20 {
            try sqlite(db, "UPDATE dr_gateways SET address = '\(i % 2 == 0 ? "10.0.0.9" : "10.0.0.1")' WHERE gwid = 'gw1';")
            XCTAssertEqual(mi(h, "dr_reload")?["result"]?.stringValue, "OK", log(h))
        }
        for n in 0..<4 { XCTAssertTrue(h.waitFor("loop \(n) bad=", timeout: 60), log(h)) }
        for n in 0..<4 { XCTAssertTrue(h.messages.contains("loop \(n) bad=0"), log(h)) }
    }

    func testFailedReloadKeepsOldDataAndBadRowsAreSkipped() throws {
        let db = try database(Self.fixture + """
        INSERT INTO dr_rules (groupid, prefix, gwlist) VALUES ('0', '12a', 'gw1');
        INSERT INTO dr_rules (groupid, prefix, gwlist) VALUES ('0', '13', 'gw1;gw2');
        INSERT INTO dr_rules (groupid, prefix, timerec, gwlist) VALUES ('0', '14', 'garbage', 'gw1');
        INSERT INTO dr_rules (groupid, prefix, gwlist) VALUES ('x', '15', 'gw1');
        INSERT INTO dr_rules (groupid, prefix, gwlist) VALUES ('0', '16', 'gw1,nosuch,gw2');
        INSERT INTO dr_gateways (gwid, address, probe_mode) VALUES ('gw9', '10.0.0.9', 7);
        """)
        let h = harness(db: db, time: Self.monday)
        try start(h)
        defer { h.stop() }
        let out = log(h)
        for s in ["prefix '12a'", "rule 11: bad gwlist", "rule 12: bad timerec 'garbage'", "bad groupid 'x'",
                  "unknown gateway 'nosuch'", "bad probe_mode 7"] {
            XCTAssertTrue(out.contains(s), "no log about \(s):\n" + out)
        }
        let l16 = route(h, "U16", ru: "sip:1600@x", group: 0)
        XCTAssertTrue(l16.first?.contains("ids=gw1,gw2,<null>") == true, "\(l16)")
        let l13 = route(h, "U13", ru: "sip:1300@x", group: 0)
        XCTAssertTrue(l13.first?.contains("rid=4") == true, "skipped rule 13 → default: \(l13)")

        try sqlite(db, "DROP TABLE dr_carriers;")
        let r = mi(h, "dr_reload")
        XCTAssertEqual(r?["error"]?["code"]?.intValue, 500, "\(String(describing: r))")
        XCTAssertTrue(r?["error"]?["data"]?.stringValue?.contains("dr_carriers") == true, "\(String(describing: r))")
        let d1 = route(h, "AFTER", ru: "sip:40211234567@x", group: 0)
        XCTAssertTrue(d1.first?.contains("rc=1 ru=sip:00211234567@10.0.0.2:5070") == true, "\(d1)")

        try sqlite(db, "UPDATE version SET table_version = 9 WHERE table_name = 'dr_rules';")
        let r2 = mi(h, "dr_reload")
        XCTAssertTrue(r2?["error"]?["data"]?.stringValue?.contains("version 9") == true, "\(String(describing: r2))")
    }

    /// dr_reload reads the file the path names now: replaced by `mv`, deleted (the reload fails and says so), junk (fails),
    /// repaired, deleted and created again.
    func testReloadReadsTheFileThatIsThereNow() throws {
        let db = try database()
        let h = harness(db: db, time: Self.monday)
        try start(h)
        defer { h.stop() }
        func gw1(_ name: String) -> String {
            route(h, name, ru: "sip:4000@x", group: 0).first ?? ""
        }
        func replacement(_ address: String) throws -> String {
            try database(Self.fixture.replacingOccurrences(of: "'gw1', 1, '10.0.0.1'", with: "'gw1', 1, '\(address)'"))
        }
        func reload() -> JSONValue? { mi(h, "dr_reload") }
        XCTAssertTrue(gw1("A").contains("ru=sip:4000@10.0.0.1"), gw1("A0"))

        // mv new.db routes.db
        XCTAssertEqual(rename(try replacement("10.0.0.99"), db), 0)
        XCTAssertEqual(reload()?["result"]?.stringValue, "OK", log(h))
        XCTAssertTrue(gw1("B").contains("ru=sip:4000@10.0.0.99"), log(h))

        // Deleted: the reload fails and names the file; the old rules stay.
        for suffix in ["", "-wal", "-shm"] { unlink(db + suffix) }
        let gone = reload()
        XCTAssertEqual(gone?["error"]?["code"]?.intValue, 500, "\(String(describing: gone))")
        XCTAssertTrue(gone?["error"]?["data"]?.stringValue?.contains(db) == true, "\(String(describing: gone))")
        XCTAssertTrue(gw1("C").contains("ru=sip:4000@10.0.0.99"), log(h))

        // Junk in its place: fails; repaired by another mv: picked up.
        XCTAssertTrue(FileManager.default.createFile(atPath: db, contents: Data(repeating: 0x41, count: 8192)))
        XCTAssertEqual(reload()?["error"]?["code"]?.intValue, 500, log(h))
        XCTAssertEqual(rename(try replacement("10.0.0.77"), db), 0)
        XCTAssertEqual(reload()?["result"]?.stringValue, "OK", log(h))
        XCTAssertTrue(gw1("D").contains("ru=sip:4000@10.0.0.77"), log(h))

        // Deleted and created again at the same path with the sqlite3 CLI.
        for suffix in ["", "-wal", "-shm"] { unlink(db + suffix) }
        try sqlite(db, (try String(contentsOfFile: Self.schema, encoding: .utf8)) + "\n"
                   + Self.fixture.replacingOccurrences(of: "'gw1', 1, '10.0.0.1'", with: "'gw1', 1, '10.0.0.55'"))
        XCTAssertEqual(reload()?["result"]?.stringValue, "OK", log(h))
        XCTAssertTrue(gw1("E").contains("ru=sip:4000@10.0.0.55"), log(h))
    }

    func testStartupFailsWithoutDBURLOrTables() throws {
        let h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "db_sqlite.so"
        loadmodule "drouting.so"
        """)
        let errs = h.prepare().map(\.description).joined(separator: "\n") + log(h)
        XCTAssertTrue(errs.contains("db_url is mandatory"), errs)
    }

    // MARK: - §7.2 timerec (through rules: the rule matches iff its timerec does)

    func testTimerecTable() throws {
        let bucharest = TimeZone(identifier: "Europe/Bucharest")!
        let cases: [(rec: String, at: Int, match: Bool)] = [
            ("20200101T080000|8H|weekly|||MO,TU,WE,TH,FR", Self.local(2024, 6, 3, 10), true),
            ("20200101T080000||8H|weekly|||MO,TU,WE,TH,FR", Self.local(2024, 6, 3, 10), true),
            ("20200101T080000|8H|weekly|||MO,TU,WE,TH,FR", Self.local(2024, 6, 3, 16), false),
            ("20200101T080000||8H|weekly|||MO,TU,WE,TH,FR", Self.local(2024, 6, 3, 16), false),
            ("20200101T080000|8H|weekly|||MO,TU,WE,TH,FR", Self.local(2024, 6, 8, 10), false),
            ("20200101T000000|24H|weekly|||SA,SU", Self.local(2024, 6, 9, 13), true),
            ("20200101T000000||24H|weekly|||SA,SU", Self.local(2024, 6, 10, 13), false),
            ("20200101T000000", Self.local(2024, 6, 10, 13), true),
            ("20300101T000000", Self.local(2024, 6, 10, 13), false),
            ("20200101T000000|P1D", Self.local(2020, 1, 1, 12), true),
            ("20200101T000000|P1D", Self.local(2020, 1, 3), false),
            ("20200101T000000||P1D", Self.local(2020, 1, 3), false),
            // bymonth=1 means January (RFC / 3.2+; 2.4's off-by-one is not copied)
            ("20200101T000000|24H|daily|||||||1", Self.local(2021, 1, 15, 10), true),
            ("20200101T000000||24H|daily|||||||1", Self.local(2021, 2, 15, 10), false),
            ("20200101T000000||daily|||||||1", Self.local(2021, 2, 15, 10), true), // 2.4 form, no duration: always
            ("Europe/Bucharest|20200101T080000||8H|daily", Self.local(2024, 1, 10, 8, 30, tz: bucharest), true),
            ("Europe/Bucharest|20200101T080000||8H|daily", Self.local(2024, 1, 10, 7, 30, tz: bucharest), false),
            ("20200101T000000||24H|weekly|||SA,SU & !20200101T120000||1H|daily", Self.local(2024, 6, 8, 12, 30), false),
            ("20200101T000000||24H|weekly|||SA,SU & !20200101T120000||1H|daily", Self.local(2024, 6, 8, 13, 30), true),
            ("(20200101T000000||1H|daily / 20200101T050000||1H|daily)", Self.local(2024, 6, 8, 5, 30), true),
            ("20200101T220000||4H|daily", Self.local(2024, 6, 8, 1, 0), true), // 3.x: wraps past midnight
            ("20200101T000000||24H|monthly|||-1FR", Self.local(2024, 6, 28, 9), true), // last Friday of June 2024
            ("20200101T000000||24H|monthly|||-1FR", Self.local(2024, 6, 21, 9), false),
            ("20200101T000000||24H|daily||2", Self.local(2020, 1, 3, 9), true),
            ("20200101T000000||24H|daily||2", Self.local(2020, 1, 4, 9), false),
        ]
        // One DB, one rule per case (prefix = 100 + index), evaluated at each case's time by a server per distinct time.
        var sql = "INSERT INTO dr_gateways (gwid, address) VALUES ('gw1', '10.0.0.1');\n"
        for (i, c) in cases.enumerated() {
            sql += "INSERT INTO dr_rules (groupid, prefix, timerec, gwlist) VALUES ('0', '\(100 + i)', '\(c.rec)', 'gw1');\n"
        }
        let db = try database(sql)
        for (i, c) in cases.enumerated() {
            let h = harness(db: db, time: c.at)
            try start(h, workers: 1)
            let lines = route(h, "T\(i)", ru: "sip:\(100 + i)@x", group: 0, flags: "check")
            let matched = lines.first?.contains("rc=1") == true
            XCTAssertEqual(matched, c.match, "timerec '\(c.rec)' at \(Date(timeIntervalSince1970: TimeInterval(c.at))): \(lines)\n\(log(h))")
            h.stop()
        }
    }

    /// `sqlite3` output of a query, one `a|b` line per row.
    private func query(_ path: String, _ sql: String) throws -> [String] { try SQLiteCLI.run(path, sql) }

    /// persistent_state: state changes are written back to the tables (on the 30 s timer and when the server stops),
    /// and the next start begins from them; with persistent_state 0 nothing is written.
    func testPersistentStateWrittenBackAndReadOnRestart() throws {
        let db = try database()
        let h = harness(db: db, time: Self.monday)
        try start(h)
        XCTAssertEqual(mi(h, "dr_gw_status", #"{"gw_id":"gw2","status":0}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(mi(h, "dr_gw_status", #"{"gw_id":"gw3","status":1}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(mi(h, "dr_carrier_status", #"{"carrier_id":"cr1","status":0}"#)?["result"]?.stringValue, "OK")
        // Not yet written (the timer runs every 30 s): the DB still has the loaded states.
        XCTAssertEqual(try query(db, "SELECT gwid, state FROM dr_gateways ORDER BY gwid"),
                       ["gw1|0", "gw2|0", "gw3|2", "gw4|0", "gw5|0"])
        h.stop()
        XCTAssertEqual(try query(db, "SELECT gwid, state FROM dr_gateways ORDER BY gwid"),
                       ["gw1|0", "gw2|1", "gw3|0", "gw4|0", "gw5|0"], log(h))
        XCTAssertEqual(try query(db, "SELECT carrierid, state FROM dr_carriers ORDER BY carrierid"), ["cr1|1", "cr2|0"])

        // A restart starts from the written states.
        let h2 = harness(db: db, time: Self.monday)
        try start(h2)
        XCTAssertEqual(mi(h2, "dr_gw_status", #"{"gw_id":"gw2"}"#)?["result"]?["State"]?.stringValue, "Disabled MI")
        XCTAssertEqual(mi(h2, "dr_gw_status", #"{"gw_id":"gw3"}"#)?["result"]?["State"]?.stringValue, "Active")
        h2.stop()

        // persistent_state 0: neither read nor written.
        let h3 = harness(db: db, time: Self.monday, extra: [#"modparam("drouting", "persistent_state", 0)"#])
        try start(h3)
        XCTAssertEqual(mi(h3, "dr_gw_status", #"{"gw_id":"gw2"}"#)?["result"]?["State"]?.stringValue, "Active")
        XCTAssertEqual(mi(h3, "dr_gw_status", #"{"gw_id":"gw1","status":0}"#)?["result"]?.stringValue, "OK")
        h3.stop()
        XCTAssertEqual(try query(db, "SELECT gwid, state FROM dr_gateways ORDER BY gwid"),
                       ["gw1|0", "gw2|1", "gw3|0", "gw4|0", "gw5|0"])
    }
}
