import Foundation
import XCTest
import SwitchyardMI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// Gateways given by name while DNS misbehaves (a FakeDNSServer through SWITCHYARD_DNS_SERVER, in process): a
/// dr_reload whose query gets no answer fails and keeps the old data (MI 500, one log line); a name that no longer
/// exists is dropped by a reload (force_dns=1) as OpenSIPS's add_dst does; at startup the force_dns rule applies
/// whatever the reason (OpenSIPS's mk_proxy cannot tell them apart). dr_is_gw on an IP without a port uses 5060.
final class DroutingDNSTests: XCTestCase {
    static let schema = Repo.root.appendingPathComponent("Plugins/drouting/schema/sqlite.sql").path
    var dns: FakeDNSServer!
    private var files: [String] = []

    override func setUpWithError() throws { dns = try FakeDNSServer() }
    override func tearDown() {
        dns.stop()
        for f in files { try? FileManager.default.removeItem(atPath: f) }
    }

    private func database(_ sql: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("drdns-\(UUID().uuidString).db").path
        files.append(path)
        try SQLiteCLI.run(path, (try String(contentsOfFile: Self.schema, encoding: .utf8)) + "\n" + sql)
        return path
    }

    static let gateways = """
    INSERT INTO dr_gateways (gwid, type, address, strip, state, probe_mode) VALUES
      ('farm', 1, 'farm.test:5080', 0, 0, 0),
      ('ghost', 1, 'ghost.test:5080', 0, 0, 0),
      ('ip', 2, '10.0.0.5:5080', 0, 0, 0);
    INSERT INTO dr_rules (ruleid, groupid, prefix, timerec, priority, gwlist, attrs) VALUES
      (1, '0', '1', NULL, 0, 'farm', ''),
      (2, '0', '2', NULL, 0, 'ghost', '');
    """

