import Foundation
import XCTest
import SwitchyardTestSupport

/// send_reply: stateless without a transaction (tm loaded or not), through tm when the request has one (t_newtran, a
/// failure route).
final class SendReplyTests: SignalingTestCase {
    /// Without tm every reply is stateless; a code outside 100..699 is refused at run time.
    func testStatelessWithoutTM() throws {
        let (sy, ports) = try startSwitchyard(ports: 2) { Self.config(port: $0[0], tm: false) + """
        route {
            if ($rm == "INVITE") {
                $var(code) = 700;
                if (!send_reply($var(code), "Too Big")) xlog("L_NOTICE", "code 700 refused\\n");
                if (send_reply(486, "Busy Here")) xlog("L_NOTICE", "replied to $ci\\n");
            }
            exit;
        }
        """ }
        let (proxy, uacPort) = (ports[0], ports[1])
        let run = try runUAC("uac_486.xml", local: uacPort, target: proxy, calls: 2)
        assertAllSuccessful(run, calls: 2, sy)
        XCTAssertTrue(sy.output.contains("tm not loaded: stateless replies"), sy.output)
        XCTAssertTrue(sy.waitFor("code 700 refused"), sy.output)
        XCTAssertTrue(sy.output.contains("send_reply: wrong code 700"), sy.output)
        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.02) { Self.count(sy.output, "replied to ") == 2 }, sy.output)
    }

    /// An empty reason is sent as it is (OpenSIPS sends the status line with an empty reason phrase), statelessly and
    /// through tm.
    func testEmptyReason() throws {
        let (sy, ports) = try startSwitchyard(ports: 1) { Self.config(port: $0[0], tm: true) + """
        route {
            if ($rU == "stateful") t_newtran();
            if (send_reply(404, "")) xlog("L_NOTICE", "replied to $ci\\n");
            exit;
        }
        """ }
        let proxy = ports[0]
        let caller = try UDPSocket()
        for user in ["stateless", "stateful"] {
            caller.send(Self.invite(user: user, proxy: proxy, local: caller.port, callID: "empty-\(user)",
                                    branch: "z9hG4bK-empty-\(user)"), to: proxy)
            let reply = Self.receive(caller, startingWith: "SIP/2.0 404")
            XCTAssertEqual(reply?.components(separatedBy: "\r\n").first, "SIP/2.0 404 ", "\(user)\n\(sy.output)")
            XCTAssertTrue(sy.waitFor("replied to empty-\(user)"), sy.output)
        }
    }

    /// With tm loaded: after t_newtran the reply is tm's, so a retransmitted INVITE gets it again without the script
    /// running; without a transaction the reply is stateless and a retransmission runs the script again.
    func testTransactionDecides() throws {
        let (sy, ports) = try startSwitchyard(ports: 1) { Self.config(port: $0[0], tm: true) + """
        route {
            if ($rm == "INVITE") {
                if ($rU == "stateful") t_newtran();
                xlog("L_NOTICE", "script ran for $ci\\n");
                send_reply(486, "Busy Here");
                exit;
            }
            if ($rm == "OPTIONS") { xlog("L_NOTICE", "marker $ci\\n"); send_reply(200, "OK"); }
            exit;
        }
        """ }
        let proxy = ports[0]
        XCTAssertTrue(sy.output.contains("replies through tm when a transaction exists"), sy.output)
        let caller = try UDPSocket()
        for (user, runs) in [("stateful", 1), ("stateless", 2)] {
            let callID = "sig-\(user)-\(UUID().uuidString)"
            let inv = Self.invite(user: user, proxy: proxy, local: caller.port, callID: callID, branch: "z9hG4bK-\(user)")
            caller.send(inv, to: proxy)
            let first = Self.receive(caller, startingWith: "SIP/2.0 486")
            XCTAssertNotNil(first, "\(user): no 486\n\(sy.output)")
            caller.send(inv, to: proxy)
            let again = Self.receive(caller, startingWith: "SIP/2.0 486")
            XCTAssertNotNil(again, "\(user): no 486 for the retransmission\n\(sy.output)")
            XCTAssertEqual(Self.toTag(first ?? ""), Self.toTag(again ?? ""), "\(user): the same reply (To tag)")
            // One worker: once a later request was handled, the retransmission was too.
            let marker = "marker-\(user)-\(UUID().uuidString)"
            caller.send(Self.invite(user: "x", proxy: proxy, local: caller.port, callID: marker, branch: "z9hG4bK-\(marker)")
                .replacingOccurrences(of: "INVITE", with: "OPTIONS"), to: proxy)
            XCTAssertNotNil(Self.receive(caller, startingWith: "SIP/2.0 200"), sy.output)
            XCTAssertTrue(sy.waitFor("marker \(marker)"), sy.output)
            XCTAssertEqual(Self.count(sy.output, "script ran for \(callID)"), runs, "\(user)\n\(sy.output)")
        }
    }

    /// In a failure route the transaction exists: the caller gets send_reply's code through tm, once, and its ACK is
    /// absorbed.
    func testFailureRouteRepliesThroughTM() throws {
        let (sy, ports) = try startSwitchyard(ports: 3) { Self.config(port: $0[0], tm: true) + """
        route {
            if ($rm == "INVITE") t_on_failure("busy");
            $du = "sip:127.0.0.1:\($0[1])";
            t_relay();
        }
        failure_route[busy] {
            if (send_reply(486, "Busy Here")) xlog("L_NOTICE", "failure route replied for $ci\\n");
        }
        """ }
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let uas = try startUAS("uas_503.xml", port: uasPort)
        let run = try runUAC("uac_486.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(sy.waitFor("failure route replied for"), sy.output)
        XCTAssertEqual(uas.received("INVITE "), 1, uas.report)
        XCTAssertEqual(run.uac.received("SIP/2.0 486"), 1, run.uac.report)
    }
}
