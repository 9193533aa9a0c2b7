import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// Stateless forwarding details checked on the wire with raw UDP peers: Via and branches, received/rport, header
/// edits, Record-Route/loose_route, and reply relaying.
final class SIPForwardingTests: XCTestCase {
    typealias UDP = UDPSocket

    private var h: ServerHarness!
    private var proxyPort = 0

    override func tearDown() {
        h?.stop()
        h = nil
    }

    private func startProxy(_ route: String) throws {
        proxyPort = try UDPSocket().port
        h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        socket = udp:127.0.0.1:\(proxyPort)
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "maxfwd.so"
        loadmodule "rr.so"
        \(route)
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [], h.messages.joined(separator: "\n"))
        try h.start()
    }

    private func request(_ method: String, ruri: String, branch: String, from client: UDP, toTag: String? = nil,
                         extra: [String] = [], cseqMethod: String? = nil, viaExtra: String = "") -> String {
        ([ "\(method) \(ruri) SIP/2.0",
           "Via: SIP/2.0/UDP 127.0.0.1:\(client.port);branch=\(branch)\(viaExtra)",
           "From: <sip:alice@example.com>;tag=a1",
           "To: <sip:bob@example.com>" + (toTag.map { ";tag=\($0)" } ?? ""),
           "Call-ID: fwd-test-1@example.com",
           "CSeq: 1 \(cseqMethod ?? method)",
           "Max-Forwards: 70" ] + extra + ["Content-Length: 0", "", ""]).joined(separator: "\r\n")
    }

    private func receive(_ s: UDP, timeout: TimeInterval = 3) -> String? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if let (t, _) = s.receive() { return t } }
        return nil
    }

    private func header(_ msg: String, _ name: String) -> [String] {
        msg.components(separatedBy: "\r\n").filter { $0.lowercased().hasPrefix(name.lowercased() + ":") }
    }

    private func topBranch(_ msg: String) -> String? {
        guard let via = header(msg, "Via").first, let r = via.range(of: "branch=") else { return nil }
        return String(via[r.upperBound...].prefix { $0 != ";" && $0 != "," })
    }

    func testViaBranchesAndReplyRelay() throws {
        let uas = try UDP(), uac = try UDP()
        try startProxy("""
        route {
            if (!mf_process_maxfwd_header(10)) { sl_send_reply(483, "Too Many Hops"); exit; }
            $du = "sip:127.0.0.1:\(uas.port)";
            forward();
        }
        """)
        // INVITE and its retransmission leave with the same branch; our Via is first, the sender's second.
        let invite = request("INVITE", ruri: "sip:bob@example.com", branch: "z9hG4bKinv1", from: uac, viaExtra: ";rport")
        uac.send(invite, to: proxyPort)
        let out1 = try XCTUnwrap(receive(uas), h.messages.joined(separator: "\n"))
        uac.send(invite, to: proxyPort)
        let out2 = try XCTUnwrap(receive(uas))
        let vias = header(out1, "Via")
        XCTAssertEqual(vias.count, 2, out1)
        XCTAssertTrue(vias[0].hasPrefix("Via: SIP/2.0/UDP 127.0.0.1:\(proxyPort);branch=z9hG4bK"), vias[0])
        XCTAssertTrue(vias[1].contains(";rport=\(uac.port)") && vias[1].contains(";received=127.0.0.1"), vias[1])
        XCTAssertEqual(topBranch(out1), topBranch(out2))
        XCTAssertEqual(header(out1, "Max-Forwards"), ["Max-Forwards: 69"], "decremented (max_limit 70)")
        XCTAssertTrue(out1.hasPrefix("INVITE sip:bob@example.com SIP/2.0\r\n"), out1)

        // CANCEL and the ACK of a non-2xx keep the INVITE's branch; the ACK of a 2xx (new branch) gets another.
        uac.send(request("CANCEL", ruri: "sip:bob@example.com", branch: "z9hG4bKinv1", from: uac), to: proxyPort)
        XCTAssertEqual(topBranch(try XCTUnwrap(receive(uas))), topBranch(out1))
        uac.send(request("ACK", ruri: "sip:bob@example.com", branch: "z9hG4bKinv1", from: uac, toTag: "b1"), to: proxyPort)
        XCTAssertEqual(topBranch(try XCTUnwrap(receive(uas))), topBranch(out1))
        uac.send(request("ACK", ruri: "sip:bob@example.com", branch: "z9hG4bKack2", from: uac, toTag: "b1"), to: proxyPort)
        XCTAssertNotEqual(topBranch(try XCTUnwrap(receive(uas))), topBranch(out1))

        // The UAS answers: the reply goes back without our Via, to the sender's rport.
        let lines = out1.components(separatedBy: "\r\n")
        var reply = ["SIP/2.0 486 Busy Here"]
        reply += lines.filter { $0.hasPrefix("Via:") || $0.hasPrefix("From:") || $0.hasPrefix("Call-ID:") || $0.hasPrefix("CSeq:") }
        reply += ["To: <sip:bob@example.com>;tag=b1", "Content-Length: 0", "", ""]
        uas.send(reply.joined(separator: "\r\n"), to: proxyPort)
        let back = try XCTUnwrap(receive(uac), h.messages.joined(separator: "\n"))
        XCTAssertTrue(back.hasPrefix("SIP/2.0 486 Busy Here\r\n"), back)
        XCTAssertEqual(header(back, "Via").count, 1, back)
        XCTAssertTrue(header(back, "Via")[0].contains("branch=z9hG4bKinv1"), back)
    }

    /// Max-Forwards is read as OpenSIPS's str2s does: at most 5 digits, so `000070` is an error (-2, answered 400
    /// here; is_maxfwd_lt: -3) while `00070` is 70.
    func testMaxForwardsOfMoreThanFiveDigitsIsAnError() throws {
        let uas = try UDP(), uac = try UDP()
        try startProxy("""
        route {
            is_maxfwd_lt(80);
            xlog("LT $rc $hdr(Max-Forwards)");
            mf_process_maxfwd_header(10);
            if ($rc == -2) { sl_send_reply(400, "Bad Request"); exit; }
            $du = "sip:127.0.0.1:\(uas.port)";
            forward();
        }
        """)
        uac.send(request("OPTIONS", ruri: "sip:bob@example.com", branch: "z9hG4bKmf1", from: uac)
                    .replacingOccurrences(of: "Max-Forwards: 70", with: "Max-Forwards: 000070"), to: proxyPort)
        let bad = try XCTUnwrap(receive(uac), h.messages.joined(separator: "\n"))
        XCTAssertTrue(bad.hasPrefix("SIP/2.0 400 Bad Request\r\n"), bad)
        XCTAssertTrue(h.waitFor("LT -3 000070"), h.messages.joined(separator: "\n"))
        uac.send(request("OPTIONS", ruri: "sip:bob@example.com", branch: "z9hG4bKmf2", from: uac)
                    .replacingOccurrences(of: "Max-Forwards: 70", with: "Max-Forwards: 00070"), to: proxyPort)
        let out = try XCTUnwrap(receive(uas), h.messages.joined(separator: "\n"))
        // Rewritten in the five characters "00070" took, as OpenSIPS does in place.
        XCTAssertEqual(header(out, "Max-Forwards"), ["Max-Forwards:    69"], out)
        XCTAssertTrue(h.waitFor("LT 1 00070"), h.messages.joined(separator: "\n"))
    }

    func testRecordRouteAndLooseRoute() throws {
        let next = try UDP(), uac = try UDP(), target = try UDP()
        try startProxy("""
        route {
            if ($tt != NULL) {
                if (loose_route()) { forward(); exit; }
                sl_send_reply(404, "Not here");
                exit;
            }
            if (loose_route()) { sl_send_reply(403, "Preload Route denied"); exit; }
            record_route();
            forward();
        }
        """)
        // A new dialog: Record-Route names the proxy, first among the headers, with the From tag (append_fromtag is
        // on by default, as in OpenSIPS).
        uac.send(request("INVITE", ruri: "sip:bob@127.0.0.1:\(target.port)", branch: "z9hG4bKrr1", from: uac), to: proxyPort)
        let out = try XCTUnwrap(receive(target), h.messages.joined(separator: "\n"))
        XCTAssertEqual(header(out, "Record-Route"), ["Record-Route: <sip:127.0.0.1:\(proxyPort);lr;ftag=a1>"], out)

        // In dialog, with our Route then another proxy's on separate lines: ours is removed, the next one is $du.
        let me = "<sip:127.0.0.1:\(proxyPort);lr>", other = "<sip:127.0.0.1:\(next.port);lr>"
        uac.send(request("BYE", ruri: "sip:bob@127.0.0.1:\(target.port)", branch: "z9hG4bKrr2", from: uac, toTag: "t9",
                         extra: ["Route: \(me)", "Route: \(other)"]), to: proxyPort)
        let bye = try XCTUnwrap(receive(next), "sent to the next Route, not the R-URI\n" + h.messages.joined(separator: "\n"))
        XCTAssertEqual(header(bye, "Route"), ["Route: \(other)"], bye)
        XCTAssertNil(target.receive())

        // A preloaded Route naming only the proxy on a dialog-creating request: loose_route() is false.
        uac.send(request("INVITE", ruri: "sip:bob@127.0.0.1:\(target.port)", branch: "z9hG4bKrr3", from: uac,
                         extra: ["Route: \(me)"]), to: proxyPort)
        XCTAssertNotNil(receive(target), "a preloaded route is not 'routed by Record-Route'")
    }

    func testSlReplyHeaders() throws {
        let uac = try UDP()
        try startProxy("""
        route {
            mf_process_maxfwd_header(10);
            if ($rm == "OPTIONS") { sl_send_reply(100, "Trying"); exit; }
            sl_send_reply(404, "Not Found");
        }
        """)
        uac.send(request("INVITE", ruri: "sip:nobody@example.com", branch: "z9hG4bKsl1", from: uac,
                         extra: ["Record-Route: <sip:10.0.0.9;lr>"]), to: proxyPort)
        let r = try XCTUnwrap(receive(uac))
        XCTAssertTrue(r.hasPrefix("SIP/2.0 404 Not Found\r\n"), r)
        XCTAssertTrue(header(r, "To").first?.contains(";tag=") ?? false, r)
        XCTAssertEqual(header(r, "Record-Route"), [], "only 180-299 replies carry Record-Route")
        XCTAssertEqual(header(r, "Max-Forwards"), [], "headers the script put on the request are not the reply's")
        XCTAssertEqual(header(r, "CSeq"), ["CSeq: 1 INVITE"])
        XCTAssertEqual(header(r, "Content-Length"), ["Content-Length: 0"])
        uac.send(request("OPTIONS", ruri: "sip:nobody@example.com", branch: "z9hG4bKsl2", from: uac), to: proxyPort)
        let t = try XCTUnwrap(receive(uac))
        XCTAssertTrue(t.hasPrefix("SIP/2.0 100 Trying\r\n"), t)
        XCTAssertFalse(header(t, "To").first?.contains(";tag=") ?? true, "no To tag below 180")
    }
}
