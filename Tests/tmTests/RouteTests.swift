import Foundation
import XCTest
import SwitchyardTestSupport

/// branch_route and onreply_route[name] armed by t_on_branch/t_on_reply, and the route rules of tm's functions
/// checked at startup.
final class RouteTests: TMTestCase {
    /// Two branches (append_branch): the branch route sees each with its index and URI and drops the second; the named
    /// reply route sees the replies of the first.
    func testBranchRouteAndNamedReplyRoute() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, a, b, uacPort) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "INVITE") {
                append_branch("sip:second@127.0.0.1:\(b)");
                $du = "sip:127.0.0.1:\(a)";
                t_on_branch("each");
                t_on_reply("replies");
            } else {
                $du = "sip:127.0.0.1:\(a)";
            }
            t_relay();
        }
        branch_route[each] {
            xlog("L_NOTICE", "branch $T_branch_idx to $ru\\n");
            if ($T_branch_idx == 1) drop;
        }
        onreply_route[replies] {
            xlog("L_NOTICE", "reply $T_reply_code on branch $T_branch_idx\\n");
        }
        """, port: proxy)
        let first = try startUAS("uas.xml", port: a)
        let second = try startUAS("uas_486.xml", port: b)
        let run = try runUAC("uac.xml", local: uacPort, target: proxy, calls: 2)
        assertAllSuccessful(run, calls: 2, sy)
        XCTAssertEqual(first.received("INVITE "), 2, first.report)
        XCTAssertEqual(second.received("INVITE "), 0, "branch 1 was dropped in branch_route\n\(second.report)")
        XCTAssertTrue(sy.waitFor("branch 0 to sip:1000@127.0.0.1:\(proxy)"), sy.output)
        XCTAssertTrue(sy.waitFor("branch 1 to sip:second@127.0.0.1:\(b)"), sy.output)
        XCTAssertTrue(sy.waitFor("reply 200 on branch 0"), sy.output)
    }

    /// OpenSIPS's route rules: t_relay is not allowed in onreply_route, t_reply not in branch_route.
    func testRouteMasksAreEnforcedAtStartup() throws {
        for (body, fn, route) in [("onreply_route[r] { t_relay(); }", "t_relay", "onreply_route"),
                                  ("branch_route[b] { t_reply(500, \"x\"); }", "t_reply", "branch_route"),
                                  ("failure_route[f] { t_newtran(); }", "t_newtran", "failure_route")] {
            let cfg = "\(workDir)/mask.cfg"
            try (Self.config(port: LocalPorts.freePorts(1)[0]) + "route { exit; }\n" + body).write(toFile: cfg, atomically: true, encoding: .utf8)
            let (status, out) = try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
            XCTAssertEqual(status, 1, out)
            XCTAssertTrue(out.contains("function '\(fn)' cannot be used in \(route)"), out)
        }
    }

    /// fr_timer (2.x) is accepted as fr_timeout with a notice; a bad T2 stops startup.
    func testParameters() throws {
        let cfg = "\(workDir)/params.cfg"
        try (Self.config(port: LocalPorts.freePorts(1)[0], extra: "modparam(\"tm\", \"fr_timer\", 10)") + "route { exit; }")
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        let (ok, out) = try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
        XCTAssertEqual(ok, 0, out)
        XCTAssertTrue(out.contains("fr_timer is the OpenSIPS 2.x name of fr_timeout"), out)
        try (Self.config(port: LocalPorts.freePorts(1)[0], extra: "modparam(\"tm\", \"T2_timer\", 400)") + "route { exit; }")
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        let (bad, out2) = try BinaryRunner.run(["-f", cfg], cwd: workDir)  // checked at module init, which -c skips
        XCTAssertNotEqual(bad, 0, out2)
        XCTAssertTrue(out2.contains("T2_timer must be greater than T1_timer"), out2)
        // Every timer in seconds is at least 2, delete_timer too (accepted without effect, still checked).
        try (Self.config(port: LocalPorts.freePorts(1)[0], extra: "modparam(\"tm\", \"delete_timer\", 1)") + "route { exit; }")
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        let (badDelete, out3) = try BinaryRunner.run(["-f", cfg], cwd: workDir)
        XCTAssertNotEqual(badDelete, 0, out3)
        XCTAssertTrue(out3.contains("delete_timer must be at least 2 seconds"), out3)
    }
}
