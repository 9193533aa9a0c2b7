import Foundation
import XCTest
import SwitchyardTestSupport

/// Branches a failure route sends carry the request route's header edits (record_route(), the Max-Forwards
/// decrement, append_hf, remove_hf), as OpenSIPS keeps the request route's lumps with the transaction; the failure
/// route's own edits stay with its round, and $ru/$du start over. Real sipp peers, the dialog going on through the
/// recorded route.
final class SerialForkEditsTests: TMTestCase {
    /// The requests a sipp peer received whose first line starts with `prefix`, from its message trace.
    static func received(_ peer: Sipp, _ prefix: String) -> [String] {
        peer.trace.components(separatedBy: "message received").dropFirst().compactMap { block in
            guard let start = block.range(of: "\n\n") else { return nil }
            let msg = String(block[start.upperBound...])
            guard msg.hasPrefix(prefix) else { return nil }
            return msg.components(separatedBy: "\n-----------------------------------------------").first
        }
    }

    static func header(_ msg: String, _ name: String) -> [String] {
        // "\r\n" is one Character: split on newlines, not on "\n".
        msg.split(whereSeparator: \.isNewline).compactMap { l in
            let line = l.trimmingCharacters(in: .whitespaces)
            guard line.lowercased().hasPrefix(name.lowercased() + ":") else { return nil }
            return String(line.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces)
        }
    }

    /// Box 1 and box 2 answer 503, box 3 answers: the INVITEs to boxes 2 and 3 (failure routes) carry the
    /// Record-Route, Max-Forwards 69, the X- header and no Subject, as the one to box 1; the failure route's own
    /// header goes to box 2 only; each failure route starts with $ru as received and no $du; the caller's ACK and BYE
    /// reach box 3 through the proxy.
    func testFailureRouteBranchesCarryRequestRouteEdits() throws {
        let (sy, ports) = try startSwitchyard(ports: 5) { p in
            Self.config(port: p[0], extra: """
            loadmodule "sl.so"
            loadmodule "rr.so"
            loadmodule "maxfwd.so"
            loadmodule "sipmsgops.so"
            """) + """
            route {
                if (!mf_process_maxfwd_header(10)) { sl_send_reply(483, "Too Many Hops"); exit; }
                if (has_totag()) {
                    if (loose_route()) { t_relay(); }
                    else if (is_method("ACK")) { if (t_check_trans()) t_relay(); }
                    else { sl_send_reply(404, "Not here"); }
                    exit;
                }
                if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
                record_route();
                append_hf("X-Edit: request-route\\r\\n");
                remove_hf("Subject");
                $rU = "rewritten";
                $du = "sip:127.0.0.1:\(p[1])";
                t_on_failure("next");
                t_relay();
            }
            failure_route[next] {
                xlog("L_NOTICE", "failure round ru=$ru du=$du\\n");
                if ($avp(round) == NULL) {
                    $avp(round) = 1;
                    append_hf("X-Failure: first-round\\r\\n");
                    $du = "sip:127.0.0.1:\(p[2])";
                } else {
                    $du = "sip:127.0.0.1:\(p[3])";
                }
                t_on_failure("next");
                t_relay();
            }
            """
        }
        let (proxy, box1, box2, box3, caller) = (ports[0], ports[1], ports[2], ports[3], ports[4])
        let b1 = try startUAS("uas_503.xml", port: box1)
        let b2 = try startUAS("uas_503.xml", port: box2)
        let b3 = try startUAS("uas_rr.xml", port: box3)
        let run = try runUAC("uac_rr.xml", local: caller, target: proxy, calls: 2, timeout: 15)
        assertAllSuccessful(run, calls: 2, sy)
        XCTAssertTrue(uasCompleted(b3, lastReceived: "BYE ", calls: 2), "ACK and BYE through the proxy\n\(b3.report)")

        let rr = "<sip:127.0.0.1:\(proxy);lr"  // then rr's ftag
        let first = try XCTUnwrap(Self.received(b1, "INVITE ").first, b1.report)
        XCTAssertTrue(first.hasPrefix("INVITE sip:rewritten@"), first)
        for (box, peer) in [("box 1", b1), ("box 2", b2), ("box 3", b3)] {
            let invites = Self.received(peer, "INVITE ")
            XCTAssertEqual(invites.count, 2, "\(box)\n\(peer.report)")
            for inv in invites {
                let rrs = Self.header(inv, "Record-Route")
                XCTAssertTrue(rrs.count == 1 && rrs[0].hasPrefix(rr), "\(box): \(inv)")
                XCTAssertEqual(Self.header(inv, "Max-Forwards"), ["69"], "\(box): \(inv)")
                XCTAssertEqual(Self.header(inv, "X-Edit"), ["request-route"], "\(box): \(inv)")
                XCTAssertEqual(Self.header(inv, "Subject"), [], "\(box): \(inv)")
            }
        }
        // $ru back to the request line as received for the failure route's branches; its own header in its round only.
        for inv in Self.received(b2, "INVITE ") {
            XCTAssertTrue(inv.hasPrefix("INVITE sip:1000@127.0.0.1:\(proxy) "), inv)
            XCTAssertEqual(Self.header(inv, "X-Failure"), ["first-round"], inv)
        }
        for inv in Self.received(b3, "INVITE ") {
            XCTAssertTrue(inv.hasPrefix("INVITE sip:1000@127.0.0.1:\(proxy) "), inv)
            XCTAssertEqual(Self.header(inv, "X-Failure"), [], "not carried into the next round: \(inv)")
        }
        let rounds = sy.output.components(separatedBy: "failure round ").dropFirst().map { $0.prefix(while: { $0 != "\n" }) }
        XCTAssertEqual(rounds.count, 4, sy.output)
        for r in rounds { XCTAssertEqual(String(r), "ru=sip:1000@127.0.0.1:\(proxy) du=<null>", sy.output) }
        // The dialog's requests passed through the proxy: the BYE carries the proxy's Via.
        for bye in Self.received(b3, "BYE ") {
            XCTAssertTrue(Self.header(bye, "Via").first?.contains("127.0.0.1:\(proxy)") ?? false, bye)
        }
    }

