import Foundation
import XCTest
import SwitchyardTestSupport

/// INVITE and non-INVITE transactions through tm with real sipp peers: retransmissions absorbed, 100 Trying, CANCEL,
/// timeouts, t_reply.
final class TransactionTests: TMTestCase {
    static let cancelScript = """
    route {
        xlog("L_NOTICE", "script ran for $rm\\n");
        if ($rm == "CANCEL") {
            if (t_check_trans()) t_relay();
            exit;
        }
        $du = "sip:127.0.0.1:DST";
        t_on_failure("done");
        t_relay();
    }
    failure_route[done] {
        if (t_was_cancelled()) { xlog("L_NOTICE", "was cancelled, reply $T_reply_code\\n"); exit; }
        xlog("L_NOTICE", "failed with $T_reply_code on branch $T_branch_idx\\n");
    }
    """

    /// The callee sees one INVITE though the caller sends it twice; the second gets the last reply (the relayed 180)
    /// again; the call then completes (200, ACK end to end, BYE).
    func testBasicCallWithRetransmittedInvite() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + Self.cancelScript.replacingOccurrences(of: "DST", with: "\(uasPort)"),
                                     port: proxy)
        let uas = try startUAS("uas_delay.xml", port: uasPort)
        let caller = try RawSIP(port: uacPort)
        let ruri = "sip:1000@127.0.0.1:\(proxy)"
        let invite = RawSIP.request("INVITE", ruri: ruri, localPort: uacPort, branch: "z9hG4bK-raw-1", callID: "retr-1@test")
        caller.send(invite, to: proxy)
        var seen: [String] = []
        let trying = caller.receive(startingWith: "SIP/2.0 100", timeout: 3, seen: &seen)
        XCTAssertNotNil(trying, "100 Trying at once: \(seen)")
        XCTAssertNil(trying.flatMap { RawSIP.header($0, "To") }?.range(of: "tag="), "no To tag on 100")
        let ringing = caller.receive(startingWith: "SIP/2.0 180", timeout: 3, seen: &seen)
        XCTAssertNotNil(ringing, "180 relayed: \(seen)")
        caller.send(invite, to: proxy)  // a retransmission while the transaction is open
        let again = caller.receive(startingWith: "SIP/2.0", timeout: 5, seen: &seen)
        XCTAssertTrue(again?.hasPrefix("SIP/2.0 180") ?? false, "the last reply re-sent: \(again ?? "nothing")")
        let ok = try XCTUnwrap(caller.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "200: \(seen)\n\(uas.report)")
        let to = try XCTUnwrap(RawSIP.header(ok, "To"))
        caller.send(RawSIP.request("ACK", ruri: ruri, localPort: uacPort, branch: "z9hG4bK-raw-1a", callID: "retr-1@test",
                                   to: to), to: proxy)
        XCTAssertTrue(waitUntil(5) { uas.received("ACK ") >= 1 }, "the ACK reached the callee before the BYE\n\(uas.report)")
        caller.send(RawSIP.request("BYE", ruri: ruri, localPort: uacPort, branch: "z9hG4bK-raw-1b", callID: "retr-1@test",
                                   cseq: 2, to: to), to: proxy)
        XCTAssertNotNil(caller.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "200 to BYE: \(seen)\n\(uas.report)")
        XCTAssertEqual(uas.received("INVITE "), 1, "the callee saw one INVITE\n\(uas.report)")
        XCTAssertEqual(uas.received("ACK "), 1, uas.report)
        // The BYE's run is logged after every INVITE's: once it is read, the count is complete.
        sy.waitFor("script ran for BYE")
        XCTAssertEqual(sy.output.components(separatedBy: "script ran for INVITE").count - 1, 1, sy.output)
    }

    /// CANCEL while ringing: 200 to the CANCEL, the callee CANCELled and its 487 relayed, both sides ACKed,
    /// t_was_cancelled() true in the failure route.
    func testCancelWhileRinging() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + Self.cancelScript.replacingOccurrences(of: "DST", with: "\(uasPort)"),
                                     port: proxy)
        let uas = try startUAS("uas_ring_cancel.xml", port: uasPort)
        let run = try runUAC("uac_cancel.xml", local: uacPort, target: proxy, calls: 3)
        assertAllSuccessful(run, calls: 3, sy)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 3), "the callee got CANCEL and the ACK of its 487\n\(uas.report)")
        XCTAssertTrue(sy.waitFor("was cancelled, reply 487"), sy.output)
    }

    /// No answer at all: the INVITE is retransmitted (T1 doubling), never CANCELled, and the caller gets 408 after
    /// fr_timeout; the caller's ACK is not relayed.
    func testNoAnswerGives408() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, calleePort, uacPort) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "modparam(\"tm\", \"fr_timeout\", 2)")
                                     + Self.cancelScript.replacingOccurrences(of: "DST", with: "\(calleePort)"), port: proxy)
        let callee = try RawSIP(port: calleePort)
        let started = Date()
        let run = try runUAC("uac_408.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 1.9, "408 only after fr_timeout")
        let got = callee.drain(0.5)
        let invites = got.filter { $0.hasPrefix("INVITE ") }
        XCTAssertGreaterThanOrEqual(invites.count, 3, "sent at 0, 0.5, 1.5 s: \(got.map { $0.prefix(30) })")
        XCTAssertEqual(Set(invites.compactMap { RawSIP.header($0, "Via") }).count, 1, "retransmissions are the same request")
        XCTAssertTrue(got.allSatisfy { !$0.hasPrefix("CANCEL ") && !$0.hasPrefix("ACK ") }, "no CANCEL, no ACK downstream")
        XCTAssertTrue(sy.waitFor("failed with 408 on branch 0"), sy.output)
    }

    /// Ringing, then no answer: after fr_inv_timeout the callee gets a CANCEL, the caller a 408.
    func testRingingThenNoAnswer() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "modparam(\"tm\", \"fr_inv_timeout\", 2)")
                                     + Self.cancelScript.replacingOccurrences(of: "DST", with: "\(uasPort)"), port: proxy)
        let uas = try startUAS("uas_ring_cancel.xml", port: uasPort)
        let run = try runUAC("uac_408.xml", local: uacPort, target: proxy, calls: 2)
        assertAllSuccessful(run, calls: 2, sy)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 2), "CANCEL, then the ACK of the 487\n\(uas.report)")
        XCTAssertEqual(uas.received("CANCEL "), 2, uas.report)
    }

    /// A non-INVITE request relayed statefully: its retransmission before the answer is absorbed (the callee sees only
    /// tm's own retransmissions, with tm's branch), and one after the answer gets the stored 200.
    func testNonInviteRetransmissionsAbsorbed() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + Self.cancelScript.replacingOccurrences(of: "DST", with: "\(uasPort)"),
                                     port: proxy)
        let uas = try startUAS("uas_message.xml", port: uasPort)
        let caller = try RawSIP(port: uacPort)
        let msg = RawSIP.request("MESSAGE", ruri: "sip:1000@127.0.0.1:\(proxy)", localPort: uacPort, branch: "z9hG4bK-raw-m",
                                 callID: "msg-1@test", body: "hello")
        caller.send(msg, to: proxy)
        XCTAssertTrue(waitUntil(5) { uas.received("MESSAGE ") >= 1 }, "the MESSAGE reached the callee\n\(uas.report)")
        caller.send(msg, to: proxy)  // before the answer (the callee waits 1 s): absorbed, nothing to re-send yet
        var seen: [String] = []
        XCTAssertNotNil(caller.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "\(seen)\n\(uas.report)")
        XCTAssertEqual(seen.count, 1, "one reply only: \(seen)")
        caller.send(msg, to: proxy)  // after the answer: the 200 again, from the transaction
        XCTAssertTrue(caller.receive(timeout: 5)?.hasPrefix("SIP/2.0 200") ?? false)
        XCTAssertEqual(sy.output.components(separatedBy: "script ran for MESSAGE").count - 1, 1, sy.output)
        // The callee saw the proxy's first send and its T1 retransmission(s), all with one branch; never the caller's.
        XCTAssertTrue(waitUntil(5) { uas.received("MESSAGE ") >= 1 }, uas.report)
        let trace = uas.trace
        var branches = Set<String>()
        var at = trace.startIndex
        while let r = trace.range(of: #"branch=z9hG4bK[0-9a-f]+\.[0-9a-f]+\.[0-9a-f]+"#, options: .regularExpression,
                                  range: at..<trace.endIndex) {
            branches.insert(String(trace[r]))
            at = r.upperBound
        }
        XCTAssertEqual(branches.count, 1, uas.report)
        XCTAssertLessThanOrEqual(uas.received("MESSAGE "), 3, uas.report)
    }

    /// t_reply on an INVITE: a retransmitted INVITE gets the stored reply without running the script again; the ACK
    /// ends the transaction and runs the script (t_reply there stops it).
    func testTReplyAndRetransmission() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, uacPort) = (ports[0], ports[1])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            xlog("L_NOTICE", "script ran for $rm\\n");
            t_reply(486, "Busy Here");
            xlog("L_NOTICE", "replied $T_reply_code\\n");
        }
        """, port: proxy)
        let caller = try RawSIP(port: uacPort)
        let ruri = "sip:1000@127.0.0.1:\(proxy)"
        let invite = RawSIP.request("INVITE", ruri: ruri, localPort: uacPort, branch: "z9hG4bK-raw-r", callID: "busy-1@test")
        caller.send(invite, to: proxy)
        var seen: [String] = []
        let busy = try XCTUnwrap(caller.receive(startingWith: "SIP/2.0 486", timeout: 3, seen: &seen), "\(seen)\n\(sy.output)")
        let tag = RawSIP.header(busy, "To") ?? ""
        XCTAssertTrue(tag.contains(";tag="), busy)
        caller.send(invite, to: proxy)
        let again = try XCTUnwrap(caller.receive(startingWith: "SIP/2.0 486", timeout: 3, seen: &seen), "\(seen)")
        XCTAssertEqual(RawSIP.header(again, "To"), tag, "the same reply")
        // Without the ACK, the 486 is retransmitted (T1).
        XCTAssertTrue(caller.receive(timeout: 5)?.hasPrefix("SIP/2.0 486") ?? false, "486 retransmitted until the ACK")
        caller.send(RawSIP.request("ACK", ruri: ruri, localPort: uacPort, branch: "z9hG4bK-raw-r", callID: "busy-1@test",
                                   cseqMethod: "ACK", to: tag), to: proxy)
        _ = caller.drain(0.3)
        XCTAssertTrue(caller.drain(2.5).isEmpty, "the ACK stops the retransmissions")
        XCTAssertTrue(sy.waitFor("replied 486"), sy.output)
        XCTAssertEqual(sy.output.components(separatedBy: "script ran for INVITE").count - 1, 1, sy.output)
        // The ACK runs the script as in OpenSIPS; t_reply on it returns 0 (the script stops, nothing sent).
        XCTAssertTrue(sy.waitFor("script ran for ACK"), sy.output)
        XCTAssertEqual(sy.output.components(separatedBy: "replied ").count - 1, 1, sy.output)
    }

    /// A CANCEL that matches no INVITE gets 481 from the script's stateful relay path (here: t_reply after
    /// t_check_trans fails).
    func testCancelWithoutInvite() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, uacPort) = (ports[0], ports[1])
        _ = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "CANCEL") {
                if (!t_check_trans()) { t_reply(481, "Call/Transaction Does Not Exist"); exit; }
                t_relay();
                exit;
            }
        }
        """, port: proxy)
        let caller = try RawSIP(port: uacPort)
        caller.send(RawSIP.request("CANCEL", ruri: "sip:1000@127.0.0.1:\(proxy)", localPort: uacPort, branch: "z9hG4bK-raw-c",
                                   callID: "nocall@test"), to: proxy)
        var seen: [String] = []
        XCTAssertNotNil(caller.receive(startingWith: "SIP/2.0 481", timeout: 3, seen: &seen), "\(seen)")
    }
}
