import Foundation
import XCTest
import SwitchyardTestSupport

/// What parallel branches do to each other: a 6xx ends the forking (the others CANCELled, no new branch in the
/// failure route), a 200 CANCELs the ringing branches with OpenSIPS's Reason, t_cancel_branch() from a reply route,
/// t_add_hdrs() in the CANCELs and ACKs tm builds. sipp plays every party.
final class ParallelCancelTests: TMTestCase {
    /// Three branches: one declines with 603 while the two others ring. The caller gets the 603, the ringing ones get
    /// a CANCEL without Reason (carrying the t_add_hdrs header, as the ACK of the 603 does), and t_relay in the
    /// failure route is refused with -3.
    func testSixXXBlocksOtherBranches() throws {
        let ports = LocalPorts.freePorts(5)
        let (proxy, decline, ring1, ring2, uacPort) = (ports[0], ports[1], ports[2], ports[3], ports[4])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            t_newtran();
            t_add_hdrs("X-TM: added\\r\\n");
            append_branch("sip:r1@127.0.0.1:\(ring1)");
            append_branch("sip:r2@127.0.0.1:\(ring2)");
            $du = "sip:127.0.0.1:\(decline)";
            t_on_failure("again");
            t_relay();
        }
        failure_route[again] {
            xlog("L_NOTICE", "failure on $T_reply_code\\n");
            $du = "sip:127.0.0.1:\(ring1)";
            t_relay();
            xlog("L_NOTICE", "failure t_relay returned $rc\\n");
        }
        """, port: proxy)
        let declining = try startUAS("uas_603_late.xml", port: decline)
        let ringing1 = try startUAS("uas_ring_cancel.xml", port: ring1)
        let ringing2 = try startUAS("uas_ring_cancel.xml", port: ring2)
        let run = try runUAC("uac_603.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(declining, lastReceived: "ACK ", calls: 1), declining.report)
        for r in [ringing1, ringing2] {
            XCTAssertTrue(uasCompleted(r, lastReceived: "ACK ", calls: 1), r.report)
            XCTAssertEqual(r.received("CANCEL "), 1, r.report)
            XCTAssertEqual(r.received("INVITE "), 1, "no new branch after the 6xx\n\(r.report)")
            let cancel = try XCTUnwrap(block(r.trace, "CANCEL "), r.report)
            XCTAssertFalse(cancel.contains("Reason:"), cancel)
            XCTAssertTrue(cancel.contains("X-TM: added"), cancel)
        }
        let ack = try XCTUnwrap(block(declining.trace, "ACK "), declining.report)
        XCTAssertTrue(ack.contains("X-TM: added"), ack)
        XCTAssertTrue(sy.waitFor("failure on 603"), sy.output)
        XCTAssertTrue(sy.waitFor("failure t_relay returned -3"), sy.output)
        XCTAssertEqual(run.uac.received("SIP/2.0 487"), 0, run.uac.report)
    }

    /// One branch rings, the other answers 200 after 1.5 s: the ringing one is CANCELled with
    /// `Reason: SIP ;cause=200 ;text="Call completed elsewhere"`, its 487 is absorbed, the call completes.
    func testTwoHundredCancelsRingingBranchWithReason() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, answer, ring, uacPort) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "INVITE") append_branch("sip:ring@127.0.0.1:\(ring)");
            $du = "sip:127.0.0.1:\(answer)";
            t_relay();
        }
        """, port: proxy)
        let answering = try startUAS("uas_slow.xml", port: answer)
        let ringing = try startUAS("uas_ring_cancel.xml", port: ring)
        let run = try runUAC("uac.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(answering, lastReceived: "BYE ", calls: 1), answering.report)
        XCTAssertTrue(uasCompleted(ringing, lastReceived: "ACK ", calls: 1), ringing.report)
        let cancel = try XCTUnwrap(block(ringing.trace, "CANCEL "), ringing.report)
        XCTAssertTrue(cancel.contains("Reason: SIP ;cause=200 ;text=\"Call completed elsewhere\""), cancel)
        XCTAssertEqual(run.uac.received("SIP/2.0 487"), 0, run.uac.report)
    }

    /// t_cancel_branch() in the reply route on branch 0's 180: that branch alone is CANCELled (no Reason), the other
    /// answers and the call goes on.
    func testCancelBranchFromReplyRoute() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, ring, answer, uacPort) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "INVITE") {
                append_branch("sip:answer@127.0.0.1:\(answer)");
                $du = "sip:127.0.0.1:\(ring)";
                t_on_reply("ringing");
            } else {
                $du = "sip:127.0.0.1:\(answer)";
            }
            t_relay();
        }
        onreply_route[ringing] {
            if ($T_branch_idx == 0 && t_check_status("18[0-9]")) {
                t_cancel_branch();
                xlog("L_NOTICE", "cancelled branch $T_branch_idx\\n");
            }
        }
        """, port: proxy)
        let ringing = try startUAS("uas_ring_cancel.xml", port: ring)
        let answering = try startUAS("uas_slow.xml", port: answer)
        let run = try runUAC("uac.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(sy.waitFor("cancelled branch 0"), sy.output)
        XCTAssertTrue(uasCompleted(ringing, lastReceived: "ACK ", calls: 1), ringing.report)
        let cancel = try XCTUnwrap(block(ringing.trace, "CANCEL "), ringing.report)
        XCTAssertFalse(cancel.contains("Reason:"), cancel)
        XCTAssertTrue(uasCompleted(answering, lastReceived: "BYE ", calls: 1), answering.report)
        XCTAssertEqual(run.uac.received("SIP/2.0 487"), 0, run.uac.report)
    }

    /// The first received message of a sipp trace starting with `firstLine`.
    func block(_ trace: String, _ firstLine: String) -> String? {
        trace.components(separatedBy: "message received").dropFirst().first { b in
            b.split(separator: "\n").contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix(firstLine) }
        }
    }
}