    /// Examples/tm-failover as shipped (ports and paths changed): box 1 answers 503, drouting's use_next_gw() in the
    /// failure route sends the call to box 2 with the Record-Route and the decremented Max-Forwards, and the caller's
    /// ACK and BYE reach box 2 through the proxy.
    func testFailoverExampleKeepsRecordRoute() throws {
        let example = Self.repoRoot.appendingPathComponent("Examples/tm-failover")
        let cfgText = try String(contentsOf: example.appendingPathComponent("failover.cfg"), encoding: .utf8)
        let sqlText = try String(contentsOf: example.appendingPathComponent("provision.sql"), encoding: .utf8)
        let schema = Self.repoRoot.appendingPathComponent("Plugins/drouting/schema/sqlite.sql").path
        let (sy, ports) = try startSwitchyard(ports: 4) { p in
            let sql = sqlText.replacingOccurrences(of: "127.0.0.1:5090", with: "127.0.0.1:\(p[1])")
                .replacingOccurrences(of: "127.0.0.1:5091", with: "127.0.0.1:\(p[2])")
            try? sql.write(toFile: "\(workDir)/provision.sql", atomically: true, encoding: .utf8)
            try? FileManager.default.removeItem(atPath: "\(workDir)/tm-failover.db")
            return cfgText
                .replacingOccurrences(of: "socket = udp:127.0.0.1:5060",
                                      with: "socket = udp:127.0.0.1:\(p[0])\nmpath = \"\(BinaryRunner.buildDirectory.path)\"")
                .replacingOccurrences(of: "Plugins/drouting/schema/sqlite.sql", with: schema)
                .replacingOccurrences(of: "Examples/tm-failover/provision.sql", with: "\(workDir)/provision.sql")
                .replacingOccurrences(of: "sqlite://tm-failover.db", with: "sqlite://\(workDir)/tm-failover.db")
        }
        let (proxy, box1, box2, caller) = (ports[0], ports[1], ports[2], ports[3])
        let b1 = try startUAS("uas_503.xml", port: box1)
        let b2 = try startUAS("uas_rr.xml", port: box2)
        let run = try runUAC("uac_rr.xml", local: caller, target: proxy, calls: 2, timeout: 15)
        assertAllSuccessful(run, calls: 2, sy)
        XCTAssertTrue(uasCompleted(b2, lastReceived: "BYE ", calls: 2), "ACK and BYE through the proxy\n\(b2.report)")
        XCTAssertEqual(b1.received("INVITE "), 2, b1.report)
        let invites = Self.received(b2, "INVITE ")
        XCTAssertEqual(invites.count, 2, b2.report)
        for inv in invites {
            let rrs = Self.header(inv, "Record-Route")
            XCTAssertTrue(rrs.count == 1 && rrs[0].hasPrefix("<sip:127.0.0.1:\(proxy);lr"), inv)
            XCTAssertEqual(Self.header(inv, "Max-Forwards"), ["69"], inv)
        }
    }
}
