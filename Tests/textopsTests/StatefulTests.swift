import Foundation
import XCTest
import SwitchyardTestSupport

/// The rewrites through tm: a branch route's SDP and header changes reach the callee with t_relay(), and a reply
/// route's status line and body changes reach the caller.
final class StatefulTests: TextOpsTestCase {
    func testRewritesThroughTransactions() throws {
        let (sy, ports) = try startSwitchyard(ports: 3) { Self.config(port: $0[0]) + """
        loadmodule "tm.so"
        route {
            if (is_method("INVITE")) {
                replace("alpha", "first");
                t_on_branch("b");
                t_on_reply("r");
            }
            $du = "sip:127.0.0.1:\($0[1])";
            t_relay();
        }
        branch_route[b] {
            codec_delete_re("^(PCMA|G729)$");
            subst_body("/a=sendrecv/a=recvonly/");
        }
        onreply_route[r] {
            if ($rs == 200) {
                change_reply_status(200, "Stateful OK");
                replace_body("s=-", "s=stateful");
            }
        }
        """ }
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let uas = try startUAS("uas.xml", port: uasPort)
        let run = try runUAC("uac_textops.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)

        let inv = try XCTUnwrap(Self.messages(uas, "INVITE ").first, uas.report)
        let text = inv.joined(separator: "\n")
        XCTAssertEqual(Self.header(inv, "X-Tag"), ["first beta alpha"], text)
        let media = Self.body(inv).filter { $0.hasPrefix("m=") || $0.hasPrefix("a=") }
            .map { $0.replacingOccurrences(of: #"^m=audio [0-9]+ "#, with: "m=audio P ", options: .regularExpression) }
        XCTAssertEqual(media, ["m=audio P RTP/AVP 0 101", "a=rtpmap:0 PCMU/8000", "a=rtpmap:101 telephone-event/8000",
                               "a=fmtp:101 0-16", "a=recvonly", "m=video 6000 RTP/AVP 31", "a=rtpmap:31 H261/90000"], text)
        XCTAssertEqual(Self.header(inv, "Content-Length"), [String(Self.bodyLength(inv))], text)

        let ok = try XCTUnwrap(Self.messages(run.uac, "SIP/2.0 200 Stateful OK").first, run.uac.report)
        XCTAssertTrue(Self.body(ok).contains("s=stateful"), ok.joined(separator: "\n"))
        XCTAssertEqual(Self.header(ok, "Content-Length"), [String(Self.bodyLength(ok))], ok.joined(separator: "\n"))
    }
}
