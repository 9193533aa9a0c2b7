import Foundation
import XCTest
import SwitchyardTestSupport

/// What a branch carries of its own: branch_route header edits rolled back per branch (each branch gets the request
/// as the branch route left it, the next starts from the original, and so does the script after t_relay), $bavp,
/// $tm.branch.* and $T_branch_last_reply_code seen in reply and failure routes (the failure route armed from the
/// branch route, on the transaction).
final class BranchStateTests: TMTestCase {
    func testBranchRouteEditsAndBranchValues() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, busy, missing, uacPort) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        loadmodule "rr.so"
        """) + """
        route {
            append_branch("sip:other@127.0.0.1:\(missing)");
            $du = "sip:127.0.0.1:\(busy)";
            t_on_branch("each");
            t_on_reply("replies");
            t_relay();
            xlog("L_NOTICE", "after relay ru=$ru du=$du\\n");
        }
        branch_route[each] {
            $bavp(who) = $T_branch_idx;
            t_on_failure("done");
            if ($T_branch_idx == 0) {
                record_route();
                $ru = "sip:rewritten@127.0.0.1:\(busy)";
            } else {
                $tm.branch.flag(RED) = 1;
            }
            $tm.branch.attr(gw) = $ru;
            xlog("L_NOTICE", "building $T_branch_idx uri=$tm.branch.uri flag=$tm.branch.flag(RED)\\n");
        }
        onreply_route[replies] {
            xlog("L_NOTICE", "reply $T_reply_code on $T_branch_idx bavp=$bavp(who) attr=$tm.branch.attr(gw) flag=$tm.branch.flag(RED) last=$tm.branch.last_received\\n");
        }
        failure_route[done] {
            xlog("L_NOTICE", "failure bavp=$bavp(who) uri0=$(tm.branch.uri[0]) urilast=$(tm.branch.uri[-1]) code0=$(T_branch_last_reply_code[0]) code1=$(T_branch_last_reply_code[1]) type=$tm.branch.type socket=$(tm.branch.socket[0]) none=$(tm.branch.uri[5])\\n");
        }
        """, port: proxy)
        let first = try startUAS("uas_486.xml", port: busy)
        let second = try startUAS("uas_404.xml", port: missing)
        let run = try runUAC("uac_404.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(first, lastReceived: "ACK ", calls: 1), first.report)
        XCTAssertTrue(uasCompleted(second, lastReceived: "ACK ", calls: 1), second.report)

        // Branch 0 got the Record-Route and rewritten URI of its branch route; branch 1 the original request.
        XCTAssertTrue(first.trace.contains("INVITE sip:rewritten@127.0.0.1:\(busy)"), first.report)
        XCTAssertTrue(first.trace.contains("Record-Route:"), first.report)
        XCTAssertTrue(second.trace.contains("INVITE sip:other@127.0.0.1:\(missing)"), second.report)
        XCTAssertFalse(second.trace.contains("Record-Route:"), "branch 0's edit leaked into branch 1\n\(second.report)")
        XCTAssertTrue(sy.waitFor("after relay ru=sip:1000@127.0.0.1:\(proxy) du=sip:127.0.0.1:\(busy)"), sy.output)

        let out = sy.output
        XCTAssertTrue(out.contains("building 0 uri=sip:rewritten@127.0.0.1:\(busy) flag=0"), out)
        XCTAssertTrue(out.contains("building 1 uri=sip:other@127.0.0.1:\(missing) flag=1"), out)
        // In a reply route the branch's last received code is still the one before this reply (as OpenSIPS).
        XCTAssertTrue(out.contains("reply 486 on 0 bavp=0 attr=sip:rewritten@127.0.0.1:\(busy) flag=0 last=0"), out)
        XCTAssertTrue(out.contains("reply 404 on 1 bavp=1 attr=sip:other@127.0.0.1:\(missing) flag=1 last=0"), out)
        XCTAssertTrue(out.contains("uri0=sip:rewritten@127.0.0.1:\(busy) urilast=sip:other@127.0.0.1:\(missing) code0=486 code1=404 type=sip socket=udp:127.0.0.1:\(proxy) none=<null>"), out)
        XCTAssertTrue(out.range(of: "failure bavp=[01] ", options: .regularExpression) != nil, out)
    }
}
