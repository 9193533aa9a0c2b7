import Foundation
import XCTest
import SwitchyardTestSupport

/// A call through a stateless proxy whose script searches and rewrites the INVITE (request-URI, header text, SDP)
/// and the 200 that answers it: what each sipp peer received shows every function's outcome.
final class RewriteTests: TextOpsTestCase {
    static func route(uas: Int) -> String {
        """
        route {
            if (is_method("INVITE")) {
                if (search("^X-Mark: here")) append_hf("X-Search: 1\\r\\n");
                if (!search("^X-Absent")) append_hf("X-Search-Not: 1\\r\\n");
                if (search_body("^m=video")) append_hf("X-Search-Body: 1\\r\\n");
                if (!search_body("^m=image")) append_hf("X-Search-Body-Not: 1\\r\\n");
                if (subst_uri("/^sip:1000@/sip:2000@/")) append_hf("X-Subst-Uri: 1\\r\\n");
                if (!subst_uri("/^sip:9999@/sip:1@/")) append_hf("X-Subst-Uri-Not: 1\\r\\n");
                if (subst_user("/^2(.*)$/3\\1/")) append_hf("X-Subst-User: $rU\\r\\n");
                # A line break in the result would inject header lines: refused, the URI kept.
                if (!subst_user("/^(.*)$/\\1\\r\\nX-Injected: 1/")) append_hf("X-User-CRLF-Refused: 1\\r\\n");
                if (!subst_uri("/^(.*)$/\\1\\nX-Injected: 2/")) append_hf("X-Uri-LF-Refused: 1\\r\\n");
                if (replace("alpha", "ALPHA")) append_hf("X-Replace: 1\\r\\n");
                if (replace_all("beta|gamma", "B")) append_hf("X-Replace-All: 1\\r\\n");
                if (!replace("^X-Nothing", "x")) append_hf("X-Replace-Not: 1\\r\\n");
                if (subst("/X-Sub: ([a-z]+)-([a-z]+)/X-Sub: \\2-\\1/")) append_hf("X-Subst: 1\\r\\n");
                if (replace("^X-Drop: yes\\r\\n", "")) append_hf("X-Dropped: 1\\r\\n");
                if (search_append("^Subject: hello", " there")) append_hf("X-Appended: 1\\r\\n");
                if (subst_body("/a=sendrecv/a=sendonly/")) append_hf("X-Subst-Body: 1\\r\\n");
                # Line by line by default (OpenSIPS's documented idiom): ^ is the start of the o= line.
                if (subst_body("/^o=([^ ]*) /o=sy /")) append_hf("X-Subst-Body-Line: 1\\r\\n");
                # With s, ^ is only the start of the body: no match.
                if (!subst_body("/^o=/o=x/s")) append_hf("X-Subst-Body-S: 1\\r\\n");
                if (replace_body("s=-", "s=switchyard")) append_hf("X-Replace-Body: 1\\r\\n");
                if (replace_body_all("RTP/AVP", "RTP/AVP")) append_hf("X-Replace-Body-All: 1\\r\\n");
                if (codec_delete("PCMA")) append_hf("X-Codec-Delete: 1\\r\\n");
                if (!codec_delete("opus")) append_hf("X-Codec-Delete-Not: 1\\r\\n");
                if (codec_move_up("telephone-event", "8000")) append_hf("X-Move-Up: 1\\r\\n");
                if (codec_move_down_re("^PCM")) append_hf("X-Move-Down: 1\\r\\n");
                if (codec_delete_re("^G72")) append_hf("X-Codec-Delete-Re: 1\\r\\n");
                if (stream_delete("video")) append_hf("X-Stream-Delete: 1\\r\\n");
            }
            if (is_method("BYE")) {
                if (!search_body(".")) append_hf("X-Bye-No-Body: 1\\r\\n");
            }
            $du = "sip:127.0.0.1:\(uas)";
            forward();
        }
        onreply_route {
            if (is_method("INVITE") && $rs == 200) {
                if (change_reply_status(200, "Rewritten OK")) append_hf("X-Status: 1\\r\\n");
                if (!change_reply_status(404, "Not Found")) append_hf("X-Status-Class-Kept: 1\\r\\n");
                if (replace_body("s=-", "s=reply")) append_hf("X-Reply-Body: 1\\r\\n");
                if (subst("/^Contact: ([^\\r]*)/Contact: \\1;rewritten/")) append_hf("X-Reply-Subst: 1\\r\\n");
                # Every codec deleted: the stream is disabled (port 0, no format), as OpenSIPS.
                if (codec_delete_except_re("nothing-matches")) append_hf("X-Except: 1\\r\\n");
            }
        }
        """
    }

