import Foundation
import XCTest
import SwitchyardTestSupport

/// The OpenSIPS 3.x script skeleton these modules exist for (tm, rr, maxfwd, sipmsgops, signaling): it loads, relays
/// calls and in-dialog requests, passes a CANCEL through `is_method("CANCEL") + t_check_trans()`, and answers what it
/// does not handle with send_reply.
final class OpenSIPSScriptTests: MsgOpsTestCase {
    static func script(callee: Int) -> String {
        """
        loadmodule "tm.so"
        loadmodule "rr.so"
        loadmodule "maxfwd.so"
        loadmodule "signaling.so"

        route {
            if (!mf_process_maxfwd_header(10)) { send_reply(483, "Too Many Hops"); exit; }
            if (has_totag()) {
                if (loose_route()) { t_relay(); exit; }
                if (is_method("ACK")) { if (t_check_trans()) t_relay(); exit; }
                # The test peers keep no route set: in-dialog requests come without Route.
                xlog("L_NOTICE", "in-dialog $rm\\n");
                $du = "sip:127.0.0.1:\(callee)";
                t_relay();
                exit;
            }
            if (is_method("CANCEL")) {
                if (t_check_trans()) { xlog("L_NOTICE", "CANCEL relayed\\n"); t_relay(); }
                exit;
            }
            if (!is_method("INVITE")) { send_reply(405, "Method Not Allowed"); exit; }
            record_route();
            $du = "sip:127.0.0.1:\(callee)";
            if (!t_relay()) send_reply(500, "Server Internal Error");
        }
        """
    }

    func testCallsAndInDialogRequests() throws {
        let (sy, p) = try startSwitchyard(ports: 3) { Self.config(port: $0[0]) + Self.script(callee: $0[1]) }
        let (proxy, uasPort, uacPort) = (p[0], p[1], p[2])
        let uas = try startUAS("uas.xml", port: uasPort)
        let run = try runUAC("uac.xml", local: uacPort, target: proxy, calls: 2)
        assertAllSuccessful(run, calls: 2, sy)
        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.02) { uas.received("BYE ") == 2 }, uas.report)
        XCTAssertEqual(uas.received("INVITE "), 2, uas.report)
        XCTAssertTrue(Self.messages(uas, "INVITE ").allSatisfy { !Self.header($0, "Record-Route").isEmpty }, uas.report)
        XCTAssertTrue(sy.waitFor("in-dialog BYE"), sy.output)
    }

    func testCancelPassesThroughTheIdiom() throws {
        let (sy, p) = try startSwitchyard(ports: 3) { Self.config(port: $0[0]) + Self.script(callee: $0[1]) }
        let (proxy, uasPort, uacPort) = (p[0], p[1], p[2])
        let uas = try startUAS("uas_ring_cancel.xml", port: uasPort)
        let run = try runUAC("uac_cancel.xml", local: uacPort, target: proxy, calls: 2)
        assertAllSuccessful(run, calls: 2, sy)
        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.02) { uas.received("CANCEL ") == 2 }, uas.report)
        // Each line is logged after its CANCEL was relayed: wait for the second before counting.
        waitUntil(timeout: 10, poll: 0.02) { Self.count(sy.output, "CANCEL relayed") >= 2 }
        XCTAssertEqual(Self.count(sy.output, "CANCEL relayed"), 2, sy.output)
    }

    func testUnhandledMethodIsAnsweredStatelessly() throws {
        // The callee port is never sent to (the OPTIONS is answered by the script), but is free all the same.
        let (sy, p) = try startSwitchyard(ports: 2) { Self.config(port: $0[0]) + Self.script(callee: $0[1]) }
        let proxy = p[0]
        let caller = try UDPSocket()
        caller.send("OPTIONS sip:1000@127.0.0.1:\(proxy) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-o1\r\n"
                    + "From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:1000@127.0.0.1>\r\nCall-ID: opt-1\r\nCSeq: 1 OPTIONS\r\n"
                    + "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n", to: proxy)
        var reply: String?
        XCTAssertTrue(waitUntil(timeout: 5, poll: 0) { reply = caller.receive()?.0; return reply != nil }, sy.output)
        XCTAssertTrue(reply?.hasPrefix("SIP/2.0 405 Method Not Allowed") ?? false, reply ?? "")
    }
}
