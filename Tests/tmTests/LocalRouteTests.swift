import Foundation
import XCTest
import SwitchyardTestSupport

/// local_route on the requests tm generates (MI t_uac_dlg here, through the real opensips-cli to a sipp UAS): the
/// route reads the request, its header edits (append_hf/remove_hf of Tests/SIP/tm/plugins/hf_edit.c) are in what the
/// UAS receives with one Via only; local_request_route then reads it as sent, its edits discarded; `drop` ends the
/// route but the request still goes (OpenSIPS); functions not allowed there are startup errors.
final class LocalRouteTests: TMTestCase {
    /// A test module of Tests/SIP/tm/plugins built into the work directory.
    func buildCPlugin(_ name: String) throws -> String {
        try CPlugin.build("Tests/SIP/tm/plugins/\(name).c", into: workDir)
    }

    func buildHFEdit() throws -> String { try buildCPlugin("hf_edit") }

    let headers = "headers=From: <sip:mi@127.0.0.1>\\r\\nTo: <sip:ping@127.0.0.1>\\r\\nX-Sent: by-mi\\r\\nX-Gone: yes\\r\\n"

    /// The request the UAS received first (the OPTIONS, before any retransmission).
    func firstReceived(_ uas: Sipp) throws -> String {
        try XCTUnwrap(uas.trace.components(separatedBy: "message received").dropFirst().first, uas.report)
    }

