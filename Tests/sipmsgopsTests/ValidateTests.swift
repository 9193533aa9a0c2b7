import Foundation
import XCTest
import SwitchyardTestSupport

/// sipmsg_validate on requests written byte for byte over UDP: OpenSIPS's return codes and reasons (into the
/// optional variable; "" where OpenSIPS gives none), flags r/t/f/c/h/m.
final class ValidateTests: MsgOpsTestCase {
    static func request(_ method: String, proxy: Int, local: Int, callID: String, ruri: String? = nil,
                        headers: [String], body: String = "") -> String {
        (["\(method) \(ruri ?? "sip:bob@127.0.0.1:\(proxy)") SIP/2.0",
          "Via: SIP/2.0/UDP 127.0.0.1:\(local);branch=z9hG4bK-\(callID)",
          "From: <sip:alice@127.0.0.1>;tag=a1", "To: <sip:bob@127.0.0.1>", "Call-ID: \(callID)",
          "CSeq: 1 \(method)"] + headers + ["Content-Length: \(body.utf8.count)", "", body]).joined(separator: "\r\n")
    }

    func testCodesAndReasons() throws {
        let (sy, p) = try startSwitchyard(ports: 1) { Self.config(port: $0[0]) + """
            route {
                $var(e) = "unset";
                if ($hdr(X-Flags) != NULL) sipmsg_validate("$hdr(X-Flags)", $var(e)); else sipmsg_validate();
                xlog("L_NOTICE", "$ci: rc=$rc reason=[$var(e)]\\n");
                exit;
            }
            """ }
        let caller = try UDPSocket()
        let mf = "Max-Forwards: 70", contact = "Contact: <sip:alice@127.0.0.1:5999>"
        let cases: [(id: String, method: String, ruri: String?, headers: [String], body: String, expect: String)] = [
            ("v-ok", "INVITE", nil, [mf, contact, "X-Flags: rtfch"], "", "rc=1 reason=[unset]"),
            ("v-no-flags", "OPTIONS", nil, [mf], "", "rc=1 reason=[unset]"),
            ("v-no-contact", "INVITE", nil, [mf, "X-Flags: s"], "", "rc=-14 reason=[]"),
            ("v-no-mf", "OPTIONS", nil, ["X-Flags: s"], "", "rc=-13 reason=[]"),
            ("v-no-mf-ok", "OPTIONS", nil, ["X-Flags: m"], "", "rc=1 reason=[unset]"),
            ("v-path", "OPTIONS", nil, [mf, "Path: <sip:edge@127.0.0.1;lr>", "X-Flags: s"], "",
             "rc=-15 reason=[PATH header supported only for REGISTERs]"),
            ("v-ruri-host", "OPTIONS", "sip:bob@bad..example.com", [mf, "X-Flags: r"], "",
             "rc=-12 reason=[invalid domain for R-URI]"),
            ("v-ruri-user", "OPTIONS", "sip:b%zz@example.com", [mf, "X-Flags: r"], "",
             "rc=-27 reason=[invalid username for R-URI]"),
            ("v-no-type", "OPTIONS", nil, [mf, "X-Flags: s"], "hello", "rc=-21 reason=[]"),
            ("v-sdp", "OPTIONS", nil, [mf, "Content-Type: application/sdp", "X-Flags: s"], "not sdp\r\n",
             "rc=-6 reason=[failed to parse SDP message]"),
            ("v-empty-subject", "OPTIONS", nil, [mf, "Subject: ", "X-Flags: h"], "",
             "rc=-2 reason=[failed to parse headers]"),
            ("v-contact", "INVITE", nil, [mf, "Contact: <mailto:alice@example.com>", "X-Flags: c"], "",
             "rc=-26 reason=[failed to parse 'Contact' header]"),
        ]
        for c in cases {
            caller.send(Self.request(c.method, proxy: p[0], local: caller.port, callID: c.id, ruri: c.ruri,
                                     headers: c.headers, body: c.body), to: p[0])
            XCTAssertTrue(sy.waitFor("\(c.id): \(c.expect)"), "\(c.id)\n\(sy.output)")
        }
    }

