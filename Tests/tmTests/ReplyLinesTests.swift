import Foundation
import XCTest
import SwitchyardTestSupport

/// append_to_reply lines reach tm's own replies on the transaction (a failure route's t_reply, the 408 of a timeout),
/// as OpenSIPS keeps them with the transaction's request. Raw UDP peers.
final class ReplyLinesTests: TMTestCase {
    func testKeptLinesInFailureRouteReplyAndTimeout() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, caller, callee, silent) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        loadmodule "sipmsgops.so"
        modparam("tm", "fr_timeout", 2)
        """) + """
        route {
            append_to_reply("X-Kept: $ci\\r\\n");
            if (is_method("INVITE")) $du = "sip:127.0.0.1:\(callee)"; else $du = "sip:127.0.0.1:\(silent)";
            t_on_failure("f");
            t_relay();
        }
        failure_route[f] {
            if (is_method("INVITE")) t_reply(503, "From Failure");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        _ = try RawSIP(port: silent)  // never answers
        var seen: [String] = []

        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-kept-inv",
                                callID: "kept-inv@test"), to: proxy)
        let relayed = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertFalse(relayed.contains("X-Kept"), relayed)
        uas.send(BranchURITests.answer(relayed, "486 Busy Here"), to: proxy)
        let failure = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 503", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(failure.contains("X-Kept: kept-inv@test\r\n"), failure)

        uac.send(RawSIP.request("MESSAGE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-kept-msg",
                                callID: "kept-msg@test"), to: proxy)
        let timeout = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 408", timeout: 8, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(timeout.contains("X-Kept: kept-msg@test\r\n"), timeout)
    }

    /// Lines added once the transaction exists (after t_relay in the request route, in a failure route) reach tm's
    /// replies too: the failure route's t_reply, and the 408 of the branch the failure route relayed.
    func testLinesAddedAfterTheTransactionExists() throws {
        let proxy = LocalPorts.freeUDPPort()
        let caller = LocalPorts.freeUDPPort(avoid: [proxy])
        let callee = LocalPorts.freeUDPPort(avoid: [proxy, caller])
        let silent = LocalPorts.freeUDPPort(avoid: [proxy, caller, callee])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        loadmodule "sipmsgops.so"
        modparam("tm", "fr_timeout", 2)
        """) + """
        route {
            t_on_failure("f");
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
            append_to_reply("X-After: $ci\\r\\n");
            xlog("APPENDED $ci\\n");
        }
        failure_route[f] {
            append_to_reply("X-Failure: $T_reply_code\\r\\n");
            if (is_method("INVITE")) { t_reply(503, "From Failure"); exit; }
            $du = "sip:127.0.0.1:\(silent)";
            t_relay();
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        _ = try RawSIP(port: silent)  // never answers
        var seen: [String] = []
        for (method, call) in [("INVITE", "after-inv@test"), ("MESSAGE", "after-msg@test")] {
            uac.send(RawSIP.request(method, ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-\(method.lowercased())-after",
                                    callID: call), to: proxy)
            let relayed = try XCTUnwrap(uas.receive(startingWith: "\(method) ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
            XCTAssertFalse(relayed.contains("X-After"), relayed)
            // Two UDP workers: the 486 may be read by the other one before this worker passed append_to_reply.
            XCTAssertTrue(sy.waitFor("APPENDED \(call)"), sy.output)
            uas.send(BranchURITests.answer(relayed, "486 Busy Here"), to: proxy)
            let code = method == "INVITE" ? "503" : "408"
            let reply = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 \(code)", timeout: 8, seen: &seen), "\(seen)\n\(sy.output)")
            XCTAssertTrue(reply.contains("X-After: \(call)\r\n"), reply)
            XCTAssertTrue(reply.contains("X-Failure: 486\r\n"), reply)
        }
    }
}
