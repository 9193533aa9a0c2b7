import Foundation
import XCTest
import SwitchyardTestSupport

/// is_method, has_totag and the header functions on a call a stateless proxy forwards between two sipp peers: what the
/// callee receives shows every test's outcome and every edit.
final class HeaderTests: MsgOpsTestCase {
    static func route(uas: Int) -> String {
        """
        route {
            if (is_method("INVITE")) {
                append_hf("X-Added: 1\\r\\n");
                insert_hf("X-First: yes\\r\\n");
                append_hf("X-Two: a\\r\\nX-Three: b\\r\\n");
                if (remove_hf("X-Remove")) append_hf("X-Removed: yes\\r\\n");
                if (!is_present_hf("X-Remove")) append_hf("X-Remove-Gone: yes\\r\\n");
                if (!remove_hf("X-Never")) append_hf("X-Never-Removed: -1\\r\\n");
                if (is_present_hf("Subject")) append_hf("X-Subject: found by its full name\\r\\n");
                if (is_present_hf("i")) append_hf("X-Callid: found by its compact name\\r\\n");
                if (remove_hf_glob("x-glob-*")) append_hf("X-Glob: removed\\r\\n");
                if (remove_hf_re("^X-Re-[0-9]+$")) append_hf("X-Re: removed\\r\\n");
                if (has_body()) append_hf("X-Body: yes\\r\\n");
                if (has_body("application/sdp")) append_hf("X-Body-Type: sdp\\r\\n");
                if (!has_body("text/plain")) append_hf("X-Body-Not: text\\r\\n");
                if (list_hdr_has_option("Supported", "100REL")) append_hf("X-100rel: listed\\r\\n");
                if (is_privacy("id")) append_hf("X-Privacy: id\\r\\n");
                if (!is_privacy("session")) append_hf("X-Privacy-Not: session\\r\\n");
                append_urihf("X-Orig-Uri: <", ">\\r\\n");
                # The anchored forms: next to the first header of a name, a removed one included; none: last.
                append_hf("X-After-Callid: 1\\r\\nX-After-Callid-2: 2\\r\\n", "Call-ID");
                append_hf("X-After-Callid-3: 3\\r\\n", "i");
                insert_hf("X-Before-CSeq: 1\\r\\n", "CSeq");
                append_hf("X-Where-Remove-Was: 1\\r\\n", "X-Remove");
                insert_hf("X-No-Anchor: 1\\r\\n", "X-Nowhere");
            }
            if (is_method("bye,cancel")) append_hf("X-Listed: bye\\r\\n");
            if (is_method("ACK|BYE") && !has_body()) append_hf("X-No-Body: yes\\r\\n");
            if (is_method("FOO")) append_hf("X-Foo: wrong\\r\\n");
            if (has_totag()) append_hf("X-Totag: yes\\r\\n"); else append_hf("X-Totag: no\\r\\n");
            $du = "sip:127.0.0.1:\(uas)";
            forward();
        }
        onreply_route {
            if (is_method("INVITE")) append_hf("X-Reply-Of: invite\\r\\n");
            if (is_method("BYE")) append_hf("X-Reply-Of: bye\\r\\n");
            if (has_totag()) append_hf("X-Reply-Totag: yes\\r\\n");
        }
        """
    }

