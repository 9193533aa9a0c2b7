import Foundation
import XCTest
import SwitchyardTestSupport

/// CANCELs relayed by tm: one with no INVITE transaction is a transaction of its own (its replies match it), and
/// t_relay() in the failure route of a cancelled INVITE fails without a 487 of its own. Raw UDP peers.
final class CancelRelayTests: TMTestCase {
    /// A CANCEL that matches no INVITE, relayed statefully: the callee's 200 matches the CANCEL's own transaction, so
    /// the CANCEL is not retransmitted, the caller gets that 200 once and no 408 later; tm counts one received reply.
    func testOrphanCancelRepliesMatchItsOwnTransaction() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: miFifo + "\nmodparam(\"tm\", \"fr_timeout\", 2)") + """
        route {
            if ($rm == "CANCEL") {
                if (t_check_trans()) { t_relay(); exit; }
                $du = "sip:127.0.0.1:\(callee)";
                t_relay();
                xlog("L_NOTICE", "orphan CANCEL relayed: $rc\\n");
            }
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        var seen: [String] = []
        uac.send(RawSIP.request("CANCEL", ruri: "sip:1000@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-orphan-1",
                                callID: "orphan-1@test"), to: proxy)
        let cancel = try XCTUnwrap(uas.receive(startingWith: "CANCEL ", timeout: 3, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(cancel, "200 OK"), to: proxy)
        let ok = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 200", timeout: 3, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(ok.contains("CSeq: 1 CANCEL"), ok)
        // Past the CANCEL's retransmission times (0.5, 1.5 s) and fr_timeout (2 s).
        let late = uas.drain(2.5)
        XCTAssertEqual(late.filter { $0.hasPrefix("CANCEL ") }.count, 0, "no CANCEL retransmission after the 200: \(late)")
        let upstream = uac.drain(0.5)
        XCTAssertEqual(upstream.filter { $0.hasPrefix("SIP/2.0 ") }, [], "one final reply only: \(upstream)")
        XCTAssertTrue(sy.waitFor("orphan CANCEL relayed: 1"), sy.output)

        let (rc, out) = try cli(try cliConfig(), ["get_statistics", "tm:"])
        XCTAssertEqual(rc, 0, out)
        let stats = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any]
        XCTAssertEqual(stats?["tm:received_replies"] as? Int, 1, out)
        XCTAssertEqual(stats?["tm:relayed_replies"] as? Int, 1, out)
        XCTAssertEqual(stats?["tm:2xx_transactions"] as? Int, 1, out)
    }

    /// The caller CANCELs before the callee said anything; the branch times out and the failure route relays
    /// anyway: t_relay() returns -3 and sends nothing (neither a new branch nor a 487), the winning 408 goes upstream.
    func testRelayInFailureRouteOfCancelledInviteSendsNo487() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, caller, callee, second) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "modparam(\"tm\", \"fr_timeout\", 2)") + """
        route {
            if ($rm == "CANCEL") { if (t_check_trans()) t_relay(); exit; }
            $du = "sip:127.0.0.1:\(callee)";
            t_on_failure("again");
            t_relay();
        }
        failure_route[again] {
            $du = "sip:127.0.0.1:\(second)";
            t_relay();
            xlog("L_NOTICE", "relay after cancel: $rc\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        let other = try RawSIP(port: second)
        var seen: [String] = []
        let ruri = "sip:1000@127.0.0.1:\(proxy)"
        uac.send(RawSIP.request("INVITE", ruri: ruri, localPort: caller, branch: "z9hG4bK-cxl-1", callID: "cxl-1@test"), to: proxy)
        XCTAssertNotNil(uas.receive(startingWith: "INVITE ", timeout: 3, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 100", timeout: 3, seen: &seen), "\(seen)")
        uac.send(RawSIP.request("CANCEL", ruri: ruri, localPort: caller, branch: "z9hG4bK-cxl-1", callID: "cxl-1@test"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 3, seen: &seen), "200 to the CANCEL: \(seen)")
        let final = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 4", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(final.hasPrefix("SIP/2.0 408"), "the branch's 408 goes upstream, no 487 of tm's own: \(final)")
        XCTAssertTrue(sy.waitFor("relay after cancel: -3"), sy.output)
        let rest = uac.drain(0.5)
        XCTAssertFalse(rest.contains { $0.hasPrefix("SIP/2.0 487") }, "\(rest)")
        XCTAssertEqual(other.drain(0.3).filter { $0.hasPrefix("INVITE ") }, [], "no branch after the CANCEL")
    }
}
