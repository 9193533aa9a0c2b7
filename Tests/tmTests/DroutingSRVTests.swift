import Foundation
import XCTest
import SwitchyardTestSupport

/// drouting gateways given by name, as OpenSIPS 3.6 handles them: at load the name is resolved as a SIP destination
/// (add_dst's mk_proxy: NAPTR, SRV, A), so is_from_gw matches the SRV targets' addresses at their ports; at relay
/// the request-URI carries the name and tm resolves it again, so a gateway without a port reaches its SRV target;
/// dr_is_gw resolves a name the same way (its first address).
/// A FakeDNSServer answers through SWITCHYARD_DNS_SERVER; the gateways are sipp peers on 127.0.0.1.
final class DroutingSRVTests: TMTestCase {
    func startProxy(_ proxy: Int, dns: FakeDNSServer, gateways: String, route: String, naptr: Bool = false) throws -> BinaryRunner {
        let db = "\(workDir)/dr.db"
        let provision = "\(workDir)/provision.sql"
        try (gateways + """
        INSERT INTO dr_rules (groupid, prefix, priority, gwlist, sort_alg) VALUES ('0', '1', 0, 'fs', 'N');

        """).write(toFile: provision, atomically: true, encoding: .utf8)
        let schema = Self.repoRoot.appendingPathComponent("Plugins/drouting/schema/sqlite.sql").path
        return try startSwitchyard(Self.config(port: proxy, extra: """
        dns_try_naptr = \(naptr ? 1 : 0)
        loadmodule "db_sqlite.so"
        loadmodule "drouting.so"
        modparam("db_sqlite", "init_sql", "\(schema)")
        modparam("db_sqlite", "init_sql", "\(provision)")
        modparam("drouting", "db_url", "sqlite://\(db)")
        """) + route, port: proxy, env: ["SWITCHYARD_DNS_SERVER": dns.address])
    }

