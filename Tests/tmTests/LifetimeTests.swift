import Foundation
import XCTest
import SwitchyardTestSupport

/// Transactions end however the script leaves them: one the script neither relayed nor answered is released, and a
/// failure route that answers a non-INVITE (which ends the transaction at once) leaves the server serving.
final class LifetimeTests: TMTestCase {
    func testUnansweredTransactionIsReleased() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        modparam("tm", "fr_timeout", 2)
        modparam("tm", "wt_timer", 2)
        """) + """
        route {
            if ($rm == "MESSAGE") { t_newtran(); xlog("L_NOTICE", "left open: $ci\\n"); exit; }
            t_reply(200, "OK");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let ruri = "sip:1000@127.0.0.1:\(proxy)"
        uac.send(RawSIP.request("MESSAGE", ruri: ruri, localPort: caller, branch: "z9hG4bK-orphan-1", callID: "orphan-1@test",
                                body: "hi"), to: proxy)
        XCTAssertTrue(sy.waitFor("left open: orphan-1@test"), sy.output)
        XCTAssertTrue(sy.waitFor("was neither relayed nor answered; released"), sy.output)
        // After its WAIT the transaction is gone: the same request is new again and runs the script a second time.
        var seen: [String] = []
        let deadline = Date().addingTimeInterval(10)
        var again = false
        while !again && Date() < deadline {
            uac.send(RawSIP.request("MESSAGE", ruri: ruri, localPort: caller, branch: "z9hG4bK-orphan-1", callID: "orphan-1@test",
                                    body: "hi"), to: proxy)
            _ = uac.receive(startingWith: "SIP/2.0", timeout: 0.3, seen: &seen)
            again = sy.output.components(separatedBy: "left open: orphan-1@test").count > 2
        }
        XCTAssertTrue(again, sy.output)
        // The server still answers.
        uac.send(RawSIP.request("OPTIONS", ruri: ruri, localPort: caller, branch: "z9hG4bK-orphan-2", callID: "orphan-2@test"),
                 to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 3, seen: &seen), "\(seen)")
    }

    func testFailureRouteReplyToNonInvite() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, callee, caller) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            $du = "sip:127.0.0.1:\(callee)";
            t_on_failure("answer");
            t_relay();
        }
        failure_route[answer] {
            $avp(seen) = "yes";
            t_reply(503, "Service Unavailable");
        }
        """, port: proxy)
        let uas = try RawSIP(port: callee)
        let uac = try RawSIP(port: caller)
        let ruri = "sip:1000@127.0.0.1:\(proxy)"
        var seen: [String] = []
        for i in 1...3 {
            uac.send(RawSIP.request("MESSAGE", ruri: ruri, localPort: caller, branch: "z9hG4bK-fr-\(i)", callID: "fr-\(i)@test",
                                    body: "hi"), to: proxy)
            let req = try XCTUnwrap(uas.receive(startingWith: "MESSAGE ", timeout: 3, seen: &seen), sy.output)
            var reply = "SIP/2.0 404 Not Found\r\n"
            for h in req.components(separatedBy: "\r\n")
            where ["via:", "from:", "to:", "call-id:", "cseq:"].contains(where: { h.lowercased().hasPrefix($0) }) {
                reply += h + "\r\n"
            }
            reply += "Content-Length: 0\r\n\r\n"
            uas.send(reply, to: proxy)
            // The failure route's answer, not the callee's 404, reaches the caller.
            let got = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 5", timeout: 3, seen: &seen), "\(seen)\n\(sy.output)")
            XCTAssertTrue(got.hasPrefix("SIP/2.0 503 Service Unavailable"), got)
            XCTAssertFalse(seen.contains { $0.hasPrefix("SIP/2.0 404") }, "\(seen)")
        }
        XCTAssertTrue(sy.process.isRunning, sy.output)
    }
}