    func testMIUACDialogRunsLocalRoute() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, callee) = (ports[0], ports[1])
        let cfg = try cliConfig()
        let plugin = try buildHFEdit()
        let sy = try startSwitchyard(Self.config(port: proxy, extra: miFifo + """

        loadmodule "\(plugin)"
        modparam("tm", "local_request_route", "sent")
        """) + """

        route { exit; }
        local_route {
            xlog("L_NOTICE", "local: $rm $ru $hdr(X-Sent) $ci\\n");
            append_hf("X-Local: 1\\r\\n");
            remove_hf("X-Gone");
        }
        route[sent] {
            xlog("L_NOTICE", "sent: $rm X-Local=$hdr(X-Local)\\n");
            append_hf("X-Never: 1\\r\\n");
        }
        """, port: proxy)
        let uas = try startUAS("uas_options.xml", port: callee)
        let (rc, out) = try cli(cfg, ["t_uac_dlg", "method=OPTIONS", "ruri=sip:ping@127.0.0.1:\(callee)", headers])
        XCTAssertEqual(rc, 0, out)
        XCTAssertTrue(out.contains("200 OK"), out)
        XCTAssertTrue(sy.waitFor("local: OPTIONS sip:ping@127.0.0.1:\(callee) by-mi "), sy.output)
        XCTAssertTrue(sy.waitFor("sent: OPTIONS X-Local=1"), sy.output)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "OPTIONS ", calls: 1), uas.report)
        let got = try firstReceived(uas)
        XCTAssertTrue(got.contains("X-Local: 1"), got)
        XCTAssertTrue(got.contains("X-Sent: by-mi"), got)
        XCTAssertFalse(got.contains("X-Gone"), got)
        XCTAssertFalse(got.contains("X-Never"), got)
        XCTAssertEqual(got.components(separatedBy: "Via: SIP/2.0/").count, 2, "one Via, ours: \(got)")
        // The Call-ID the route read is the one sent.
        let ci = try XCTUnwrap(sy.output.components(separatedBy: "by-mi ").dropFirst().first?.prefix { $0 != "\n" })
        XCTAssertTrue(got.contains("Call-ID: \(ci)"), "\(ci)\n\(got)")
    }

    /// OpenSIPS sends the request whatever the route ends with: `drop` stops the route, edits made before it stay.
    func testDropInLocalRouteStillSends() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, callee) = (ports[0], ports[1])
        let cfg = try cliConfig()
        let plugin = try buildHFEdit()
        let sy = try startSwitchyard(Self.config(port: proxy, extra: miFifo + "\nloadmodule \"\(plugin)\"") + """

        route { exit; }
        local_route {
            append_hf("X-Before: 1\\r\\n");
            drop;
            append_hf("X-After: 1\\r\\n");
            xlog("L_NOTICE", "after drop\\n");
        }
        """, port: proxy)
        let uas = try startUAS("uas_options.xml", port: callee)
        let (rc, out) = try cli(cfg, ["t_uac_dlg", "method=OPTIONS", "ruri=sip:ping@127.0.0.1:\(callee)", headers])
        XCTAssertEqual(rc, 0, out)
        XCTAssertTrue(out.contains("200 OK"), out)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "OPTIONS ", calls: 1), uas.report)
        let got = try firstReceived(uas)
        XCTAssertTrue(got.contains("X-Before: 1"), got)
        XCTAssertFalse(got.contains("X-After"), got)
        XCTAssertFalse(sy.output.contains("after drop"), sy.output)
    }

    /// The tm API's t_request (as the dispatcher pings; here from Tests/SIP/tm/plugins/tm_pinger.c) runs it too.
    func testAPIRequestRunsLocalRoute() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, callee, caller) = (ports[0], ports[1], ports[2])
        let pinger = try buildCPlugin("tm_pinger")
        let plugin = try buildHFEdit()
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "loadmodule \"\(pinger)\"\nloadmodule \"\(plugin)\"") + """

        route {
            tm_ping("sip:ok@127.0.0.1:\(callee)");
            t_reply(200, "OK");
        }
        local_route {
            xlog("L_NOTICE", "local: $rm $ru\\n");
            append_hf("X-Ping: api\\r\\n");
        }
        """, port: proxy)
        let uas = try startUAS("uas_options.xml", port: callee)
        let uac = try RawSIP(port: caller)
        uac.send(RawSIP.request("MESSAGE", ruri: "sip:ok@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-lr-api",
                                callID: "lr-api@test"), to: proxy)
        XCTAssertTrue(sy.waitFor("tm_pinger: completed 200 local=1", timeout: 5), sy.output)
        XCTAssertTrue(sy.waitFor("local: OPTIONS sip:ok@127.0.0.1:\(callee)"), sy.output)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "OPTIONS ", calls: 1), uas.report)
        let got = try firstReceived(uas)
        XCTAssertTrue(got.contains("X-Ping: api"), got)
        XCTAssertEqual(got.components(separatedBy: "Via: SIP/2.0/").count, 2, "one Via, ours: \(got)")
    }

    /// Relaying, replying and arming reply/failure routes are refused in local_route at startup, with the line.
    func testFunctionsNotAllowedInLocalRouteAreStartupErrors() throws {
        for (i, call) in ["t_relay()", "t_reply(200, \"OK\")", "t_on_reply(\"r\")", "t_on_failure(\"f\")"].enumerated() {
            let cfg = "\(workDir)/bad\(i).cfg"
            let text = Self.config(port: LocalPorts.freePorts(1)[0]) + """

            route { exit; }
            onreply_route[r] { exit; }
            failure_route[f] { exit; }
            local_route {
                \(call);
            }
            """
            try text.write(toFile: cfg, atomically: true, encoding: .utf8)
            let line = text.components(separatedBy: "\n").firstIndex { $0.contains(call) }! + 1
            let bad = BinaryRunner(args: ["-f", cfg], cwd: workDir)
            try bad.start()
            XCTAssertNotEqual(bad.wait(timeout: 15), 0, bad.output)
            let name = String(call.prefix { $0 != "(" })
            XCTAssertTrue(bad.output.contains("bad\(i).cfg:\(line):"), bad.output)
            XCTAssertTrue(bad.output.contains("function '\(name)' cannot be used in local_route"), bad.output)
        }
    }

    /// local_request_route naming a route the script lacks is a startup error.
    func testUnknownLocalRequestRouteIsAStartupError() throws {
        let cfg = "\(workDir)/norr.cfg"
        try (Self.config(port: LocalPorts.freePorts(1)[0], extra: "modparam(\"tm\", \"local_request_route\", \"nowhere\")") + "\nroute { exit; }\n")
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        let bad = BinaryRunner(args: ["-f", cfg], cwd: workDir)
        try bad.start()
        XCTAssertNotEqual(bad.wait(timeout: 15), 0, bad.output)
        XCTAssertTrue(bad.output.contains("local_request_route: no route[nowhere] in the script"), bad.output)
    }
}