    func testRewritesReachThePeers() throws {
        let (sy, ports) = try startSwitchyard(ports: 3) { Self.config(port: $0[0]) + Self.route(uas: $0[1]) }
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let uas = try startUAS("uas.xml", port: uasPort)
        let run = try runUAC("uac_textops.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)

        let inv = try XCTUnwrap(Self.messages(uas, "INVITE ").first, uas.report)
        XCTAssertEqual(inv.first, "INVITE sip:3000@127.0.0.1:\(proxy) SIP/2.0", inv.joined(separator: "\n"))
        let text = inv.joined(separator: "\n")
        for (name, value) in [("X-Search", "1"), ("X-Search-Not", "1"), ("X-Search-Body", "1"), ("X-Search-Body-Not", "1"),
                              ("X-Subst-Uri", "1"), ("X-Subst-Uri-Not", "1"), ("X-Subst-User", "3000"), ("X-Replace", "1"),
                              ("X-Replace-All", "1"), ("X-Replace-Not", "1"), ("X-Subst", "1"), ("X-Dropped", "1"),
                              ("X-Appended", "1"), ("X-Subst-Body", "1"), ("X-Replace-Body", "1"), ("X-Replace-Body-All", "1"),
                              ("X-Codec-Delete", "1"), ("X-Codec-Delete-Not", "1"), ("X-Move-Up", "1"), ("X-Move-Down", "1"),
                              ("X-Codec-Delete-Re", "1"), ("X-Stream-Delete", "1"), ("X-Subst-Body-Line", "1"),
                              ("X-Subst-Body-S", "1"), ("X-User-CRLF-Refused", "1"), ("X-Uri-LF-Refused", "1"),
                              // The rewritten header text.
                              ("X-Tag", "ALPHA B alpha"), ("X-Sub", "two-one"), ("Subject", "hello there world"),
                              ("X-Mark", "here")] {
            XCTAssertEqual(Self.header(inv, name), [value], "\(name) in\n\(text)")
        }
        XCTAssertEqual(Self.header(inv, "X-Drop"), [], text)
        XCTAssertEqual(Self.header(inv, "X-Injected"), [], text)
        XCTAssertTrue(sy.waitFor("subst_user: the result holds a CR, LF or NUL"), sy.output)
        XCTAssertTrue(sy.waitFor("subst_uri: the result holds a CR, LF or NUL"), sy.output)
        // The SDP: PCMA deleted (m= and rtpmap), telephone-event first then PCMU last, G729 and its fmtp gone, the
        // video stream gone.
        // (sipp's media port varies: shown as P.)
        let sdp = Self.body(inv).filter { $0.hasPrefix("m=") || $0.hasPrefix("a=") || $0.hasPrefix("s=") }
            .map { $0.replacingOccurrences(of: #"^m=audio [0-9]+ "#, with: "m=audio P ", options: .regularExpression) }
        XCTAssertEqual(sdp, ["s=switchyard", "m=audio P RTP/AVP 101 0", "a=rtpmap:0 PCMU/8000",
                        "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-16", "a=sendonly"], text)
        XCTAssertEqual(Self.header(inv, "Content-Length"), [String(Self.bodyLength(inv))], text)
        XCTAssertTrue(Self.body(inv).contains { $0.hasPrefix("o=sy ") }, text)

        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.02) { Self.messages(uas, "BYE ").count == 1 }, uas.report)
        let bye = try XCTUnwrap(Self.messages(uas, "BYE ").first, uas.report)
        XCTAssertEqual(Self.header(bye, "X-Bye-No-Body"), ["1"], bye.joined(separator: "\n"))

        // The 200 the caller got: new reason, its body and Contact rewritten, Content-Length fixed.
        let ok = try XCTUnwrap(Self.messages(run.uac, "SIP/2.0 200 Rewritten OK").first, run.uac.report)
        let okText = ok.joined(separator: "\n")
        for name in ["X-Status", "X-Status-Class-Kept", "X-Reply-Body", "X-Reply-Subst", "X-Except"] {
            XCTAssertEqual(Self.header(ok, name), ["1"], "\(name) in\n\(okText)")
        }
        // The Contact line as received, byte for byte (the trace keeps the CRLFs).
        let contact = "Contact: <sip:127.0.0.1:\(uasPort);transport=UDP>;rewritten\r\n"
        XCTAssertTrue(run.uac.trace.contains("\r\n" + contact), okText)
        XCTAssertEqual(Self.header(ok, "Contact"), ["<sip:127.0.0.1:\(uasPort);transport=UDP>;rewritten"], okText)
        XCTAssertEqual(Self.body(ok).filter { $0.hasPrefix("m=") || $0.hasPrefix("a=rtpmap") }, ["m=audio 0 RTP/AVP"], okText)
        XCTAssertTrue(Self.body(ok).contains("s=reply"), okText)
        XCTAssertEqual(Self.header(ok, "Content-Length"), [String(Self.bodyLength(ok))], okText)
    }
}
