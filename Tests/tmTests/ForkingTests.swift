import Foundation
import XCTest
import SwitchyardTestSupport

/// Serial forking from failure_route (by $du and by drouting's use_next_gw), parallel forking with append_branch,
/// and the same over TCP.
final class ForkingTests: TMTestCase {
    /// First destination 503, failure_route relays to the second, which answers 200: the caller never sees the 503,
    /// which the proxy ACKs itself.
    func testFailoverOn503() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, gw1, gw2, uacPort) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "INVITE") {
                $du = "sip:127.0.0.1:\(gw1)";
                t_on_failure("next");
            } else {
                $du = "sip:127.0.0.1:\(gw2)";
            }
            t_relay();
        }
        failure_route[next] {
            xlog("L_NOTICE", "failure $T_reply_code branch $T_branch_idx ru=$ru du=$du\\n");
            if (t_was_cancelled()) exit;
            if (t_check_status("408|5[0-9][0-9]")) {
                $du = "sip:127.0.0.1:\(gw2)";
                t_relay();
            }
        }
        """, port: proxy)
        let first = try startUAS("uas_503.xml", port: gw1)
        let second = try startUAS("uas.xml", port: gw2)
        let run = try runUAC("uac.xml", local: uacPort, target: proxy, calls: 5)
        assertAllSuccessful(run, calls: 5, sy)
        XCTAssertEqual(run.uac.received("SIP/2.0 503"), 0, "the 503 never reaches the caller\n\(run.uac.report)")
        XCTAssertTrue(uasCompleted(first, lastReceived: "ACK ", calls: 5), "the proxy ACKs the 503\n\(first.report)")
        XCTAssertEqual(second.received("INVITE "), 5, second.report)
        // The failure route starts from the request-line URI with no $du; the retry is branch 1 of the transaction.
        XCTAssertTrue(sy.waitFor("failure 503 branch 0 ru=sip:1000@127.0.0.1:\(proxy) du=<null>"), sy.output)
        XCTAssertTrue(second.trace.contains("branch=z9hG4bK") && second.trace.range(of: #"\.1\r?\n"#, options: .regularExpression) != nil,
                      "the second INVITE is branch 1\n\(second.report)")
    }

    /// Parallel forking: two branches answer 486 and 404; the caller gets the 404 (best reply), both are ACKed.
    func testParallelForkingBestReply() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, a, b, uacPort) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            append_branch("sip:other@127.0.0.1:\(b)");
            $du = "sip:127.0.0.1:\(a)";
            t_relay();
        }
        """, port: proxy)
        let busy = try startUAS("uas_486.xml", port: a)
        let missing = try startUAS("uas_404.xml", port: b)
        let run = try runUAC("uac_404.xml", local: uacPort, target: proxy, calls: 3)
        assertAllSuccessful(run, calls: 3, sy)
        XCTAssertTrue(uasCompleted(busy, lastReceived: "ACK ", calls: 3), busy.report)
        XCTAssertTrue(uasCompleted(missing, lastReceived: "ACK ", calls: 3), missing.report)
        XCTAssertEqual(run.uac.received("SIP/2.0 486"), 0, run.uac.report)
    }

    /// drouting's use_next_gw() in failure_route: the first gateway answers 503, the call lands on the second.
    func testDroutingFailoverWithUseNextGW() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, gw1, gw2, uacPort) = (ports[0], ports[1], ports[2], ports[3])
        let db = "\(workDir)/dr.db"
        let provision = "\(workDir)/provision.sql"
        try """
        INSERT INTO dr_gateways (gwid, type, address, strip, probe_mode, state) VALUES ('fs1', 0, '127.0.0.1:\(gw1)', 0, 0, 0);
        INSERT INTO dr_gateways (gwid, type, address, strip, probe_mode, state) VALUES ('fs2', 0, '127.0.0.1:\(gw2)', 0, 0, 0);
        INSERT INTO dr_rules (groupid, prefix, priority, gwlist, sort_alg) VALUES ('0', '1', 0, 'fs1,fs2', 'N');

        """.write(toFile: provision, atomically: true, encoding: .utf8)
        let schema = Self.repoRoot.appendingPathComponent("Plugins/drouting/schema/sqlite.sql").path
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        loadmodule "db_sqlite.so"
        loadmodule "drouting.so"
        modparam("db_sqlite", "init_sql", "\(schema)")
        modparam("db_sqlite", "init_sql", "\(provision)")
        modparam("drouting", "db_url", "sqlite://\(db)")
        """) + """
        route {
            if ($rm == "INVITE") {
                if (!do_routing(0)) { t_reply(404, "Not Found"); exit; }
                t_on_failure("gw");
            } else {
                $du = "sip:127.0.0.1:\(gw2)";
            }
            t_relay();
        }
        failure_route[gw] {
            if (t_was_cancelled()) exit;
            if (t_check_status("408|5[0-9][0-9]") && use_next_gw()) {
                xlog("L_NOTICE", "next gateway $ru\\n");
                t_on_failure("gw");
                t_relay();
            }
        }
        """, port: proxy)
        let first = try startUAS("uas_503.xml", port: gw1)
        let second = try startUAS("uas.xml", port: gw2)
        let run = try runUAC("uac.xml", local: uacPort, target: proxy, calls: 3)
        assertAllSuccessful(run, calls: 3, sy)
        XCTAssertTrue(uasCompleted(first, lastReceived: "ACK ", calls: 3), first.report)
        XCTAssertEqual(second.received("INVITE "), 3, second.report)
        XCTAssertTrue(sy.waitFor("next gateway sip:1000@127.0.0.1:\(gw2)"), sy.output)
    }

    /// Over TCP: a call through t_relay with a callee that answers after 1.5 s gets no INVITE retransmission.
    func testTCPCallHasNoRetransmissions() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy, proto: "tcp") + """
        route {
            $du = "sip:127.0.0.1:\(uasPort);transport=tcp";
            t_relay();
        }
        """, port: proxy, tcp: true)
        let uas = try startUAS("uas_slow.xml", port: uasPort, tcp: true)
        let run = try runUAC("uac.xml", local: uacPort, target: proxy, calls: 3, tcp: true)
        assertAllSuccessful(run, calls: 3, sy)
        XCTAssertEqual(uas.received("INVITE "), 3, "one INVITE per call, never retransmitted over TCP\n\(uas.report)")
    }

    /// Over TCP, failover from a 503 to the second destination works the same way.
    func testTCPFailover() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, gw1, gw2, uacPort) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy, proto: "tcp") + """
        route {
            if ($rm == "INVITE") {
                $du = "sip:127.0.0.1:\(gw1);transport=tcp";
                t_on_failure("next");
            } else {
                $du = "sip:127.0.0.1:\(gw2);transport=tcp";
            }
            t_relay();
        }
        failure_route[next] {
            $du = "sip:127.0.0.1:\(gw2);transport=tcp";
            t_relay();
        }
        """, port: proxy, tcp: true)
        let first = try startUAS("uas_503.xml", port: gw1, tcp: true)
        _ = try startUAS("uas.xml", port: gw2, tcp: true)
        let run = try runUAC("uac.xml", local: uacPort, target: proxy, calls: 3, tcp: true)
        assertAllSuccessful(run, calls: 3, sy)
        XCTAssertTrue(uasCompleted(first, lastReceived: "ACK ", calls: 3), first.report)
    }
}
