import Foundation
import XCTest
import SwitchyardTestSupport

/// local_reply_route: the named route[x] runs on the replies tm makes itself and sends as OpenSIPS's _reply_light does
/// (t_reply, the 100 Trying, 200 canceling), reading the reply as sent, with no transaction; not on a relayed reply
/// (the callee's 487) nor on the 408 faked for a timeout (OpenSIPS's relay_reply path). Raw UDP peers.
final class LocalReplyRouteTests: TMTestCase {
    func testRunsOnLocalRepliesOnly() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, caller, callee, silent) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        loadmodule "sipmsgops.so"
        modparam("tm", "fr_timeout", 2)
        modparam("tm", "local_reply_route", "lr")
        """) + """
        route {
            if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; }
            if (is_method("ACK")) { t_relay(); exit; }
            if ($rU == "busy") { t_reply(486, "Busy Here"); exit; }
            if ($rU == "silent") $du = "sip:127.0.0.1:\(silent)"; else $du = "sip:127.0.0.1:\(callee)";
            t_relay();
        }
        route[lr] {
            xlog("LR $rs $rr ci=$ci tt=$tt tid=$T_id rm=$rm\\n");
            # Header edits are refused on a reply built here (it goes out as built): -1 and one log line.
            if (append_hf("X-Never: 1\\r\\n")) xlog("LRHF kept\\n"); else xlog("LRHF refused\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        let silentPeer = try RawSIP(port: silent)  // never answers; kept bound so no other test takes the port
        defer { withExtendedLifetime(silentPeer) {} }
        var seen: [String] = []

        // t_reply: the 100 Trying of the new INVITE transaction, then the 486, each read by the route before it goes.
        uac.send(RawSIP.request("INVITE", ruri: "sip:busy@h", localPort: caller, branch: "z9hG4bK-lr-busy",
                                callID: "lr-busy@test"), to: proxy)
        let busy = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 486", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(seen.contains { $0.hasPrefix("SIP/2.0 100 Giving it a try") }, "\(seen)")
        XCTAssertFalse(seen.contains { $0.contains("X-Never") }, "the route's edits are not sent: \(seen)")
        let tag = try XCTUnwrap(RawSIP.header(busy, "To")?.components(separatedBy: "tag=").last, busy)
        XCTAssertEqual(tag.count, 37, busy)
        XCTAssertTrue(sy.waitFor("LR 100 Giving it a try ci=lr-busy@test tt=<null> tid=<null> rm=INVITE"), sy.output)
        XCTAssertTrue(sy.waitFor("LR 486 Busy Here ci=lr-busy@test tt=\(tag) tid=<null> rm=INVITE"), sy.output)
        uac.send(RawSIP.request("ACK", ruri: "sip:busy@h", localPort: caller, branch: "z9hG4bK-lr-busy",
                                callID: "lr-busy@test", to: RawSIP.header(busy, "To")), to: proxy)

        // CANCEL: our 200 canceling runs the route; the callee's 487, relayed, does not.
        seen = []
        let invite = RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-lr-cancel",
                                    callID: "lr-cancel@test")
        uac.send(invite, to: proxy)
        let relayed = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(relayed, "180 Ringing"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 180", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uac.send(RawSIP.request("CANCEL", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-lr-cancel",
                                callID: "lr-cancel@test"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200 canceling", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let cancel = try XCTUnwrap(uas.receive(startingWith: "CANCEL ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(cancel, "200 OK"), to: proxy)
        uas.send(BranchURITests.answer(relayed, "487 Request Terminated"), to: proxy)
        let terminated = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 487", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uac.send(RawSIP.request("ACK", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-lr-cancel",
                                callID: "lr-cancel@test", to: RawSIP.header(terminated, "To")), to: proxy)
        XCTAssertTrue(sy.waitFor("LR 100 Giving it a try ci=lr-cancel@test"), sy.output)
        // The 200 to the CANCEL carries tm's To-tag (a code from 180 up, a CANCEL without one), as OpenSIPS.
        XCTAssertTrue(sy.waitFor("LR 200 canceling ci=lr-cancel@test tt="), sy.output)
        let canceling = sy.output.components(separatedBy: "\n").first { $0.contains("LR 200 canceling") } ?? ""
        XCTAssertTrue(canceling.hasSuffix(" tid=<null> rm=CANCEL"), canceling)
        XCTAssertEqual(canceling.components(separatedBy: "tt=").last?.prefix { $0 != " " }.count, 37, canceling)

        // A timeout's 408 is faked on the branch and relayed: no route.
        uac.send(RawSIP.request("MESSAGE", ruri: "sip:silent@h", localPort: caller, branch: "z9hG4bK-lr-msg",
                                callID: "lr-msg@test"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 408", timeout: 8, seen: &seen), "\(seen)\n\(sy.output)")

        // One more local reply after all of them: its line is logged after anything the others could have logged.
        uac.send(RawSIP.request("INVITE", ruri: "sip:busy@h", localPort: caller, branch: "z9hG4bK-lr-last",
                                callID: "lr-last@test"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 486", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("LR 486 Busy Here ci=lr-last@test"), sy.output)
        let lines = sy.output.components(separatedBy: "\n").filter { $0.contains("LR ") }
        XCTAssertEqual(lines.count, 6, "100+486, 100+200 canceling, 100+486; no 180, 487, 408:\n\(sy.output)")
        XCTAssertFalse(sy.output.contains("LR 487"), sy.output)
        XCTAssertFalse(sy.output.contains("LR 408"), sy.output)
        XCTAssertFalse(sy.output.contains("LR 180"), sy.output)
        XCTAssertEqual(sy.output.components(separatedBy: "LRHF refused").count - 1, 6, sy.output)
        XCTAssertFalse(sy.output.contains("LRHF kept"), sy.output)
        XCTAssertEqual(sy.output.components(separatedBy: "append_hf: cannot add 'X-Never: 1'").count - 1, 6, sy.output)
    }

    /// local_reply_route naming a route the script lacks is a startup error.
    func testUnknownLocalReplyRouteIsAStartupError() throws {
        let cfg = "\(workDir)/nolr.cfg"
        try (Self.config(port: LocalPorts.freePorts(1)[0], extra: "modparam(\"tm\", \"local_reply_route\", \"nowhere\")") + "\nroute { exit; }\n")
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        let bad = BinaryRunner(args: ["-f", cfg], cwd: workDir)
        try bad.start()
        XCTAssertNotEqual(bad.wait(timeout: 15), 0, bad.output)
        XCTAssertTrue(bad.output.contains("local_reply_route: no route[nowhere] in the script"), bad.output)
    }
}
