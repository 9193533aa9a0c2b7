import Foundation
import XCTest
import SwitchyardTestSupport

/// local_reply_route on the replies LocalReplyRouteTests does not cover: t_reply in a failure route, the "200
/// canceling" (and no route for the relayed 487 of a cancelled INVITE relayed again), t_relay's own 476 (a
/// destination that does not resolve), MI t_reply; and the route runs after tm has released the transaction's
/// bucket: while it waits on a FreeSWITCH box, a retransmitted INVITE is answered by the other worker with the 100
/// already recorded. Raw UDP peers, a FakeDNSServer, opensips-cli, a TCP listener.
final class LocalReplyRouteCasesTests: TMTestCase {
    func testFailureRouteRelayAndMIRepliesRunTheRoute() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let dns = try FakeDNSServer()
        cleanups.append { dns.stop() }
        let cfg = try cliConfig()
        let sy = try startSwitchyard(Self.config(port: proxy, extra: miFifo + """
        modparam("tm", "local_reply_route", "lr")
        """) + """
        route {
            if ($rm == "CANCEL") { if (t_check_trans()) t_relay(); exit; }
            if ($rm == "ACK") { t_relay(); exit; }
            if ($rU == "nowhere") { $du = "sip:nohost.test"; t_relay(); exit; }
            t_on_failure("f");
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
            xlog("TX [$T_id] $ci\\n");
        }
        failure_route[f] {
            if ($rU == "fail") { t_reply(480, "From Failure"); exit; }
            t_relay();
        }
        route[lr] {
            xlog("LR $rs $rr ci=$ci\\n");
        }
        """, port: proxy, env: ["SWITCHYARD_DNS_SERVER": dns.address])
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        var seen: [String] = []

        // t_reply in a failure route (the callee's 503 picked): the route reads the 480 made there.
        uac.send(RawSIP.request("INVITE", ruri: "sip:fail@h", localPort: caller, branch: "z9hG4bK-lrc-fail",
                                callID: "lrc-fail@test"), to: proxy)
        let failed = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(failed, "503 Unavailable"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 480 From Failure", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("LR 480 From Failure ci=lrc-fail@test"), sy.output)

        // A CANCEL, then the callee's 487: the failure route's t_relay on the cancelled INVITE returns -3 and sends
        // nothing of its own (branches went out), so the callee's 487 is relayed — not a local reply, the route does
        // not run for it; the "200 canceling" tm made itself does run it.
        let invite = RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-lrc-cancel",
                                    callID: "lrc-cancel@test")
        uac.send(invite, to: proxy)
        let relayed = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(relayed, "180 Ringing"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 180", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uac.send(RawSIP.request("CANCEL", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-lrc-cancel",
                                callID: "lrc-cancel@test"), to: proxy)
        let cancel = try XCTUnwrap(uas.receive(startingWith: "CANCEL ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(cancel, "200 OK"), to: proxy)
        uas.send(BranchURITests.answer(relayed, "487 Callee Terminated"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 487 Callee Terminated", timeout: 5, seen: &seen),
                        "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("LR 200 canceling ci=lrc-cancel@test"), sy.output)
        XCTAssertFalse(sy.lines.contains { $0.contains("LR 487") && $0.contains("lrc-cancel@test") }, sy.output)

        // t_relay's own 476: the destination does not resolve.
        uac.send(RawSIP.request("INVITE", ruri: "sip:nowhere@h", localPort: caller, branch: "z9hG4bK-lrc-476",
                                callID: "lrc-476@test"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 476", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("LR 476 Unresolvable destination (476/TM) ci=lrc-476@test"), sy.output)

        // MI t_reply on an open transaction (the callee stays silent).
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-lrc-mi",
                                callID: "lrc-mi@test"), to: proxy)
        XCTAssertTrue(sy.waitFor("] lrc-mi@test"), sy.output)
        let line = try XCTUnwrap(sy.lines.first { $0.contains("] lrc-mi@test") })
        let id = try XCTUnwrap(line.components(separatedBy: "TX [").last?.components(separatedBy: "]").first, line)
        let (rc, out) = try cli(cfg, ["t_reply", "code=486", "reason=Busy By MI", "trans_id=\(id)", "to_tag=."])
        XCTAssertEqual(rc, 0, out)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 486 Busy By MI", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("LR 486 Busy By MI ci=lrc-mi@test"), sy.output)
    }

    /// The 100's route waits on a FreeSWITCH box that accepts the connection and never greets (freeswitch_esl blocks
    /// the worker for esl_connect_timeout). Were the bucket still locked, the retransmitted INVITE (read by the other
    /// UDP worker) would wait for the route; it gets the 100 while the route still waits.
    func testRouteRunsWithTheBucketUnlocked() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let box = try SilentTCPListener()
        defer { box.close() }
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        loadmodule "freeswitch.so"
        loadmodule "freeswitch_scripting.so"
        modparam("freeswitch", "esl_connect_timeout", 20000)
        modparam("tm", "local_reply_route", "lr")
        """) + """
        route {
            t_reply(486, "Busy Here");
        }
        route[lr] {
            if ($rs == "100") {
                $var(rc) = freeswitch_esl("api status", "fs://:ClueCon@127.0.0.1:\(box.port)", $var(out));
                xlog("LR done $var(rc)\n");
            }
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        var seen: [String] = []
        let invite = RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-lrc-slow",
                                    callID: "lrc-slow@test")
        uac.send(invite, to: proxy)
        XCTAssertTrue(box.waitForConnection(timeout: 5), sy.output)
        uac.send(invite, to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 100", timeout: 3, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertFalse(sy.output.contains("LR done"), "the route is still waiting on the box: \(sy.output)")
        XCTAssertFalse(seen.contains { $0.hasPrefix("SIP/2.0 486") }, "\(seen)")
        box.close()  // the connection is reset: freeswitch_esl fails, the route ends, the 100 and the 486 go
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 486", timeout: 10, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("LR done -2"), sy.output)
    }
}

/// A TCP listener on 127.0.0.1 that never accepts: connections complete in the kernel and get no byte; closing it
/// resets them.
final class SilentTCPListener {
    private var fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "socket", code: Int(errno)) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard ok else { Glibc.close(fd); throw NSError(domain: "listen", code: Int(errno)) }
        self.fd = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    /// True once a connection waits in the backlog.
    func waitForConnection(timeout: TimeInterval) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, Int32(timeout * 1000)) == 1
    }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }
}
