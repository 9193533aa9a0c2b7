import Foundation
import XCTest
import SwitchyardTestSupport

/// Where the reply routes sit in reply processing, as OpenSIPS has them: they run for every reply matched to a
/// branch (a 2xx retransmission included) before the branch counts as answered, and a provisional reply dropped
/// there is forgotten (no fr_inv_timeout, no CANCEL owed to it). Raw UDP peers on both sides.
final class ReplyRouteOrderTests: TMTestCase {
    static let script = """
    route {
        $du = "sip:127.0.0.1:CALLEE";
        t_on_reply("r");
        t_relay();
    }
    onreply_route[r] {
        if (t_local_replied("all")) xlog("L_NOTICE", "reply $rs silent\\n");
        else xlog("L_NOTICE", "reply $rs answered\\n");
        if ($rs == 180) drop;
    }
    """

    /// A 180 dropped in the reply route: the caller never sees it, the branch keeps fr_timeout (2 s, not the 30 s of
    /// fr_inv_timeout) and, never answered, gets no CANCEL when the timer ends in a 408.
    func testDroppedProvisionalKeepsFrTimeout() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let extra = "modparam(\"tm\", \"fr_timeout\", 2)\nmodparam(\"tm\", \"fr_inv_timeout\", 30)"
        let sy = try startSwitchyard(Self.config(port: proxy, extra: extra)
                                     + Self.script.replacingOccurrences(of: "CALLEE", with: "\(callee)"), port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-drop", callID: "drop@test"),
                 to: proxy)
        var seen: [String] = []
        let relayed = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(relayed, "180 Ringing"), to: proxy)
        XCTAssertTrue(sy.waitFor("reply 180 silent", timeout: 5), sy.output)
        let sent = Date()
        var upstream: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 408", timeout: 6, seen: &upstream), "\(upstream)\n\(sy.output)")
        XCTAssertLessThan(Date().timeIntervalSince(sent), 5, "fr_timeout (2 s) ended the branch, not fr_inv_timeout")
        XCTAssertFalse(upstream.contains { $0.hasPrefix("SIP/2.0 180") }, "the dropped 180 went upstream: \(upstream)")
        XCTAssertFalse(uas.drain(0.5).contains { $0.hasPrefix("CANCEL ") }, "a CANCEL for a branch that never answered")
    }

    /// The route sees the first reply with the branch still silent, and runs again for a retransmitted 200 (which
    /// goes upstream too: the ACK is end to end).
    func testReplyRouteRunsForA2xxRetransmission() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy)
                                     + Self.script.replacingOccurrences(of: "CALLEE", with: "\(callee)"), port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-retr", callID: "retr@test"),
                 to: proxy)
        var seen: [String] = []
        let relayed = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let ok = BranchURITests.answer(relayed, "200 OK")
        uas.send(ok, to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "\(seen)")
        uas.send(ok, to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "the retransmitted 200 upstream")
        XCTAssertTrue(sy.waitFor("reply 200 silent", timeout: 5), sy.output)
        XCTAssertTrue(sy.waitFor("reply 200 answered", timeout: 5), "the route ran for the retransmission\n\(sy.output)")
    }

    /// A 200 arriving on a branch that already ended (its 486, ACKed here) while another branch still rings is
    /// discarded: it neither reaches the caller nor completes the transaction; the ringing branch's 480 (priority
    /// 680 against the 486's 686) goes upstream. Once that final is out, the same 200 again is relayed (the ACK is
    /// end to end), as OpenSIPS. The 480 is sent only after the reply route saw the 200, so the 200 is handled
    /// first whichever worker takes which.
    func testLate2xxOnAnEndedBranchIsDiscarded() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, caller, busy, ringing) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            append_branch("sip:bob@127.0.0.1:\(ringing)");
            $du = "sip:127.0.0.1:\(busy)";
            t_on_reply("seen");
            t_relay();
        }
        onreply_route[seen] {
            xlog("L_NOTICE", "reply $rs seen\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let first = try RawSIP(port: busy)
        let second = try RawSIP(port: ringing)
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-late", callID: "late@test"),
                 to: proxy)
        var seen: [String] = []
        let toFirst = try XCTUnwrap(first.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let toSecond = try XCTUnwrap(second.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)")
        second.send(BranchURITests.answer(toSecond, "180 Ringing"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 180", timeout: 5, seen: &seen), "\(seen)")
        first.send(BranchURITests.answer(toFirst, "486 Busy Here"), to: proxy)
        XCTAssertNotNil(first.receive(startingWith: "ACK ", timeout: 5, seen: &seen), "the 486 is ACKed here\n\(seen)")
        let ok = BranchURITests.answer(toFirst, "200 OK")
        first.send(ok, to: proxy)
        // The route runs with the bucket held: once it logged, the 480 waits until the 200 was dealt with.
        XCTAssertTrue(sy.waitFor("reply 200 seen", timeout: 5), sy.output)
        second.send(BranchURITests.answer(toSecond, "480 Temporarily Unavailable"), to: proxy)
        var upstream: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 480", timeout: 5, seen: &upstream), "\(upstream)\n\(sy.output)")
        XCTAssertFalse(upstream.contains { $0.hasPrefix("SIP/2.0 200") }, "the late 200 went upstream: \(upstream)")
        first.send(ok, to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &upstream),
                        "a 2xx after the final goes upstream\n\(upstream)")
    }
}
