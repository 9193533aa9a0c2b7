import Foundation
import XCTest
import SwitchyardTestSupport

/// The contexts tm registers: `$(<request>pv)` reads the transaction's stored request, `$(<reply>pv)` the winning
/// stored reply of a failure route (null for a 408 made here, in branch and reply routes, and where there is no
/// transaction); an unknown
/// context is a startup error.
final class PVContextTests: TMTestCase {
    static let script = """
    route {
        xlog("L_NOTICE", "before request=$(<request>ru) reply=$(<reply>rs)\\n");
        $du = "sip:127.0.0.1:DST";
        $rU = "2000";
        t_on_branch("b");
        t_on_reply("r");
        t_on_failure("ctx");
        t_relay();
        xlog("L_NOTICE", "after request=$(<request>ru) $(<request>hdr(Call-ID){s.len}) reply=$(<reply>rs)\n");
    }
    branch_route[b] {
        xlog("L_NOTICE", "branch ru=$ru request=$(<request>ru) reply=$(<reply>rs)\n");
    }
    onreply_route[r] {
        xlog("L_NOTICE", "onreply rs=$rs request=$(<request>rm) reply=$(<reply>rs)\n");
    }
    failure_route[ctx] {
        xlog("L_NOTICE", "ctx code=$T_reply_code rs=$(<reply>rs) rr=$(<reply>rr) foo=$(<reply>hdr(X-Foo)) len=$(<reply>hdr(X-Foo){s.len}) ru=$(<request>ru) rm=$(<request>rm) own=$ru\\n");
    }
    """

    /// A 503 from the callee: the failure route reads its status, reason and header, and the request as received.
    func testFailureRouteReadsTheWinningReplyAndTheRequest() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + Self.script.replacingOccurrences(of: "DST", with: "\(uasPort)"),
                                     port: proxy)
        let uas = try startUAS("uas_503_xfoo.xml", port: uasPort)
        let run = try runUAC("uac_503.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 1), uas.report)
        XCTAssertTrue(sy.waitFor("ctx code=503 rs=503 rr=Service Unavailable foo=bar baz len=7 ru=sip:1000@127.0.0.1:\(proxy) rm=INVITE own=sip:1000@127.0.0.1:\(proxy)"),
                      sy.output)
        let out = sy.output
        XCTAssertTrue(out.contains("before request=<null> reply=<null>"), out)
        XCTAssertTrue(out.contains("branch ru=sip:2000@127.0.0.1:\(proxy) request=sip:1000@127.0.0.1:\(proxy) reply=<null>"), out)
        XCTAssertTrue(out.range(of: #"after request=sip:1000@127\.0\.0\.1:\#(proxy) [1-9][0-9]* reply=<null>"#, options: .regularExpression) != nil, out)
        XCTAssertTrue(out.contains("onreply rs=503 request=INVITE reply=<null>"), out)
    }

    /// No answer: the 408 is made here, so `$(<reply>...)` is null; the request is still there.
    func testLocal408HasNoReply() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, calleePort, uacPort) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "modparam(\"tm\", \"fr_timeout\", 2)")
                                     + Self.script.replacingOccurrences(of: "DST", with: "\(calleePort)"), port: proxy)
        let callee = try RawSIP(port: calleePort)
        let run = try runUAC("uac_408.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        _ = callee.drain(0.1)
        XCTAssertTrue(sy.waitFor("ctx code=408 rs=<null> rr=<null> foo=<null> len=<null> ru=sip:1000@127.0.0.1:\(proxy) rm=INVITE"),
                      sy.output)
    }

    /// A context no module registers is refused at startup, with where it is written.
    func testUnknownContextIsAStartupError() throws {
        let proxy = LocalPorts.freePorts(1)[0]
        let cfg = "\(workDir)/bad.cfg"
        let text = Self.config(port: proxy) + "route {\n    xlog(\"L_NOTICE\", \"$(<replay>rs)\\n\");\n}\n"
        try text.write(toFile: cfg, atomically: true, encoding: .utf8)
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("<replay>") }! + 1
        let bad = BinaryRunner(args: ["-f", cfg], cwd: workDir)
        try bad.start()
        XCTAssertNotEqual(bad.wait(timeout: 15), 0, bad.output)
        XCTAssertTrue(bad.output.contains("bad.cfg:\(line):"), bad.output)
        XCTAssertTrue(bad.output.contains("unknown pseudo-variable context <replay> in $(<replay>rs)"), bad.output)
    }
}