    func testEditsAndTestsSeenByTheCallee() throws {
        let (sy, ports) = try startSwitchyard(ports: 3) { Self.config(port: $0[0]) + Self.route(uas: $0[1]) }
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let uas = try startUAS("uas.xml", port: uasPort)
        let run = try runUAC("uac_headers.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(uas), uas.report)

        let invites = Self.messages(uas, "INVITE ")
        XCTAssertEqual(invites.count, 1, uas.report)
        let inv = invites.first ?? ""
        for (name, value) in [("X-Added", "1"), ("X-First", "yes"), ("X-Two", "a"), ("X-Three", "b"), ("X-Removed", "yes"),
                              ("X-Remove-Gone", "yes"), ("X-Never-Removed", "-1"), ("X-Subject", "found by its full name"),
                              ("X-Callid", "found by its compact name"), ("X-Glob", "removed"), ("X-Re", "removed"),
                              ("X-Re-x", "stays"), ("X-Keep", "1"), ("X-Body", "yes"), ("X-Body-Type", "sdp"),
                              ("X-Body-Not", "text"), ("X-100rel", "listed"), ("X-Privacy", "id"), ("X-Privacy-Not", "session"),
                              ("X-Orig-Uri", "<sip:1000@127.0.0.1:\(proxy)>"), ("X-Totag", "no")] {
            XCTAssertEqual(Self.header(inv, name), [value], "\(name) in\n\(inv)")
        }
        for gone in ["X-Remove", "X-Glob-A", "x-glob-b", "X-Re-12", "X-Listed", "X-Foo", "X-No-Body"] {
            XCTAssertEqual(Self.header(inv, gone), [], "\(gone) in\n\(inv)")
        }
        // insert_hf puts its line before the received headers, append_hf after them.
        let lines = inv.components(separatedBy: "\n")
        let at = { (n: String) in lines.firstIndex { $0.hasPrefix(n + ":") } ?? -1 }
        XCTAssertLessThan(at("X-First"), at("From"), inv)
        XCTAssertGreaterThan(at("X-Added"), at("From"), inv)
        XCTAssertLessThan(at("X-Two"), at("X-Three"), inv)
        // append_hf(txt, hdr) / insert_hf(txt, hdr): right after / before the first such header, lines in order.
        XCTAssertGreaterThan(at("Call-ID"), 0, inv)
        XCTAssertEqual(at("X-After-Callid"), at("Call-ID") + 1, inv)
        XCTAssertEqual(at("X-After-Callid-2"), at("Call-ID") + 2, inv)
        XCTAssertEqual(at("X-After-Callid-3"), at("Call-ID") + 3, "a compact anchor name, after the earlier lines\n\(inv)")
        XCTAssertGreaterThan(at("CSeq"), 0, inv)
        XCTAssertEqual(at("X-Before-CSeq"), at("CSeq") - 1, inv)
        XCTAssertEqual(at("X-Where-Remove-Was"), at("s") + 1, "where the first X-Remove was (it is removed)\n\(inv)")
        // insert_hf with no such header: before the received headers, as without `hdr` (before the proxy's own Via too,
        // where OpenSIPS writes what the script inserted first).
        let vias = lines.indices.filter { lines[$0].hasPrefix("Via:") }
        XCTAssertEqual(vias.count, 2, inv)
        XCTAssertGreaterThan(at("X-No-Anchor"), 0, inv)
        XCTAssertLessThan(at("X-No-Anchor"), vias.first ?? -1, "no such header: before the proxy's Via\n\(inv)")
        XCTAssertLessThan(at("X-No-Anchor"), at("From"), "no such header: before From\n\(inv)")
        for name in ["X-After-Callid", "X-After-Callid-2", "X-After-Callid-3", "X-Before-CSeq", "X-Where-Remove-Was", "X-No-Anchor"] {
            XCTAssertEqual(Self.header(inv, name).count, 1, "\(name) once in\n\(inv)")
        }

        let bye = Self.messages(uas, "BYE ").first ?? ""
        XCTAssertEqual(Self.header(bye, "X-Listed"), ["bye"], bye)
        XCTAssertEqual(Self.header(bye, "X-No-Body"), ["yes"], bye)
        XCTAssertEqual(Self.header(bye, "X-Totag"), ["yes"], bye)
        let ack = Self.messages(uas, "ACK ").first ?? ""
        XCTAssertEqual(Self.header(ack, "X-Totag"), ["yes"], ack)
        XCTAssertEqual(Self.header(ack, "X-Listed"), [], ack)

        // On a reply is_method tests the CSeq method.
        let oks = Self.messages(run.uac, "SIP/2.0 200")
        XCTAssertEqual(oks.count, 2, run.uac.report)
        XCTAssertEqual(oks.map { Self.header($0, "X-Reply-Of") }, [["invite"], ["bye"]], run.uac.report)
        XCTAssertEqual(oks.map { Self.header($0, "X-Reply-Totag") }, [["yes"], ["yes"]], run.uac.report)
    }

    func uasCompleted(_ uas: SippProcess) -> Bool {
        waitUntil(timeout: 10, poll: 0.02) { uas.received("BYE ") >= 1 }
    }

    /// The callee checks with sipp's own regex actions (uas_check_headers.xml): the added header is there, has_totag()
    /// differs between the INVITE and the BYE; the removed header is checked on the callee's trace. sipp lets a call whose check failed go on and
    /// reports it at the end: the callee is stopped, then its error log and statistics are read.
    func testCalleeChecksWithRegexActions() throws {
        let (sy, ports) = try startSwitchyard(ports: 3) { Self.config(port: $0[0]) + """
        route {
            if (is_method("INVITE")) { append_hf("X-Added: 1\\r\\n"); remove_hf("X-Remove"); }
            if (has_totag()) append_hf("X-Totag: yes\\r\\n"); else append_hf("X-Totag: no\\r\\n");
            $du = "sip:127.0.0.1:\($0[1])";
            forward();
        }
        """ }
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let uas = try startUAS("uas_check_headers.xml", port: uasPort)
        let run = try runUAC("uac_headers.xml", local: uacPort, target: proxy, calls: 2)
        assertAllSuccessful(run, calls: 2, sy)
        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.02) { uas.received("BYE ") == 2 }, uas.report)
        uas.stop()
        XCTAssertEqual(Self.messages(uas, "INVITE ").filter { !Self.header($0, "X-Remove").isEmpty }.count, 0, uas.report)
        XCTAssertFalse(uas.errors.contains("Failed regexp match"), uas.report)
        XCTAssertFalse(uas.screen.contains("Failed regexp match"), uas.report)
        XCTAssertEqual(uas.stat("FailedCall(C)") ?? 0, 0, uas.report)
    }
}
