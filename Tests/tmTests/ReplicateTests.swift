import Foundation
import XCTest
import SwitchyardTestSupport

/// `t_replicate`: a REGISTER answered here (sl) is also relayed statefully to a replica (a sipp registrar); the
/// replica's reply runs the failure route but never reaches the caller.
final class ReplicateTests: TMTestCase {
    func testReplicaRepliesStayHere() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, replica, caller) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "loadmodule \"sl.so\"") + """
        route {
            if ($rm == "REGISTER") {
                t_on_failure("replica");
                if (t_replicate("sip:127.0.0.1:\(replica)")) xlog("L_NOTICE", "replicated du=$du\\n");
                sl_send_reply(200, "Saved");
                exit;
            }
            if (!t_replicate("sip:127.0.0.1:\(replica)", "bogus")) xlog("L_NOTICE", "bad flag refused\\n");
            t_reply(200, "Probe");
        }
        failure_route[replica] {
            xlog("L_NOTICE", "replica answered $T_reply_code\\n");
        }
        """, port: proxy)
        let uas = try startUAS("uas_register_404.xml", port: replica)
        let uac = try RawSIP(port: caller)
        uac.send(RawSIP.request("REGISTER", ruri: "sip:127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-rep1",
                                callID: "rep@test"), to: proxy)
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200 Saved", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("replicated du=sip:127.0.0.1:\(replica)"), sy.output)  // $du stays the URI

        // The replica got the REGISTER through us (our Via on top of the caller's) and answered 404.
        XCTAssertTrue(waitUntil(5) { uas.received("REGISTER ") == 1 }, uas.report)
        XCTAssertTrue(uas.trace.contains("Via: SIP/2.0/UDP 127.0.0.1:\(caller);branch=z9hG4bK-rep1"), uas.report)
        XCTAssertTrue(uas.trace.contains("127.0.0.1:\(proxy);branch=z9hG4bK"), uas.report)
        XCTAssertTrue(sy.waitFor("replica answered 404"), sy.output)

        // The 404 was handled before the failure route logged; a probe answered afterwards comes back alone.
        uac.send(RawSIP.request("OPTIONS", ruri: "sip:127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-rep2",
                                callID: "probe@test"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200 Probe", timeout: 5, seen: &seen), "\(seen)")
        XCTAssertFalse(seen.contains { $0.hasPrefix("SIP/2.0 404") }, "the replica's reply went upstream: \(seen)")
        XCTAssertEqual(seen.filter { $0.hasPrefix("SIP/2.0 200 Saved") }.count, 1, "\(seen)")
        XCTAssertTrue(sy.waitFor("bad flag refused"), sy.output)
        XCTAssertTrue(sy.waitFor("t_replicate: unknown flag in 'bogus'"), sy.output)
    }

    /// t_reply on a replicated transaction answers the caller (only the replica's replies stay here); its
    /// retransmission gets the same reply.
    func testReplyOnAReplica() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, replica, caller) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "REGISTER") {
                if (t_replicate("sip:127.0.0.1:\(replica)")) xlog("L_NOTICE", "replicated du=$du\\n");
                t_reply(200, "Saved");
                exit;
            }
            t_reply(200, "Probe");
        }
        """, port: proxy)
        let uas = try startUAS("uas_register_404.xml", port: replica)
        let uac = try RawSIP(port: caller)
        let register = RawSIP.request("REGISTER", ruri: "sip:127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-rep3",
                                      callID: "rep3@test")
        uac.send(register, to: proxy)
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200 Saved", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("replicated du=sip:127.0.0.1:\(replica)"), sy.output)
        XCTAssertTrue(waitUntil(5) { uas.received("REGISTER ") == 1 }, uas.report)
        uac.send(register, to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200 Saved", timeout: 5, seen: &seen), "\(seen)")
        uac.send(RawSIP.request("OPTIONS", ruri: "sip:127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-rep4",
                                callID: "probe3@test"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200 Probe", timeout: 5, seen: &seen), "\(seen)")
        XCTAssertFalse(seen.contains { $0.hasPrefix("SIP/2.0 404") }, "the replica's reply went upstream: \(seen)")
    }

    /// A t_replicate that sent nothing leaves an ordinary transaction: the t_relay that follows gets its reply
    /// upstream.
    func testFailedReplicaLeavesTheTransaction() throws {
        // `dead`: a port nobody listens on, so the TCP replica is refused.
        let ports = LocalPorts.freePorts(4)
        let (proxy, busy, caller, dead) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            t_replicate("sip:127.0.0.1:\(dead);transport=tcp");
            $var(rc) = $rc;
            xlog("L_NOTICE", "replicate: $var(rc)\\n");
            $du = "sip:127.0.0.1:\(busy)";
            t_relay();
        }
        """, port: proxy)
        let uas = try startUAS("uas_486.xml", port: busy)
        let run = try runUAC("uac_486.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 1), uas.report)
        XCTAssertTrue(waitUntil(10) { sy.output.range(of: "replicate: -[0-9]", options: .regularExpression) != nil }, sy.output)
    }

    func testNotAllowedInOnReplyRoute() throws {
        let port = LocalPorts.freePorts(1)[0]
        let cfg = "\(workDir)/bad.cfg"
        try (Self.config(port: port) + """
        route { t_on_reply("r"); t_relay(); }
        onreply_route[r] { t_replicate("sip:127.0.0.1:1"); }
        """).write(toFile: cfg, atomically: true, encoding: .utf8)
        let bad = BinaryRunner(args: ["-f", cfg], cwd: workDir)
        try bad.start()
        XCTAssertNotEqual(bad.wait(timeout: 15), 0, bad.output)
        XCTAssertTrue(bad.output.contains("function 't_replicate' cannot be used in onreply_route"), bad.output)
    }
}