    private func harness(forceDNS: Int) throws -> ServerHarness {
        ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        dns_try_naptr = 0
        dns_retr_time = 1
        dns_retr_no = 1
        dns_use_search_list = 0
        loadmodule "db_sqlite.so"
        loadmodule "drouting.so"
        modparam("drouting", "db_url", "sqlite://\(try database(Self.gateways))")
        modparam("drouting", "gw_id_avp", "$avp(gwid)")
        modparam("drouting", "force_dns", \(forceDNS))
        event_route[E_DR] {
            $ru = $param(ru);
            do_routing(0);
            xlog("$param(case) rc=$rc ru=$ru id=$avp(gwid)");
            dr_is_gw("sip:x@10.0.0.7:5080", 1); xlog("$param(case) isgw=$rc");
            dr_is_gw("sip:x@10.0.0.5", 2); xlog("$param(case) ip-no-port=$rc");
            dr_is_gw("sip:x@10.0.0.5:5080", 2); xlog("$param(case) ip-5080=$rc");
            xlog("$param(case) done");
        }
        """, environment: ["SWITCHYARD_DNS_SERVER": dns.address])
    }

    private func start(_ h: ServerHarness) throws {
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [], log(h))
        try h.start()
    }

    private func log(_ h: ServerHarness) -> String { h.messages.joined(separator: "\n") }

    private func reload(_ h: ServerHarness) -> JSONValue? {
        h.server.mi.dispatcher.response(toText: #"{"jsonrpc":"2.0","method":"dr_reload","params":{},"id":1}"#)
    }

    /// One routing case through event_route[E_DR]: its lines without the case name.
    private func check(_ h: ServerHarness, _ name: String, ru: String) -> [String] {
        XCTAssertEqual(h.server.raiseEvent("E_DR", [("case", .str(name)), ("ru", .str(ru))]), 0)
        XCTAssertTrue(h.waitFor("\(name) done"), log(h))
        return h.messages.filter { $0.hasPrefix(name + " ") && !$0.hasSuffix(" done") }.map { String($0.dropFirst(name.count + 1)) }
    }

    /// DNS answers at startup, then goes silent: once any cached answer (TTL 1 s) expired, dr_reload answers 500
    /// naming the host and gateway, logs it once, and the old data stays (do_routing and dr_is_gw still find the
    /// gateway). The unknown name `ghost` was skipped at startup (force_dns=1). An IP without a port is at 5060:
    /// not the gateway at 10.0.0.5:5080.
    func testReloadWhileDNSIsSilentKeepsTheOldData() throws {
        dns.add("farm.test", .a("10.0.0.7"))
        dns.ttl("farm.test", 1)
        let h = try harness(forceDNS: 1)
        try start(h)
        defer { h.stop() }
        XCTAssertTrue(log(h).contains("cannot resolve host 'ghost.test' of gateway 'ghost' (force_dns=1), skipped"), log(h))
        XCTAssertEqual(check(h, "B", ru: "sip:1000@x"),
                       ["rc=1 ru=sip:1000@farm.test:5080 id=farm", "isgw=1", "ip-no-port=-1", "ip-5080=1"])
        dns.silence("farm.test")
        var reply: JSONValue? = nil
        XCTAssertTrue(waitUntil(timeout: 15) {
            reply = self.reload(h)
            return reply?["error"] != nil
        }, log(h))
        XCTAssertEqual(reply?["error"]?["code"]?.intValue, 500, "\(String(describing: reply))")
        XCTAssertEqual(reply?["error"]?["data"]?.stringValue, "DNS did not answer for host 'farm.test' of gateway 'farm'",
                       "\(String(describing: reply))")
        let failures = h.messages.filter { $0.contains("dr_reload failed, keeping the old data") }
        XCTAssertEqual(failures.count, 1, log(h))
        XCTAssertTrue(failures.first?.contains("DNS did not answer for host 'farm.test'") == true, log(h))
        XCTAssertEqual(check(h, "A", ru: "sip:1000@x"),
                       ["rc=1 ru=sip:1000@farm.test:5080 id=farm", "isgw=1", "ip-no-port=-1", "ip-5080=1"])
    }

    /// The name is gone from the zone (answered, no record): a reload succeeds and drops the gateway (force_dns=1),
    /// as OpenSIPS's add_dst does; the rule is left with no gateway.
    func testReloadAfterTheNameIsGoneDropsTheGateway() throws {
        dns.add("farm.test", .a("10.0.0.7"))
        dns.ttl("farm.test", 1)
        let h = try harness(forceDNS: 1)
        try start(h)
        defer { h.stop() }
        XCTAssertEqual(check(h, "B", ru: "sip:1000@x").first, "rc=1 ru=sip:1000@farm.test:5080 id=farm")
        dns.replace("farm.test")
        XCTAssertTrue(waitUntil(timeout: 15) {
            let r = self.reload(h)
            return r?["error"] == nil && h.messages.contains { $0.contains("cannot resolve host 'farm.test' of gateway 'farm'") }
        }, log(h))
        let after = check(h, "A", ru: "sip:1000@x")
        XCTAssertFalse(after.first?.contains("id=farm") ?? true, "\(after)")
        XCTAssertEqual(after.dropFirst().first, "isgw=-1", "\(after)")
    }

    /// force_dns=0 and DNS silent at startup: the gateway is kept without addresses (OpenSIPS's add_dst with
    /// force_dns off: usable by do_routing, not matched by is_from_gw / dr_is_gw), whatever the reason.
    func testStartupWithSilentDNSKeepsTheGatewayWithoutAddressesWhenForceDNSIsOff() throws {
        dns.silence("farm.test")
        let h = try harness(forceDNS: 0)
        try start(h)
        defer { h.stop() }
        XCTAssertEqual(check(h, "S", ru: "sip:1000@x").prefix(2),
                       ["rc=1 ru=sip:1000@farm.test:5080 id=farm", "isgw=-1"])
        XCTAssertEqual(check(h, "G", ru: "sip:2000@x").first, "rc=1 ru=sip:2000@ghost.test:5080 id=ghost")
    }
}
