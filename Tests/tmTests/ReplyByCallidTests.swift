import Foundation
import XCTest
import SwitchyardTestSupport

/// `t_reply_by_callid`: sipp's INVITE gets a transaction (t_newtran) and nothing more; a MESSAGE tm sends to itself
/// carries the INVITE's Call-ID, and its route answers the INVITE 486 through t_reply_by_callid.
final class ReplyByCallidTests: TMTestCase {
    func testAnswersTheInviteOfAnotherRequest() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "INVITE") {
                t_newtran();
                t_new_request("MESSAGE", "sip:kick@127.0.0.1:\(proxy)", "sip:proxy@127.0.0.1", "sip:kick@127.0.0.1", "text/plain $ci");
                exit;
            }
            if ($rm == "MESSAGE") {
                if (!t_reply_by_callid(486, "Busy Here", "no-such-call", 1)) xlog("L_NOTICE", "unknown call refused\\n");
                if (!t_reply_by_callid(486, "Busy Here", "$rb", 2)) xlog("L_NOTICE", "other cseq refused\\n");
                if (t_reply_by_callid(486, "Busy Here", "$rb", 1)) xlog("L_NOTICE", "answered by callid\\n");
                if (!t_reply_by_callid(487, "Again", "$rb", 1)) xlog("L_NOTICE", "second answer refused\\n");
                # Without a Call-ID: the MESSAGE's own, which has no INVITE transaction.
                if (!t_reply_by_callid(486, "Busy Here")) xlog("L_NOTICE", "own call refused\\n");
                t_reply(200, "OK");
            }
        }
        """, port: proxy)
        let run = try runUAC("uac_486.xml", local: caller, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertEqual(run.uac.received("SIP/2.0 486 Busy Here"), 1, run.uac.report)
        // The 486 was made here: it carries tm's To tag.
        XCTAssertTrue(run.uac.trace.range(of: #"To: <sip:1000@127\.0\.0\.1:\#(proxy)>;tag=[0-9a-f]{4}-"#, options: .regularExpression) != nil,
                      run.uac.report)
        for line in ["unknown call refused", "other cseq refused", "answered by callid", "second answer refused", "own call refused"] {
            XCTAssertTrue(sy.waitFor(line), "\(line)\n\(sy.output)")
        }
    }

    /// OpenSIPS's documented use: an INVITE parked here (180 by t_reply), its CANCEL answers it 487 with the
    /// CANCEL's own Call-ID and CSeq.
    func testCancelOfAParkedInvite() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "loadmodule \"sl.so\"") + """
        route {
            if ($rm == "INVITE") { t_reply(180, "Ringing"); t_wait_for_new_branches(); exit; }
            if ($rm == "CANCEL") {
                sl_send_reply(200, "OK");
                if (t_reply_by_callid(487, "Request Terminated")) xlog("L_NOTICE", "parked call ended\\n");
                exit;
            }
        }
        """, port: proxy)
        let run = try runUAC("uac_cancel.xml", local: caller, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertEqual(run.uac.received("SIP/2.0 487 Request Terminated"), 1, run.uac.report)
        XCTAssertTrue(sy.waitFor("parked call ended"), sy.output)
    }

    func testNotAllowedInFailureRoute() throws {
        let port = LocalPorts.freePorts(1)[0]
        let cfg = "\(workDir)/bad.cfg"
        try (Self.config(port: port) + """
        route { t_on_failure("f"); t_relay(); }
        failure_route[f] { t_reply_by_callid(486, "Busy"); }
        """).write(toFile: cfg, atomically: true, encoding: .utf8)
        let bad = BinaryRunner(args: ["-f", cfg], cwd: workDir)
        try bad.start()
        XCTAssertNotEqual(bad.wait(timeout: 15), 0, bad.output)
        XCTAssertTrue(bad.output.contains("function 't_reply_by_callid' cannot be used in failure_route"), bad.output)
    }
}
