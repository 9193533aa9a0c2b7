import Foundation
import XCTest
import SwitchyardTestSupport

/// `$tm.branch.q` (the q value given to append_branch), `.path` (null: no branch carries a Path here) and the
/// `[i/active]` index suffix (relative to the current set: the last relay's branches), over two forking rounds.
final class BranchIndexTests: TMTestCase {
    func testQPathAndActiveIndexes() throws {
        let ports = LocalPorts.freePorts(5)
        let (proxy, busy, missing, third, uacPort) = (ports[0], ports[1], ports[2], ports[3], ports[4])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            append_branch("sip:other@127.0.0.1:\(missing)", "0.5");
            $du = "sip:127.0.0.1:\(busy)";
            t_on_branch("each");
            t_on_failure("next");
            t_relay();
        }
        branch_route[each] {
            xlog("L_NOTICE", "building $T_branch_idx q=$tm.branch.q path=$tm.branch.path\\n");
        }
        failure_route[next] {
            xlog("L_NOTICE", "round1 q0=$(tm.branch.q[0]) q1=$(tm.branch.q[1]) path1=$(tm.branch.path[1]) a0=$(tm.branch.uri[0/active]) alast=$(tm.branch.uri[-1/active]) none=$(tm.branch.uri[2/active])\\n");
            $du = "sip:127.0.0.1:\(third)";
            t_on_failure("last");
            t_relay();
        }
        failure_route[last] {
            xlog("L_NOTICE", "round2 a0=$(tm.branch.uri[0/active]) d0=$(tm.branch.duri[0/active]) a1=$(tm.branch.uri[1/active]) abs0=$(tm.branch.duri[0]) code=$(T_branch_last_reply_code[-1]) last=$(tm.branch.last_received[0/active])\\n");
        }
        """, port: proxy)
        let first = try startUAS("uas_486.xml", port: busy)
        let second = try startUAS("uas_404.xml", port: missing)
        let last = try startUAS("uas_404.xml", port: third)
        let run = try runUAC("uac_404.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(first, lastReceived: "ACK ", calls: 1), first.report)
        XCTAssertTrue(uasCompleted(second, lastReceived: "ACK ", calls: 1), second.report)
        XCTAssertTrue(uasCompleted(last, lastReceived: "ACK ", calls: 1), last.report)

        let out = sy.output
        XCTAssertTrue(out.contains("building 0 q=<null> path=<null>"), out)
        XCTAssertTrue(out.contains("building 1 q=0.5 path=<null>"), out)
        XCTAssertTrue(out.contains("round1 q0=<null> q1=0.5 path1=<null> a0=sip:1000@127.0.0.1:\(proxy) alast=sip:other@127.0.0.1:\(missing) none=<null>"), out)
        XCTAssertTrue(out.contains("round2 a0=sip:1000@127.0.0.1:\(proxy) d0=sip:127.0.0.1:\(third) a1=<null> abs0=sip:127.0.0.1:\(busy) code=404 last=404"), out)
    }

    func testBadQValueAndUnknownSuffix() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, badProxy) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if (!append_branch("sip:x@127.0.0.1:1", "1.5")) xlog("L_NOTICE", "q refused\\n");
            t_reply(200, "OK");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        uac.send(RawSIP.request("MESSAGE", ruri: "sip:x@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-q",
                                callID: "q@test"), to: proxy)
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 3, seen: &seen), "\(seen)")
        XCTAssertTrue(sy.waitFor("q refused", timeout: 10), sy.output)

        // A suffix the variable has no variant for is a startup error.
        let cfg = "\(workDir)/bad.cfg"
        try (Self.config(port: badProxy) + "route { xlog(\"$(tm.branch.uri[0/nope])\\n\"); }\n")
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        let bad = BinaryRunner(args: ["-f", cfg], cwd: workDir)
        try bad.start()
        XCTAssertNotEqual(bad.wait(timeout: 15), 0, bad.output)
        XCTAssertTrue(bad.output.contains("takes no index suffix /nope"), bad.output)
    }
}
