import Foundation
import XCTest
import SwitchyardTestSupport

/// has_body / has_body_part, is_method lists, is_privacy and is_uri_user_e164 on requests written byte for byte and
/// sent over UDP: each test that matches logs a line, and a last line says the request was done.
final class RawRequestTests: MsgOpsTestCase {
    static let route = """
    route {
        if (has_body()) xlog("L_NOTICE", "$ci: body\\n");
        if (has_body("application/sdp")) xlog("L_NOTICE", "$ci: sdp\\n");
        if (has_body_part("application/sdp;level=1")) xlog("L_NOTICE", "$ci: sdp with parameters\\n");
        if (has_body_part("text/plain")) xlog("L_NOTICE", "$ci: text\\n");
        if (has_body_part("application/pidf+xml")) xlog("L_NOTICE", "$ci: pidf\\n");
        if (has_body("multipart/mixed")) xlog("L_NOTICE", "$ci: mixed\\n");
        if (has_body("multipart/related")) xlog("L_NOTICE", "$ci: related\\n");
        if (is_method("INVITE,FOO")) xlog("L_NOTICE", "$ci: invite or any other\\n");
        if (is_method("FOO,BAR")) xlog("L_NOTICE", "$ci: foo,bar as a whole\\n");
        if (is_method("BAR")) xlog("L_NOTICE", "$ci: bar by name\\n");
        if (is_privacy("id")) xlog("L_NOTICE", "$ci: privacy id\\n");
        if (is_privacy("user")) xlog("L_NOTICE", "$ci: privacy user\\n");
        if (is_uri_user_e164("$hdr(X-URI)")) xlog("L_NOTICE", "$ci: e164\\n");
        xlog("L_NOTICE", "$ci: done\\n");
        exit;
    }
    """

    /// A request from `local`, with extra header lines and a body (Content-Length computed).
    static func request(_ method: String, proxy: Int, local: Int, callID: String, headers: [String], body: String) -> String {
        (["\(method) sip:bob@127.0.0.1:\(proxy) SIP/2.0",
          "Via: SIP/2.0/UDP 127.0.0.1:\(local);branch=z9hG4bK-\(callID)",
          "From: <sip:alice@127.0.0.1:\(local)>;tag=a1",
          "To: <sip:bob@127.0.0.1:\(proxy)>",
          "Call-ID: \(callID)",
          "CSeq: 1 \(method)",
          "Max-Forwards: 70"] + headers + ["Content-Length: \(body.utf8.count)", "", body]).joined(separator: "\r\n")
    }

    func testMessageTests() throws {
        let (sy, ports) = try startSwitchyard(ports: 1) { Self.config(port: $0[0]) + Self.route }
        let proxy = ports[0]
        let caller = try UDPSocket()
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
        let multipart = "--XX\r\nc: application/sdp\r\n\r\n" + sdp + "--XX\r\nContent-Type: application/pidf+xml\r\n\r\n<presence/>\r\n--XX--\r\n"
        let cases: [(method: String, id: String, headers: [String], body: String, expect: Set<String>)] = [
            // A multipart/mixed body whose SDP part names its type with the compact "c:".
            ("INVITE", "raw-multipart", ["Content-Type: multipart/mixed;boundary=XX", "Privacy: id;user", "Privacy: header",
                                         "X-URI: <sip:+15551234567@example.com>"], multipart,
             ["body", "sdp", "sdp with parameters", "pidf", "mixed", "invite or any other", "privacy id", "privacy user"]),
            // A body without Content-Type has no part of any type; BAR is "any other method"; a ','-separated Privacy
            // does not parse; a mailto: URI does not parse.
            ("BAR", "raw-no-type", ["Privacy: id, user", "X-URI: mailto:+15551234567@example.com"], sdp,
             ["body", "invite or any other", "bar by name"]),
            // Only the first Privacy header counts; a plain sip: URI with an E.164 user.
            ("INVITE", "raw-plain", ["Privacy: header", "Privacy: id", "X-URI: sip:+15551234567@example.com"], "",
             ["invite or any other", "e164"]),
            // Privacy values are compared as written (lowercase), as OpenSIPS's parse_priv_value does: this one does
            // not parse.
            ("OPTIONS", "raw-case", ["Privacy: ID;uSeR"], "", []),
            // "none" with another value does not parse.
            ("OPTIONS", "raw-none", ["Privacy: none;id", "X-URI: sip:15551234567@example.com"], "", []),
        ]
        let all: Set<String> = ["body", "sdp", "sdp with parameters", "text", "pidf", "mixed", "related", "invite or any other",
                                "foo,bar as a whole", "bar by name", "privacy id", "privacy user", "e164"]
        for c in cases {
            caller.send(Self.request(c.method, proxy: proxy, local: caller.port, callID: c.id, headers: c.headers, body: c.body),
                        to: proxy)
            XCTAssertTrue(sy.waitFor("\(c.id): done"), sy.output)
            let seen = Set(all.filter { sy.output.contains("\(c.id): \($0)\n") })
            XCTAssertEqual(seen, c.expect, "\(c.id)\n\(sy.output)")
        }
    }

    /// A multi-line append_hf / insert_hf adds all its lines or none: a Via or a line that is not "Name: value"
    /// refuses the whole text (-1), and the lines before it are not added either.
    func testMultiLineAddIsAllOrNothing() throws {
        let callee = try UDPSocket()
        let (sy, ports) = try startSwitchyard(ports: 1) { Self.config(port: $0[0]) + """
        route {
            if (!append_hf("X-Before-Via: 1\\r\\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-x\\r\\n"))
                xlog("L_NOTICE", "append with a Via refused\\n");
            if (!insert_hf("X-Before-Junk: 1\\r\\nnot a header line\\r\\n"))
                xlog("L_NOTICE", "insert with a bad line refused\\n");
            if (append_hf("X-One: 1\\r\\nX-Two: 2\\r\\n")) xlog("L_NOTICE", "two lines added\\n");
            $du = "sip:127.0.0.1:\(callee.port)";
            forward();
        }
        """ }
        let proxy = ports[0]
        let caller = try UDPSocket()
        caller.send(Self.request("MESSAGE", proxy: proxy, local: caller.port, callID: "raw-all-or-none", headers: [], body: ""),
                    to: proxy)
        let got = Self.receiveRequest(callee)
        XCTAssertNotNil(got, sy.output)
        let lines = (got ?? "").components(separatedBy: "\r\n")
        XCTAssertTrue(lines.contains("X-One: 1") && lines.contains("X-Two: 2"), got ?? "")
        XCTAssertFalse(lines.contains { $0.hasPrefix("X-Before-") }, got ?? "")
        XCTAssertEqual(lines.filter { $0.hasPrefix("Via:") }.count, 2, got ?? "")
        for line in ["append with a Via refused", "insert with a bad line refused", "two lines added"] {
            XCTAssertTrue(sy.waitFor(line), "\(line)\n\(sy.output)")
        }
    }

    /// The next request `s` receives, within 5 s.
    static func receiveRequest(_ s: UDPSocket) -> String? {
        let end = Date().addingTimeInterval(5)
        while Date() < end {
            if let (m, _) = s.receive(), !m.hasPrefix("SIP/2.0") { return m }
        }
        return nil
    }
}
