import Foundation
import XCTest
import SwitchyardTestSupport

/// The caller's ACK of a negative final runs the main route as in OpenSIPS (a script's `xlog` prints for it), and
/// goes nowhere: tm stops its reply's retransmissions, `t_check_trans()` is true and `t_relay()` then returns 1
/// without sending; `t_relay()` alone returns 0 (the script stops). The callee sees only tm's own ACK.
final class HopByHopAckTests: TMTestCase {
    func testAckRunsTheScriptAfterCheckTrans() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, callee, caller) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            xlog("L_NOTICE", "request $rm\\n");
            if ($rm == "ACK") {
                if (t_check_trans()) {
                    if (t_relay()) xlog("L_NOTICE", "ack of our reply\\n");
                }
                exit;
            }
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
        }
        """, port: proxy)
        let uas = try startUAS("uas_486.xml", port: callee)
        let run = try runUAC("uac_486.xml", local: caller, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(sy.waitFor("request ACK"), sy.output)
        XCTAssertTrue(sy.waitFor("ack of our reply"), sy.output)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 1), uas.report)
        // The script has run for the caller's ACK: a wrongly forwarded one is on its way; give it time to land.
        XCTAssertFalse(waitUntil(1) { uas.received("ACK ") > 1 }, "only tm's ACK reaches the callee\n\(uas.report)")
    }

    func testRelayAloneStopsTheScript() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, callee, caller) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            xlog("L_NOTICE", "request $rm\\n");
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
            xlog("L_NOTICE", "after relay $rm\\n");
        }
        """, port: proxy)
        let uas = try startUAS("uas_486.xml", port: callee)
        let run = try runUAC("uac_486.xml", local: caller, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(sy.waitFor("after relay INVITE"), sy.output)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 1), uas.report)
        XCTAssertTrue(sy.waitFor("request ACK"), sy.output)
        XCTAssertFalse(waitUntil(1) { uas.received("ACK ") > 1 }, "only tm's ACK reaches the callee\n\(uas.report)")
        XCTAssertFalse(sy.waitFor("after relay ACK", timeout: 1), sy.output)
    }

    /// The ACK of a `t_reply` 2xx is an end-to-end ACK as OpenSIPS matches it: `t_check_trans()` −2, `t_relay()`
    /// then 0 (the script stops, nothing sent); it stops the 2xx's retransmissions.
    func testAckOfALocal2xxIsEndToEnd() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "ACK") {
                t_check_trans();
                $var(rc) = $rc;
                xlog("L_NOTICE", "check $var(rc)\\n");
                t_relay();
                xlog("L_NOTICE", "after relay\\n");
                exit;
            }
            t_reply(200, "OK");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let ruri = "sip:bob@127.0.0.1:\(proxy)"
        uac.send(RawSIP.request("INVITE", ruri: ruri, localPort: caller, branch: "z9hG4bK-l2xx", callID: "l2xx@test"), to: proxy)
        var seen: [String] = []
        let ok = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let to = try XCTUnwrap(RawSIP.header(ok, "To"), ok)
        uac.send(RawSIP.request("ACK", ruri: ruri, localPort: caller, branch: "z9hG4bK-l2xx-ack", callID: "l2xx@test", to: to),
                 to: proxy)
        XCTAssertTrue(sy.waitFor("check -2", timeout: 5), sy.output)
        XCTAssertFalse(sy.waitFor("after relay", timeout: 1), "t_relay returned 0: the script stops\n\(sy.output)")
        XCTAssertFalse(uac.drain(1).contains { $0.hasPrefix("SIP/2.0 200") }, "the ACK stops the 200's retransmissions")
    }
}