    /// Gateway `fs` is `farm.test` (no port): do_routing puts the name in the request-URI and t_relay reaches the
    /// priority-10 SRV target (port a), never the priority-20 one. Gateway `caller` is `caller.test`, whose SRV
    /// record points at the caller's own port: is_from_gw matches the caller's INVITE by that address and port;
    /// `fs` (SRV ports a and b) does not match it, unless the port is ignored (flag n).
    func testGatewayNameWithoutPortReachesItsSRVTarget() throws {
        let p = LocalPorts.freePorts(4)
        let (proxy, caller, a, b) = (p[0], p[1], p[2], p[3])
        let dns = try FakeDNSServer()
        cleanups.append { dns.stop() }
        dns.add("_sip._udp.farm.test", .srv(priority: 20, weight: 0, port: b, target: "fs2.farm.test"),
                .srv(priority: 10, weight: 0, port: a, target: "fs1.farm.test"))
        dns.add("fs1.farm.test", .a("127.0.0.1"))
        dns.add("fs2.farm.test", .a("127.0.0.1"))
        dns.add("_sip._udp.caller.test", .srv(priority: 1, weight: 0, port: caller, target: "uac.caller.test"))
        dns.add("uac.caller.test", .a("127.0.0.1"))
        let first = try startUAS(port: a)
        let second = try startUAS(port: b)
        let sy = try startProxy(proxy, dns: dns, gateways: """
        INSERT INTO dr_gateways (gwid, type, address, strip, probe_mode, state) VALUES ('fs', 1, 'farm.test', 0, 0, 0);
        INSERT INTO dr_gateways (gwid, type, address, strip, probe_mode, state) VALUES ('caller', 2, 'caller.test', 0, 0, 0);

        """, route: """
        route {
            if ($rm == "INVITE") {
                if (is_from_gw(2)) xlog("L_NOTICE", "from-gw-2 $si:$sp\\n");
                if (!is_from_gw(1)) xlog("L_NOTICE", "not-from-gw-1\\n");
                if (is_from_gw(1, "n")) xlog("L_NOTICE", "from-gw-1-any-port\\n");
                if (dr_is_gw("sip:x@farm.test", 1)) xlog("L_NOTICE", "farm-is-gw-1\\n");
                if (dr_is_gw("sip:x@fs2.farm.test:\(b)", 1)) xlog("L_NOTICE", "fs2-at-b-is-gw-1\\n");
                if (!dr_is_gw("sip:x@fs2.farm.test:9", 1)) xlog("L_NOTICE", "fs2-at-9-is-not-gw-1\\n");
                if (!do_routing(0)) { t_reply(404, "Not Found"); exit; }
                xlog("L_NOTICE", "routed ru=$ru\\n");
            } else {
                $du = "sip:127.0.0.1:\(a)";
            }
            t_relay();
        }
        """)
        let run = try runUAC("uac.xml", local: caller, target: proxy, calls: 1, timeout: 15)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(first, lastReceived: "BYE ", calls: 1), first.report)
        XCTAssertEqual(second.received("INVITE "), 0, second.report)
        XCTAssertTrue(sy.waitFor("routed ru=sip:1000@farm.test"), sy.output)
        XCTAssertTrue(sy.output.contains("from-gw-2 127.0.0.1:\(caller)"), sy.output)
        XCTAssertTrue(sy.output.contains("not-from-gw-1"), sy.output)
        XCTAssertTrue(sy.output.contains("from-gw-1-any-port"), sy.output)
        // dr_is_gw on a name: its first SRV target at the SRV port is gateway fs; with a port, the name's A records
        // at that port: fs2's address at the SRV port b is fs's, at port 9 it is not.
        XCTAssertTrue(sy.output.contains("farm-is-gw-1"), sy.output)
        XCTAssertTrue(sy.output.contains("fs2-at-b-is-gw-1"), sy.output)
        XCTAssertTrue(sy.output.contains("fs2-at-9-is-not-gw-1"), sy.output)
    }

    /// README 5.5's flag `r` with a NAPTR transport: gateway `fs` is `farm.test` (no port), whose NAPTR record
    /// (SIP+D2T) leads to _sip._tcp.farm.test, target 127.0.0.1 at port a. Its address is kept as TCP: dr_is_gw with
    /// `r` matches it over TCP and not over UDP; without `r` the transport is not compared.
    func testNAPTRTransportIsComparedWithFlagR() throws {
        let p = LocalPorts.freePorts(2)
        let (proxy, a) = (p[0], p[1])
        let dns = try FakeDNSServer()
        cleanups.append { dns.stop() }
        dns.add("farm.test", .naptr(order: 10, preference: 10, flags: "s", services: "SIP+D2T", regexp: "",
                                    replacement: "_sip._tcp.farm.test"))
        dns.add("_sip._tcp.farm.test", .srv(priority: 1, weight: 0, port: a, target: "fs1.farm.test"))
        dns.add("fs1.farm.test", .a("127.0.0.1"))
        let sy = try startProxy(proxy, dns: dns, gateways: """
        INSERT INTO dr_gateways (gwid, type, address, strip, probe_mode, state) VALUES ('fs', 1, 'farm.test', 0, 0, 0);

        """, route: """
        startup_route {
            dr_is_gw("sip:x@127.0.0.1:\(a);transport=tcp", 1, "r"); xlog("L_NOTICE", "tcp-r rc=$rc\n");
            dr_is_gw("sip:x@127.0.0.1:\(a);transport=udp", 1, "r"); xlog("L_NOTICE", "udp-r rc=$rc\n");
            dr_is_gw("sip:x@127.0.0.1:\(a)", 1); xlog("L_NOTICE", "any rc=$rc\n");
            dr_is_gw("sip:x@farm.test", 1, "r"); xlog("L_NOTICE", "name-r rc=$rc\n");
        }
        route { exit; }
        """, naptr: true)
        XCTAssertTrue(sy.waitFor("name-r rc="), sy.output)
        for line in ["tcp-r rc=1", "udp-r rc=-1", "any rc=1", "name-r rc=1"] {
            XCTAssertTrue(sy.output.contains(line), "missing \(line) in:\n" + sy.output)
        }
        XCTAssertEqual(dns.asked("farm.test", type: FakeDNSServer.typeNAPTR), 1, "\(dns.questions)")
    }
}
