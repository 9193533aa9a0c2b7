import Foundation
import XCTest
import SwitchyardTestSupport

/// `t_inject_branches("msg")`: a transaction waiting for one more branch gets it added to its current set (not a new
/// one); the best reply of both goes upstream once the wait is over.
final class InjectBranchesTests: TMTestCase {
    func testInjectedBranchJoinsTheCurrentSet() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, busy, missing, caller) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            t_newtran();
            t_wait_for_new_branches(1);
            t_on_failure("f");
            $du = "sip:127.0.0.1:\(busy)";
            t_relay();
            if (!t_inject_branches("event")) xlog("L_NOTICE", "event refused\\n");
            if (!t_inject_branches("msg", "x")) xlog("L_NOTICE", "bad flag refused\\n");
            $du = "sip:127.0.0.1:\(missing)";
            if (t_inject_branches("msg")) xlog("L_NOTICE", "injected\\n");
        }
        failure_route[f] {
            xlog("L_NOTICE", "set $(tm.branch.duri[0/active]) $(tm.branch.duri[1/active]) won $T_reply_code\\n");
        }
        """, port: proxy)
        let first = try startUAS("uas_486.xml", port: busy)
        let second = try startUAS("uas_404.xml", port: missing)
        // fr_inv_timeout is 120 s: the caller's 404 within 10 s shows the wait ended with the one injected branch.
        let run = try runUAC("uac_404.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(first, lastReceived: "ACK ", calls: 1), first.report)
        XCTAssertTrue(uasCompleted(second, lastReceived: "ACK ", calls: 1), second.report)
        let out = sy.output
        for line in ["event refused", "t_inject_branches: source 'event' needs the event_routing module", "bad flag refused",
                     "injected", "set sip:127.0.0.1:\(busy) sip:127.0.0.1:\(missing) won 404"] {
            XCTAssertTrue(out.contains(line), "\(line)\n\(out)")
        }
    }

    /// `cancel,l`: the first branch is CANCELled when the new one goes out, and that injection is the last (the wait
    /// ends with any number of branches allowed). The injection follows t_relay in the same route, so the first
    /// branch cannot have rung: its CANCEL is owed until its 180 and goes without a Reason (as OpenSIPS).
    func testCancelAndLastFlags() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, ringing, missing, caller) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            t_newtran();
            t_wait_for_new_branches();
            $du = "sip:127.0.0.1:\(ringing)";
            t_relay();
            $du = "sip:127.0.0.1:\(missing)";
            if (t_inject_branches("msg", "cancel,l")) xlog("L_NOTICE", "injected last\\n");
        }
        """, port: proxy)
        let first = try startUAS("uas_ring_cancel.xml", port: ringing)
        let second = try startUAS("uas_404.xml", port: missing)
        let run = try runUAC("uac_180_404.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(first, lastReceived: "ACK ", calls: 1), first.report)
        XCTAssertTrue(uasCompleted(second, lastReceived: "ACK ", calls: 1), second.report)
        XCTAssertEqual(first.received("CANCEL "), 1, first.report)
        XCTAssertFalse(first.trace.contains("Reason:"), first.report)
        XCTAssertTrue(sy.waitFor("injected last"), sy.output)
    }

    /// From a reply route (OpenSIPS allows REQUEST and ONREPLY): on the 180 of the first branch the route appends a
    /// branch and injects it, cancelling the ringing one; the injected branch's 404 is the caller's answer.
    func testInjectFromReplyRoute() throws {
        let proxy = LocalPorts.freeUDPPort()
        let ringing = LocalPorts.freeUDPPort(avoid: [proxy])
        let missing = LocalPorts.freeUDPPort(avoid: [proxy, ringing])
        let caller = LocalPorts.freeUDPPort(avoid: [proxy, ringing, missing])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            t_newtran();
            t_wait_for_new_branches();
            t_on_reply("r");
            $du = "sip:127.0.0.1:\(ringing)";
            t_relay();
        }
        onreply_route[r] {
            if ($rs == 180) {
                append_branch("sip:127.0.0.1:\(missing)");
                if (t_inject_branches("msg", "cancel,l")) xlog("L_NOTICE", "injected from reply\\n");
            }
        }
        """, port: proxy)
        let first = try startUAS("uas_ring_cancel.xml", port: ringing)
        let second = try startUAS("uas_404.xml", port: missing)
        let run = try runUAC("uac_180_404.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(second, lastReceived: "ACK ", calls: 1), second.report)
        // The first callee's trace is not waited for above: wait for its CANCEL before counting.
        waitUntil(10) { first.received("CANCEL ") >= 1 }
        XCTAssertEqual(first.received("CANCEL "), 1, first.report)
        XCTAssertTrue(sy.waitFor("injected from reply"), sy.output)
    }

    /// Without a final reply sent: -2 once the transaction is answered.
    func testRefusedAfterAFinalReply() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            t_reply(486, "Busy Here");
            t_inject_branches("msg");
            $var(rc) = $rc;
            xlog("L_NOTICE", "inject after final: $var(rc)\\n");
        }
        """, port: proxy)
        let run = try runUAC("uac_486.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(sy.waitFor("inject after final: -2"), sy.output)
    }

    /// t_wait_no_more_branches in the branch route of an injection, once the first branch failed: the set is half
    /// made, so nothing completes until the new branch is out; its 200 is the caller's only final (the 486 used to
    /// go upstream from inside the branch route).
    func testNoMoreInTheBranchRouteOfAnInjection() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, busy, callee, caller) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "max_while_loops = 100000000\n") + """
        route {
            if ($rm != "INVITE") { $du = "sip:127.0.0.1:\(callee)"; t_relay(); exit; }
            t_newtran();
            t_wait_for_new_branches();
            t_on_branch("b");
            $du = "sip:127.0.0.1:\(busy)";
            t_relay();
            $var(n) = 0;
            while (t_local_replied("all") && $var(n) < 100000000) { $var(n) = $var(n) + 1; }
            xlog("L_NOTICE", "loop $var(n)\\n");
            if (!t_local_replied("all")) xlog("L_NOTICE", "first branch answered\\n");
            $var(inject) = 1;
            $du = "sip:127.0.0.1:\(callee)";
            if (t_inject_branches("msg")) xlog("L_NOTICE", "injected\\n");
        }
        branch_route[b] {
            if ($var(inject) == 1) { t_wait_no_more_branches(); xlog("L_NOTICE", "no more in branch route\\n"); }
        }
        """, port: proxy)
        let first = try startUAS("uas_486.xml", port: busy)
        let second = try startUAS("uas.xml", port: callee)
        let run = try runUAC("uac.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(first, lastReceived: "ACK ", calls: 1), first.report)
        XCTAssertEqual(run.uac.received("SIP/2.0 486"), 0, run.uac.report)
        XCTAssertEqual(second.received("INVITE "), 1, second.report)
        for line in ["first branch answered", "no more in branch route", "injected"] {
            XCTAssertTrue(sy.waitFor(line), "\(line)\n\(sy.output)")
        }
    }

    /// Not an INVITE: −1 (−2 is only for a transaction already answered).
    func testRefusedForANonInvite() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            t_newtran();
            t_inject_branches("msg");
            $var(rc) = $rc;
            xlog("L_NOTICE", "inject into $rm: $var(rc)\\n");
            t_reply(200, "OK");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        uac.send(RawSIP.request("OPTIONS", ruri: "sip:127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-inj-opt",
                                callID: "injopt@test"), to: proxy)
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200 OK", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("inject into OPTIONS: -1"), sy.output)
    }
}
