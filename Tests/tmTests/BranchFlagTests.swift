import Foundation
import XCTest
import SwitchyardTestSupport

/// Branch flags (setbflag) seen through tm: the request-URI branch's flags travel with the transaction to the branch
/// route and to the failure route, as OpenSIPS gives a failure route the failed branch's flags.
final class BranchFlagTests: TMTestCase {
    func testRequestURIBranchFlagsReachBranchAndFailureRoutes() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, gw1, gw2, uacPort) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "INVITE") {
                setbflag("MARK");
                setbflag("GONE");
                resetbflag("GONE");
                $du = "sip:127.0.0.1:\(gw1)";
                t_on_failure("next");
                t_on_branch("br");
            } else {
                $du = "sip:127.0.0.1:\(gw2)";
            }
            t_relay();
        }
        branch_route[br] {
            if (isbflagset("MARK") && !isbflagset("GONE")) xlog("L_NOTICE", "branch $T_branch_idx: MARK\\n");
        }
        failure_route[next] {
            if (isbflagset("MARK") && !isbflagset("GONE")) xlog("L_NOTICE", "failure $T_reply_code: MARK\\n");
            else xlog("L_NOTICE", "failure $T_reply_code: flags lost\\n");
            $du = "sip:127.0.0.1:\(gw2)";
            t_relay();
        }
        """, port: proxy)
        _ = try startUAS("uas_503.xml", port: gw1)
        let second = try startUAS("uas.xml", port: gw2)
        let run = try runUAC("uac.xml", local: uacPort, target: proxy, calls: 2)
        assertAllSuccessful(run, calls: 2, sy)
        XCTAssertEqual(second.received("INVITE "), 2, second.report)
        XCTAssertTrue(sy.waitFor("branch 0: MARK", timeout: 10), sy.output)
        XCTAssertTrue(sy.waitFor("failure 503: MARK", timeout: 10), sy.output)
        XCTAssertTrue(sy.waitFor("branch 1: MARK", timeout: 10), "the failure route's relay is branch 1\n\(sy.output)")
        // Both calls' failure routes have run once both of their branch-1 lines are read.
        waitUntil(10) { sy.output.components(separatedBy: "branch 1: MARK").count - 1 >= 2 }
        XCTAssertFalse(sy.output.contains("flags lost"), sy.output)
    }
}
