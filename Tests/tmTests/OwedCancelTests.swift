import Foundation
import XCTest
import SwitchyardTestSupport

/// A CANCEL owed to a branch that never answered goes out at its first provisional reply even after the transaction
/// completed (OpenSIPS's reply_received): a silent phone of a ring group stops ringing once another answered (with
/// "Call completed elsewhere"), a gateway that timed out before a failover stops ringing (no Reason). Raw UDP peers.
final class OwedCancelTests: TMTestCase {
    /// Ring group: A answers 200 while B is silent; B's late 180 brings its CANCEL with cause=200.
    func testSilentBranchOfAnAnsweredRingGroupIsCancelledAtItsFirstProvisional() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, caller, phoneA, phoneB) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            append_branch("sip:bob@127.0.0.1:\(phoneB)");
            $du = "sip:127.0.0.1:\(phoneA)";
            t_relay();
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let a = try RawSIP(port: phoneA)
        let b = try RawSIP(port: phoneB)
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-rg", callID: "rg@test"),
                 to: proxy)
        var seen: [String] = []
        let toA = try XCTUnwrap(a.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let toB = try XCTUnwrap(b.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)")
        a.send(BranchURITests.answer(toA, "200 OK"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertFalse(b.drain(0.3).contains { $0.hasPrefix("CANCEL ") }, "no CANCEL before B answered anything")
        b.send(BranchURITests.answer(toB, "180 Ringing"), to: proxy)
        let cancel = try XCTUnwrap(b.receive(startingWith: "CANCEL ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertEqual(RawSIP.header(cancel, "Reason"), "SIP ;cause=200 ;text=\"Call completed elsewhere\"", cancel)
        XCTAssertFalse(a.drain(0.3).contains { $0.hasPrefix("CANCEL ") }, "the answering branch is not CANCELled")
    }

    /// FreeSWITCH failover: gw1 stays silent past fr_timeout, the failure route tries gw2; gw1's late 180 brings its
    /// CANCEL (without a Reason, as OpenSIPS's delayed one) and does not reach the caller.
    func testBranchThatTimedOutSilentlyIsCancelledAtItsLateProvisional() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, caller, gw1, gw2) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "modparam(\"tm\", \"fr_timeout\", 2)\n") + """
        route {
            t_on_failure("next");
            $du = "sip:127.0.0.1:\(gw1)";
            t_relay();
        }
        failure_route[next] {
            xlog("L_NOTICE", "failover after $T_reply_code\\n");
            $du = "sip:127.0.0.1:\(gw2)";
            t_relay();
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let first = try RawSIP(port: gw1)
        let second = try RawSIP(port: gw2)
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-fo", callID: "fo@test"),
                 to: proxy)
        var seen: [String] = []
        let toFirst = try XCTUnwrap(first.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let toSecond = try XCTUnwrap(second.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("failover after 408"), sy.output)
        first.send(BranchURITests.answer(toFirst, "180 Ringing"), to: proxy)
        let cancel = try XCTUnwrap(first.receive(startingWith: "CANCEL ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertNil(RawSIP.header(cancel, "Reason"), cancel)
        first.send(BranchURITests.answer(toFirst, "487 Request Terminated"), to: proxy)
        XCTAssertNotNil(first.receive(startingWith: "ACK ", timeout: 5, seen: &seen), "the 487 is ACKed here\n\(seen)")
        // gw1's 180 was handled (its CANCEL is out) before gw2's arrives: had it gone upstream, it would come first.
        second.send(BranchURITests.answer(toSecond, "180 Second"), to: proxy)
        var upstream: [String] = []
        let ringing = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 180", timeout: 5, seen: &upstream), "\(upstream)")
        XCTAssertTrue(ringing.hasPrefix("SIP/2.0 180 Second"), "gw1's late 180 went upstream: \(upstream)")
        XCTAssertFalse(second.drain(0.3).contains { $0.hasPrefix("CANCEL ") }, "gw2 rings on")
    }
}