    func testScriptLoads() throws {
        let (status, out) = try check(Self.config(port: LocalPorts.freePorts(1)[0]) + """
            route { if (!sipmsg_validate("sh", $var(err))) { xlog("bad: $var(err)\\n"); exit; } sipmsg_validate(); }
            onreply_route { sipmsg_validate(); }
            """)
        XCTAssertEqual(status, 0, out)
    }

    /// The body length is its bytes: a binary (non-UTF-8) body with the right Content-Length is valid. A body
    /// without Content-Length is -5 (only over UDP can it come without); a CANCEL request skips the body checks.
    func testBodyLengthInBytes() throws {
        let (sy, p) = try startSwitchyard(ports: 1) { Self.config(port: $0[0]) + """
            route {
                $var(e) = "unset";
                sipmsg_validate("", $var(e));
                xlog("L_NOTICE", "$ci: rc=$rc reason=[$var(e)]\\n");
                exit;
            }
            """ }
        let caller = try UDPSocket()
        func head(_ method: String, _ id: String) -> String {
            ["\(method) sip:bob@127.0.0.1:\(p[0]) SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-\(id)",
             "From: <sip:alice@127.0.0.1>;tag=a1", "To: <sip:bob@127.0.0.1>", "Call-ID: \(id)", "CSeq: 1 \(method)",
             "Max-Forwards: 70", "Content-Type: application/isup"].joined(separator: "\r\n") + "\r\n"
        }
        let binary: [UInt8] = [0x01, 0xff, 0xfe, 0x80, 0x00, 0xc3]
        caller.send(bytes: Array((head("INVITE", "b-bin") + "Contact: <sip:a@127.0.0.1>\r\nContent-Length: 6\r\n\r\n").utf8)
                    + binary, to: p[0])
        XCTAssertTrue(sy.waitFor("b-bin: rc=1 reason=[unset]"), sy.output)
        caller.send(head("OPTIONS", "b-nocl") + "\r\nhello", to: p[0])
        XCTAssertTrue(sy.waitFor("b-nocl: rc=-5 reason=[invalid body - content length 0 different than actual body 5]"),
                      sy.output)
        caller.send(head("CANCEL", "b-cancel") + "\r\nhello", to: p[0])
        XCTAssertTrue(sy.waitFor("b-cancel: rc=1 reason=[unset]"), sy.output)
    }

    /// OpenSIPS skips the body checks for CANCEL requests only: a reply to a CANCEL is checked.
    func testReplyToCancelIsChecked() throws {
        let (sy, p) = try startSwitchyard(ports: 1) { Self.config(port: $0[0]) + """
            route { exit; }
            onreply_route {
                $var(e) = "unset";
                sipmsg_validate("", $var(e));
                xlog("L_NOTICE", "$ci: reply rc=$rc reason=[$var(e)]\\n");
                drop;
            }
            """ }
        let peer = try UDPSocket()
        peer.send(["SIP/2.0 200 OK", "Via: SIP/2.0/UDP 127.0.0.1:\(p[0]);branch=z9hG4bK-rc1",
                   "Via: SIP/2.0/UDP 127.0.0.1:\(peer.port);branch=z9hG4bK-rc0", "From: <sip:a@127.0.0.1>;tag=a1",
                   "To: <sip:b@127.0.0.1>;tag=b1", "Call-ID: r-cancel", "CSeq: 1 CANCEL", "Content-Type: text/plain",
                   "", "hello"].joined(separator: "\r\n"), to: p[0])
        XCTAssertTrue(sy.waitFor("r-cancel: reply rc=-5 reason=[invalid body - content length 0 different than actual body 5]"),
                      sy.output)
    }
}
