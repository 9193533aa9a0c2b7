import Foundation
import XCTest
import SwitchyardTestSupport

/// tm's MI commands and statistics through the real opensips-cli (mi_fifo): t_reply on an open transaction,
/// t_uac_cancel, t_uac_dlg, t_hash, get_statistics tm:.
final class MITests: TMTestCase {
    func testMICommandsAndStatistics() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, callee, caller) = (ports[0], ports[1], ports[2])
        let cfg = try cliConfig()
        let sy = try startSwitchyard(Self.config(port: proxy, extra: miFifo) + """
        route {
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
            xlog("L_NOTICE", "transaction [$T_id] for $ci\\n");
        }
        """, port: proxy)
        let uas = try RawSIP(port: callee)
        let uac = try RawSIP(port: caller)
        let ruri = "sip:1000@127.0.0.1:\(proxy)"

        // t_reply: answer an open transaction (the callee stays silent) by its id.
        uac.send(RawSIP.request("INVITE", ruri: ruri, localPort: caller, branch: "z9hG4bK-mi-1", callID: "mi-1@test"), to: proxy)
        XCTAssertTrue(sy.waitFor("for mi-1@test"), sy.output)
        let line = try XCTUnwrap(sy.lines.first { $0.contains("for mi-1@test") })
        let open = try XCTUnwrap(line.range(of: "transaction ["))
        let close = try XCTUnwrap(line[open.upperBound...].range(of: "]"))
        let id = String(line[open.upperBound..<close.lowerBound])
        let (rc, out) = try cli(cfg, ["t_reply", "code=486", "reason=Busy Here", "trans_id=\(id)", "to_tag=."])
        XCTAssertEqual(rc, 0, out)
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 486", timeout: 3, seen: &seen), "\(seen)")
        let (rc404, out404) = try cli(cfg, ["t_reply", "code=486", "reason=Busy", "trans_id=ffff.0", "to_tag=."])
        XCTAssertNotEqual(rc404, 0)
        XCTAssertTrue(out404.contains("Transaction not found"), out404)


        // t_uac_cancel: the callee rang, MI cancels, the callee gets a CANCEL.
        _ = uas.drain(0.2)
        uac.send(RawSIP.request("INVITE", ruri: ruri, localPort: caller, branch: "z9hG4bK-mi-2", callID: "mi-2@test"), to: proxy)
        let invite = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 3, seen: &seen))
        var ring = "SIP/2.0 180 Ringing\r\n"
        for h in invite.components(separatedBy: "\r\n") where ["via:", "from:", "call-id:", "cseq:"].contains(where: { h.lowercased().hasPrefix($0) }) {
            ring += h + "\r\n"
        }
        ring += "To: <\(ruri)>;tag=callee\r\nContent-Length: 0\r\n\r\n"
        uas.send(ring, to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 180", timeout: 3, seen: &seen))
        let (rcC, outC) = try cli(cfg, ["t_uac_cancel", "callid=mi-2@test", "cseq=1"])
        XCTAssertEqual(rcC, 0, outC)
        XCTAssertNotNil(uas.receive(startingWith: "CANCEL ", timeout: 3, seen: &seen), "\(seen)")
        let (rcN, outN) = try cli(cfg, ["t_uac_cancel", "callid=nothing@test", "cseq=1"])
        XCTAssertNotEqual(rcN, 0)
        XCTAssertTrue(outN.contains("No such transaction"), outN)

        // t_hash: one object per bucket.
        let (rcH, outH) = try cli(cfg, ["t_hash"])
        XCTAssertEqual(rcH, 0)
        let buckets = try JSONSerialization.jsonObject(with: Data(outH.utf8)) as? [[String: Any]]
        XCTAssertEqual(buckets?.count, 65536)
        XCTAssertGreaterThanOrEqual(buckets?.reduce(0) { $0 + (($1["Total"] as? Int) ?? 0) } ?? 0, 2)

        // Statistics.
        let (rcS, outS) = try cli(cfg, ["get_statistics", "tm:"])
        XCTAssertEqual(rcS, 0, outS)
        let stats = try JSONSerialization.jsonObject(with: Data(outS.utf8)) as? [String: Any]
        XCTAssertEqual(stats?["tm:UAS_transactions"] as? Int, 2, outS)
        // Two `100 Giving it a try` (sent with t_reply in OpenSIPS: local replies) and the MI 486.
        XCTAssertEqual(stats?["tm:local_replies"] as? Int, 3, outS)
        XCTAssertEqual(stats?["tm:received_replies"] as? Int, 1, outS)
        XCTAssertEqual(stats?["tm:relayed_replies"] as? Int, 1, outS)
        XCTAssertEqual(stats?["tm:inuse_transactions"] as? Int, 2, outS)
        XCTAssertNotNil(stats?["tm:timeout_finalresponse_inv"], outS)

        // t_uac_dlg: an OPTIONS answered 200 by the callee.
        let pending = try start(cfg, ["t_uac_dlg", "method=OPTIONS", "ruri=sip:ping@127.0.0.1:\(callee)",
                                      "headers=From: <sip:mi@127.0.0.1>\\r\\nTo: <sip:ping@127.0.0.1>\\r\\n"])
        let options = try XCTUnwrap(uas.receive(startingWith: "OPTIONS ", timeout: 5, seen: &seen), "\(seen)")
        var ok = "SIP/2.0 200 OK\r\n"
        for h in options.components(separatedBy: "\r\n") where ["via:", "from:", "to:", "call-id:", "cseq:"].contains(where: { h.lowercased().hasPrefix($0) }) {
            ok += h + "\r\n"
        }
        ok += "Content-Length: 0\r\n\r\n"
        uas.send(ok, to: proxy)
        let dlg = finish(pending)
        XCTAssertEqual(dlg.0, 0, dlg.1)
        XCTAssertTrue(dlg.1.contains("200 OK"), dlg.1)
    }

    /// MI t_reply with a body and no new_headers (one of OpenSIPS's recipes) answers with that body; positional
    /// parameters are refused (named only, as OpenSIPS).
    func testMITReplyWithBodyAndPositionalRefused() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, callee, caller) = (ports[0], ports[1], ports[2])
        let cfg = try cliConfig()
        let sy = try startSwitchyard(Self.config(port: proxy, extra: miFifo) + """
        route {
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
            xlog("L_NOTICE", "transaction [$T_id] for $ci\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        uac.send(RawSIP.request("INVITE", ruri: "sip:1000@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-mi-b",
                                callID: "mi-b@test"), to: proxy)
        XCTAssertTrue(sy.waitFor("for mi-b@test"), sy.output)
        let line = try XCTUnwrap(sy.lines.first { $0.contains("for mi-b@test") })
        let open = try XCTUnwrap(line.range(of: "transaction ["))
        let close = try XCTUnwrap(line[open.upperBound...].range(of: "]"))
        let id = String(line[open.upperBound..<close.lowerBound])
        let (rcPos, outPos) = try cli(cfg, ["t_reply", "480", "Later", id, "."])
        XCTAssertNotEqual(rcPos, 0, outPos)
        XCTAssertTrue(outPos.contains("Command only supports named parameters"), outPos)
        let (rc, out) = try cli(cfg, ["t_reply", "code=480", "reason=Later", "trans_id=\(id)", "to_tag=.", "body=try later"])
        XCTAssertEqual(rc, 0, out)
        var seen: [String] = []
        let later = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 480 Later", timeout: 3, seen: &seen), "\(seen)")
        XCTAssertTrue(later.contains("\r\nContent-Length: 9\r\n\r\ntry later"), later)
    }
}
