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
        XCTAssertEqual(uas.received("ACK "), 1, "only tm's ACK reaches the callee\n\(uas.report)")
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
        XCTAssertEqual(uas.received("ACK "), 1, uas.report)
        XCTAssertTrue(sy.waitFor("request ACK"), sy.output)
        XCTAssertFalse(sy.waitFor("after relay ACK", timeout: 1), sy.output)
    }
}
