import Foundation
import XCTest
import SwitchyardTestSupport

/// `t_wait_for_new_branches` / `t_wait_no_more_branches`: an INVITE transaction whose branches all failed stays open
/// until fr_inv_timeout, a CANCEL, or the script ends the wait.
final class WaitBranchesTests: TMTestCase {
    func route(busy: Int, onReply: String) -> String {
        """
        route {
            t_newtran();
            if (t_wait_for_new_branches()) xlog("L_NOTICE", "waiting\\n");
            t_on_reply("r");
            t_on_failure("f");
            $du = "sip:127.0.0.1:\(busy)";
            t_relay();
        }
        onreply_route[r] { xlog("L_NOTICE", "reply $T_reply_code\\n"); \(onReply) }
        failure_route[f] { xlog("L_NOTICE", "failure $T_reply_code\\n"); }
        """
    }

    /// The callee's 486 is held until fr_inv_timeout (2 s), then relayed through the failure route.
    func testFailedBranchWaitsUntilFrInvTimeout() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, busy, caller) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "modparam(\"tm\", \"fr_inv_timeout\", 2)")
                                     + route(busy: busy, onReply: ""), port: proxy)
        let uas = try startUAS("uas_486.xml", port: busy)
        let start = Date()
        let run = try runUAC("uac_486.xml", local: caller, target: proxy, calls: 1)
        let elapsed = Date().timeIntervalSince(start)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 1), uas.report)
        let out = sy.output
        guard let reply = out.range(of: "reply 486"), let failure = out.range(of: "failure 486") else {
            return XCTFail(out)
        }
        XCTAssertTrue(out.contains("waiting"), out)
        XCTAssertLessThan(reply.lowerBound, failure.lowerBound, out)
        // The callee answered at once: only the wait kept the caller from its 486 for fr_inv_timeout.
        XCTAssertGreaterThanOrEqual(elapsed, 1.8, out)
    }

    /// t_wait_no_more_branches in the reply route: the 486 goes upstream at once (fr_inv_timeout stays 120 s).
    func testNoMoreBranchesEndsTheWait() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, busy, caller) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy)
                                     + route(busy: busy, onReply: "t_wait_no_more_branches();"), port: proxy)
        let uas = try startUAS("uas_486.xml", port: busy)
        let run = try runUAC("uac_486.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 1), uas.report)
        XCTAssertTrue(sy.waitFor("failure 486"), sy.output)
    }

    /// No more branches before any was sent: nothing completes, the relay that follows runs as usual.
    func testNoMoreBeforeTheRelay() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, busy, caller) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            t_newtran();
            t_wait_for_new_branches();
            t_wait_no_more_branches();
            $du = "sip:127.0.0.1:\(busy)";
            if (t_relay()) xlog("L_NOTICE", "relayed after no-more\\n");
        }
        """, port: proxy)
        let uas = try startUAS("uas_486.xml", port: busy)
        let run = try runUAC("uac_486.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 1), uas.report)
        XCTAssertEqual(run.uac.received("SIP/2.0 408"), 0, run.uac.report)
        XCTAssertTrue(sy.waitFor("relayed after no-more"), sy.output)
    }

    /// OpenSIPS's parked call: 180 by t_reply, then waiting; its CANCEL gets the 487 at once.
    func testParkedCallCancelled() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "CANCEL") { if (t_check_trans()) t_relay(); exit; }
            t_reply(180, "Ringing");
            t_wait_for_new_branches();
        }
        """, port: proxy)
        let run = try runUAC("uac_cancel.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertEqual(run.uac.received("SIP/2.0 487 Request Terminated"), 1, run.uac.report)
    }

    /// A parked call nobody injects into ends with a 408 made here at fr_inv_timeout.
    func testParkedCallTimesOut() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "modparam(\"tm\", \"fr_inv_timeout\", 2)") + """
        route {
            t_reply(180, "Ringing");
            t_wait_for_new_branches();
        }
        """, port: proxy)
        let run = try runUAC("uac_408.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertEqual(run.uac.received("SIP/2.0 408 Request Timeout"), 1, run.uac.report)
    }

    /// A wait ended before any branch was sent, by a script that then neither relays nor answers a final: the cell
    /// is an orphan again and is released after fr_timeout (it used to stay for ever).
    func testNoMoreWithoutBranchIsReleased() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "modparam(\"tm\", \"fr_timeout\", 2)") + """
        route {
            t_reply(180, "Ringing");
            t_wait_for_new_branches();
            t_wait_no_more_branches();
            exit;
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        uac.send(RawSIP.request("INVITE", ruri: "sip:1000@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-nomore1",
                                callID: "nomore@test"), to: proxy)
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 180 Ringing", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("(INVITE) was neither relayed nor answered; released"), sy.output)
    }

    /// The wait's own 408 (no branch ever sent) runs the failure route, as OpenSIPS's phony branch's does.
    ///
    func testWaitTimeoutRunsTheFailureRoute() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "modparam(\"tm\", \"fr_inv_timeout\", 2)") + """
        route {
            t_on_failure("f");
            t_reply(180, "Ringing");
            t_wait_for_new_branches();
        }
        failure_route[f] { if (t_local_replied("last")) xlog("L_NOTICE", "failure $T_reply_code made here\\n"); }
        """, port: proxy)
        let run = try runUAC("uac_408.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertEqual(run.uac.received("SIP/2.0 408 Request Timeout"), 1, run.uac.report)
        XCTAssertTrue(sy.waitFor("failure 408 made here"), sy.output)
    }

    func testOnlyInRequestRoute() throws {
        let port = LocalPorts.freePorts(1)[0]
        let cfg = "\(workDir)/bad.cfg"
        try (Self.config(port: port) + """
        route { t_on_failure("f"); t_relay(); }
        failure_route[f] { t_wait_for_new_branches(); }
        """).write(toFile: cfg, atomically: true, encoding: .utf8)
        let bad = BinaryRunner(args: ["-f", cfg], cwd: workDir)
        try bad.start()
        XCTAssertNotEqual(bad.wait(timeout: 15), 0, bad.output)
        XCTAssertTrue(bad.output.contains("function 't_wait_for_new_branches' cannot be used in failure_route"), bad.output)
    }
}
