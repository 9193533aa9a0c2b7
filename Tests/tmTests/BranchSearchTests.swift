import Foundation
import XCTest
import SwitchyardTestSupport

/// `t_get_branch_idx_by_attr`: two parallel branches tagged in the branch route ($tm.branch.attr), found again in the
/// failure route by attribute, by string or integer value, and from an offset.
final class BranchSearchTests: TMTestCase {
    func testFindsBranchesByAttribute() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, busy, missing, uacPort) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            append_branch("sip:other@127.0.0.1:\(missing)");
            $du = "sip:127.0.0.1:\(busy)";
            t_on_branch("tag");
            t_on_failure("find");
            t_relay();
        }
        branch_route[tag] {
            if ($T_branch_idx == 0) {
                $tm.branch.attr(kind) = "sip";
                $tm.branch.attr(prio) = 5;
            } else {
                $tm.branch.attr(kind) = "pstn";
            }
        }
        failure_route[find] {
            if (t_get_branch_idx_by_attr("kind", "pstn", , $var(i))) xlog("L_NOTICE", "pstn at $var(i)\\n");
            if (t_get_branch_idx_by_attr("prio", , 5, $var(j))) xlog("L_NOTICE", "prio 5 at $var(j)\\n");
            if (!t_get_branch_idx_by_attr("prio", , 6)) xlog("L_NOTICE", "no prio 6\\n");
            if (t_get_branch_idx_by_attr("kind", , , $var(k), 1)) xlog("L_NOTICE", "kind from 1 at $var(k)\\n");
            if (t_get_branch_idx_by_attr("kind", , , $var(z))) xlog("L_NOTICE", "kind first at $var(z)\\n");
            if (!t_get_branch_idx_by_attr("kind", "voip")) xlog("L_NOTICE", "no voip\\n");
            if (!t_get_branch_idx_by_attr("kind", , , , 2)) xlog("L_NOTICE", "none from 2\\n");
        }
        """, port: proxy)
        let first = try startUAS("uas_486.xml", port: busy)
        let second = try startUAS("uas_404.xml", port: missing)
        let run = try runUAC("uac_404.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(first, lastReceived: "ACK ", calls: 1), first.report)
        XCTAssertTrue(uasCompleted(second, lastReceived: "ACK ", calls: 1), second.report)
        for line in ["pstn at 1", "prio 5 at 0", "no prio 6", "kind from 1 at 1", "kind first at 0", "no voip", "none from 2"] {
            XCTAssertTrue(sy.waitFor(line), "\(line)\n\(sy.output)")
        }
    }

    func testNotAllowedInRequestRoute() throws {
        let port = LocalPorts.freePorts(1)[0]
        let cfg = "\(workDir)/bad.cfg"
        try (Self.config(port: port) + "route { t_get_branch_idx_by_attr(\"kind\"); t_relay(); }\n")
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        let bad = BinaryRunner(args: ["-f", cfg], cwd: workDir)
        try bad.start()
        XCTAssertNotEqual(bad.wait(timeout: 15), 0, bad.output)
        XCTAssertTrue(bad.output.contains("function 't_get_branch_idx_by_attr' cannot be used in route"), bad.output)
    }
}
