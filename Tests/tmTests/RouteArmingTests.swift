import Foundation
import XCTest
import SwitchyardTestSupport

/// Where t_on_failure / t_on_reply land once the transaction exists, and which message flags its failure route sees,
/// as OpenSIPS 3.6.8 arms its T and copies the flags at t_relay / t_flush_flags. Raw UDP peers; every wait is on a
/// log line or a message.
final class RouteArmingTests: TMTestCase {
    /// `t_on_failure("A"); t_newtran(); t_on_failure("B"); t_relay();`: B runs (OpenSIPS writes B on its T and t_relay
    /// does not copy the pending A again). The same for t_on_reply.
    func testRouteArmedAfterNewtranWinsOverTheOneBefore() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            t_on_failure("A");
            t_on_reply("A");
            t_newtran();
            t_on_failure("B");
            t_on_reply("B");
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
        }
        onreply_route[A] { xlog("L_NOTICE", "reply A $rs\\n"); }
        onreply_route[B] { xlog("L_NOTICE", "reply B $rs\\n"); }
        failure_route[A] { xlog("L_NOTICE", "failure A $T_reply_code\\n"); }
        failure_route[B] { xlog("L_NOTICE", "failure B $T_reply_code\\n"); }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-arm1",
                                callID: "arm1@test"), to: proxy)
        var seen: [String] = []
        let relayed = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(relayed, "486 Busy Here"), to: proxy)
        XCTAssertTrue(sy.waitFor("failure B 486", timeout: 5), sy.output)
        XCTAssertTrue(sy.output.contains("reply B 486"), sy.output)
        XCTAssertFalse(sy.output.contains("failure A"), sy.output)
        XCTAssertFalse(sy.output.contains("reply A"), sy.output)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 486", timeout: 5, seen: &seen), "\(seen)")
    }

    /// In a failure route, t_on_failure after t_relay() arms the transaction for the next round (OpenSIPS: T is set
    /// there): the second branch's 486 runs the route armed last.
    func testFailureRouteArmsTheNextRoundAfterItsRelay() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            $du = "sip:127.0.0.1:\(callee)";
            t_on_failure("first");
            t_relay();
        }
        failure_route[first] {
            xlog("L_NOTICE", "first $T_reply_code\\n");
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
            t_on_failure("second");
        }
        failure_route[second] { xlog("L_NOTICE", "second $T_reply_code\\n"); }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-arm2",
                                callID: "arm2@test"), to: proxy)
        var seen: [String] = []
        let one = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(one, "486 Busy Here"), to: proxy)
        XCTAssertTrue(sy.waitFor("first 486", timeout: 5), sy.output)
        let two = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(two, "480 Later"), to: proxy)
        XCTAssertTrue(sy.waitFor("second 480", timeout: 5), sy.output)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 480", timeout: 5, seen: &seen), "\(seen)")
    }

    /// Flags set after t_newtran reach the failure route through t_relay, and flags set after t_relay through
    /// t_flush_flags (OpenSIPS copies the message flags into the transaction in both). A flag set after t_relay
    /// without t_flush_flags does not. The callee answers only once the request route has ended ("flushed").
    func testFlagsReachTheFailureRoute() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            t_newtran();
            setflag("BEFORE");
            t_on_failure("f");
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
            setflag("AFTER");
            if ($rm == "INVITE") t_flush_flags();
            xlog("L_NOTICE", "flushed $rm\\n");
        }
        failure_route[f] {
            $var(b) = "no"; $var(a) = "no";
            if (isflagset("BEFORE")) $var(b) = "yes";
            if (isflagset("AFTER")) $var(a) = "yes";
            xlog("L_NOTICE", "failure $rm before=$var(b) after=$var(a)\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        var seen: [String] = []
        for method in ["INVITE", "MESSAGE"] {
            uac.send(RawSIP.request(method, ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller,
                                    branch: "z9hG4bK-fl\(method)", callID: "fl-\(method)@test"), to: proxy)
            let relayed = try XCTUnwrap(uas.receive(startingWith: method + " ", timeout: 5, seen: &seen),
                                        "\(seen)\n\(sy.output)")
            XCTAssertTrue(sy.waitFor("flushed \(method)", timeout: 5), sy.output)
            uas.send(BranchURITests.answer(relayed, "404 Not Found"), to: proxy)
            XCTAssertTrue(sy.waitFor("failure \(method) ", timeout: 5), sy.output)
        }
        XCTAssertTrue(sy.output.contains("failure INVITE before=yes after=yes"), sy.output)
        XCTAssertTrue(sy.output.contains("failure MESSAGE before=yes after=no"), sy.output)
    }
}
