import Foundation
import XCTest
import SwitchyardTestSupport

/// Details where the bytes or the log must be OpenSIPS 3.6.8's: `$T_ruri` where the transaction has no such branch
/// (an error, xlog prints nothing), and the Record-Route line ahead of our Via on the wire. Raw UDP peers.
final class OpenSIPSParityTests: TMTestCase {
    /// `$T_ruri` reads the current branch of the transaction: in a branch route the branch being built is not in the
    /// transaction yet (OpenSIPS logs an error, xlog prints nothing); after `t_newtran()` alone there is no branch;
    /// after `t_relay()` it is branch 0's URI; in a reply route the reply's branch; without a transaction `$ru`.
    func testTRuriInEachRoute() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            xlog("L_NOTICE", "req notx=[$T_ruri]\\n");
            t_newtran();
            xlog("L_NOTICE", "req newtran=[$T_ruri]\\n");
            $ru = "sip:alice@127.0.0.1:\(callee)";
            t_on_branch("b");
            t_on_reply("r");
            t_relay();
            xlog("L_NOTICE", "req relayed=[$T_ruri]\\n");
        }
        branch_route[b] {
            xlog("L_NOTICE", "branch idx=[$T_branch_idx] ruri=[$T_ruri]\\n");
        }
        onreply_route[r] {
            xlog("L_NOTICE", "reply $rs ruri=[$T_ruri]\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-truri",
                                callID: "truri@test"), to: proxy)
        var seen: [String] = []
        let relayed = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(relayed, "486 Busy Here"), to: proxy)
        XCTAssertTrue(sy.waitFor("reply 486 ruri=[sip:alice@127.0.0.1:\(callee)]", timeout: 5), sy.output)
        XCTAssertTrue(sy.output.contains("req notx=[sip:bob@127.0.0.1:\(proxy)]"), sy.output)
        XCTAssertTrue(sy.output.contains("req newtran=[]"), sy.output)
        XCTAssertTrue(sy.output.contains("branch idx=[0] ruri=[]"), sy.output)
        XCTAssertTrue(sy.output.contains("req relayed=[sip:alice@127.0.0.1:\(callee)]"), sy.output)
        XCTAssertTrue(sy.output.contains("_tm_branch_index greater than nr_of_outgoings"), sy.output)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 486", timeout: 5, seen: &seen), "\(seen)")
    }

    /// record_route() before t_relay(): the relayed INVITE carries the Record-Route line first, then our Via, then
    /// the caller's Via, as OpenSIPS writes it (its Via is anchored at the received top Via when the branch is built,
    /// behind the Record-Route the script anchored there earlier). The same for a branch route's record_route().
    func testRecordRouteComesBeforeOurVia() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: #"loadmodule "rr.so""#) + """
        route {
            if ($rm == "INVITE") record_route();
            else t_on_branch("rr");
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
        }
        branch_route[rr] { record_route(); }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        for (method, branch) in [("INVITE", "z9hG4bK-rr1"), ("OPTIONS", "z9hG4bK-rr2")] {
            uac.send(RawSIP.request(method, ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: branch,
                                    callID: "rr-\(method)@test"), to: proxy)
            var seen: [String] = []
            let relayed = try XCTUnwrap(uas.receive(startingWith: method + " ", timeout: 5, seen: &seen),
                                        "\(seen)\n\(sy.output)")
            let lines = relayed.components(separatedBy: "\r\n")
            XCTAssertEqual(lines.count > 3 ? Array(lines[1...3].map { String($0.prefix(while: { $0 != ":" })) }) : [],
                           ["Record-Route", "Via", "Via"], relayed)
            // rr's append_fromtag is on by default, as in OpenSIPS: ;ftag= follows ;lr.
            XCTAssertTrue(lines.count > 2 && lines[1].hasPrefix("Record-Route: <sip:127.0.0.1:\(proxy);lr;ftag="), relayed)
            XCTAssertTrue(lines.count > 2 && lines[2].hasPrefix("Via: SIP/2.0/UDP 127.0.0.1:\(proxy);branch=z9hG4bK"),
                          relayed)
            XCTAssertEqual(lines.count > 3 ? lines[3] : "", "Via: SIP/2.0/UDP 127.0.0.1:\(caller);branch=\(branch)", relayed)
        }
    }

    /// A 3xx from the callee: tm ACKs it, the failure route sees `$T_reply_code` 302 and the reply, and with nothing
    /// done there the 302 goes to the caller as received (Contacts and all, our Via removed), as OpenSIPS relays it.
    func testRedirectReachesTheFailureRouteAndTheCaller() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, callee, uacPort) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            $du = "sip:127.0.0.1:\(callee)";
            t_on_failure("redirect");
            t_on_reply("r");
            t_relay();
        }
        onreply_route[r] {
            xlog("L_NOTICE", "reply $rs $rr code=$T_reply_code idx=$T_branch_idx\\n");
        }
        failure_route[redirect] {
            xlog("L_NOTICE", "failure code=$T_reply_code reply=$(<reply>rs) $(<reply>rr) contact=$(<reply>hdr(Contact)) replied=$T_branch_last_reply_code\\n");
            if (t_check_status("3[0-9][0-9]")) xlog("L_NOTICE", "failure 3xx\\n");
        }
        """, port: proxy)
        let uas = try startUAS("uas_302.xml", port: callee)
        let run = try runUAC("uac_302.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 1), uas.report)
        let out = sy.output
        XCTAssertTrue(out.contains("reply 302 Moved Temporarily code=302 idx=0"), out)
        XCTAssertTrue(out.contains("failure code=302 reply=302 Moved Temporarily contact=<sip:moved@192.0.2.7:5060>;q=0.5, <sip:other@192.0.2.8> replied=302"), out)
        XCTAssertTrue(out.contains("failure 3xx"), out)
        // The caller's 302: the callee's Contacts and header, one Via (the caller's own).
        let trace = run.uac.trace
        let reply = try XCTUnwrap(trace.components(separatedBy: "message received").first { $0.contains("SIP/2.0 302") }?.components(separatedBy: "-----").first, trace)
        XCTAssertTrue(reply.contains("Contact: <sip:moved@192.0.2.7:5060>;q=0.5, <sip:other@192.0.2.8>"), reply)
        XCTAssertTrue(reply.contains("X-Redirect: sipp"), reply)
        XCTAssertEqual(reply.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("Via:") }.count, 1, reply)
        // The ACK from the callee's side is tm's (hop by hop): the caller's ACK is absorbed, never relayed.
        XCTAssertEqual(uas.received("ACK "), 1, uas.report)
    }

    /// Without a transaction t_flush_flags and t_check_status are false (t_check_status does not match "0"); with one,
    /// t_flush_flags is true. `$T_branch_idx` reads 0 in the global onreply_route (a reply route, as in OpenSIPS) and
    /// null in the request route.
    func testFunctionsWithoutATransactionAndTheGlobalReplyRoute() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if (t_flush_flags()) $var(f) = "yes"; else $var(f) = "no";
            if (t_check_status("0")) $var(s) = "yes"; else $var(s) = "no";
            if (t_local_replied("ALL")) $var(l) = "yes"; else $var(l) = "no";
            t_newtran();
            if (t_flush_flags()) $var(f2) = "yes"; else $var(f2) = "no";
            if (t_local_replied("allx")) $var(l2) = "yes"; else $var(l2) = "no";
            xlog("L_NOTICE", "notx flush=$var(f) status0=$var(s) local=$var(l) tx flush=$var(f2) local=$var(l2) idx=$T_branch_idx\\n");
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
        }
        onreply_route {
            xlog("L_NOTICE", "global $rs idx=$T_branch_idx code=$T_reply_code\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        uac.send(RawSIP.request("OPTIONS", ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-notx",
                                callID: "notx@test"), to: proxy)
        var seen: [String] = []
        let relayed = try XCTUnwrap(uas.receive(startingWith: "OPTIONS ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(relayed, "200 OK"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "\(seen)")
        XCTAssertTrue(sy.waitFor("global 200 idx=0 code=0", timeout: 5), sy.output)
        XCTAssertTrue(sy.output.contains("notx flush=no status0=no local=no tx flush=yes local=yes idx=<null>"), sy.output)
    }

    /// Literal arguments OpenSIPS's fixups refuse stop startup (checked with `-c`, which runs the fixups): a
    /// t_local_replied mode that does not start with all, branch or last (or none at all), a t_cancel_branch flag
    /// other than a/o.
    func testBadLiteralArgumentsStopStartup() throws {
        let port = LocalPorts.freePorts(1)[0]
        for (i, (body, error)) in [("route { t_local_replied(\"al\"); }", "invalid param \"al\""),
                                   ("route { t_local_replied(); }", "too few arguments for t_local_replied()"),
                                   ("route { t_relay(); } onreply_route[r] { t_cancel_branch(\"ax\"); }",
                                    "unsupported flag in 'ax'")].enumerated() {
            let cfg = "\(workDir)/bad\(i).cfg"
            try (Self.config(port: port) + body + "\n").write(toFile: cfg, atomically: true, encoding: .utf8)
            let (status, out) = try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
            XCTAssertEqual(status, 1, "\(body)\n\(out)")
            XCTAssertTrue(out.contains(error), "\(body)\n\(out)")
        }
        // The same arguments accepted: A and O in any case, the modes by their prefix.
        let good = "\(workDir)/good.cfg"
        try (Self.config(port: port) + """
        route { if (t_local_replied("Last")) exit; t_relay(); }
        onreply_route[r] { t_cancel_branch("Ao"); }
        """ + "\n").write(toFile: good, atomically: true, encoding: .utf8)
        let (status, out) = try BinaryRunner.run(["-c", "-f", good], cwd: workDir)
        XCTAssertEqual(status, 0, out)
    }

    /// t_relay's outbound proxy is the next hop of every branch, appended ones included, even one with a `$du` of its
    /// own (OpenSIPS's add_uac resolves `$du` only without a proxy); `$du` itself is left as the script set it.
    func testOutboundProxyCarriesEveryBranch() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, caller, callee, other) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            $ru = "sip:dave@192.0.2.10";
            $du = "sip:127.0.0.1:\(other)";
            append_branch();    # a branch with its own $du ($du reset)
            $ru = "sip:bob@192.0.2.8";
            append_branch("sip:carol@192.0.2.9:5070");
            t_relay("", "udp:127.0.0.1:\(callee)");
            xlog("L_NOTICE", "after relay du=[$du]\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        uac.send(RawSIP.request("MESSAGE", ruri: "sip:bob@192.0.2.8", localPort: caller, branch: "z9hG4bK-obp",
                                callID: "obp@test"), to: proxy)
        var seen: [String] = []
        var lines: [String] = []
        for _ in 0..<3 {
            let m = try XCTUnwrap(uas.receive(startingWith: "MESSAGE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
            lines.append(m.components(separatedBy: "\r\n").first ?? m)
        }
        // All three at the proxy: none went to `other`, the $du of dave's branch.
        XCTAssertEqual(Set(lines), ["MESSAGE sip:bob@192.0.2.8 SIP/2.0", "MESSAGE sip:carol@192.0.2.9:5070 SIP/2.0",
                                    "MESSAGE sip:dave@192.0.2.10 SIP/2.0"])
        XCTAssertTrue(sy.waitFor("after relay du=[<null>]", timeout: 5), sy.output)
    }

    /// `$T_fr_timeout` set before the relay and `$T_fr_inv_timeout` set in a reply route on the 180 it handles: the
    /// caller's 408 comes after those seconds, not the modparams'. A string is refused; reads print nothing (OpenSIPS
    /// reads them as a bare integer, which xlog does not print).
    func testTimeoutVariables() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            $T_fr_timeout = 2;
            $T_fr_timeout = "30";    # refused: the 408 still comes after 2 s, not 30
            xlog("L_NOTICE", "fr=[$T_fr_timeout] inv=[$T_fr_inv_timeout] $rm\\n");
            $du = "sip:127.0.0.1:\(callee)";
            t_on_reply("r");
            t_relay();
        }
        onreply_route[r] {
            if ($rs == 180) $T_fr_inv_timeout = 2;
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        var seen: [String] = []
        // No reply at all: fr_timeout (2 s) ends the MESSAGE.
        let start = Date()
        uac.send(RawSIP.request("MESSAGE", ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-fr1",
                                callID: "fr1@test"), to: proxy)
        XCTAssertTrue(sy.waitFor("not a positive integer", timeout: 5), sy.output)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 408", timeout: 6, seen: &seen), "\(seen)\n\(sy.output)")
        let waited = Date().timeIntervalSince(start)
        XCTAssertGreaterThan(waited, 1.5)
        XCTAssertLessThan(waited, 4.5)
        XCTAssertTrue(sy.output.contains("fr=[] inv=[] MESSAGE"), sy.output)
        XCTAssertTrue(sy.output.contains("not a positive integer"), sy.output)
        // A 180, then nothing: fr_inv_timeout as the reply route set it on that 180 (2 s, not 120).
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-fr2",
                                callID: "fr2@test"), to: proxy)
        let invite = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let rang = Date()
        uas.send(BranchURITests.answer(invite, "180 Ringing"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 408", timeout: 6, seen: &seen), "\(seen)\n\(sy.output)")
        let rung = Date().timeIntervalSince(rang)
        XCTAssertGreaterThan(rung, 1.5)
        XCTAssertLessThan(rung, 4.5)
        // The callee rang: it gets the CANCEL.
        XCTAssertNotNil(uas.receive(startingWith: "CANCEL ", timeout: 3, seen: &seen), "\(seen)")
    }

    /// A 3xx made here by t_reply or sl_send_reply carries the destination set as a Contact line, as OpenSIPS's
    /// print_dset: the request-URI when the script rewrote it, then the append_branch() branches with their q.
    /// t_reply_with_body's does not.
    func testRedirectRepliesCarryTheDestinationSet() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "loadmodule \"sl.so\"\nloadmodule \"sipmsgops.so\"") + """
        route {
            if ($rm == "INVITE") {
                $ru = "sip:new@192.0.2.5";
                append_branch("sip:other@192.0.2.6", "0.5");
                append_to_reply("X-Why: moved\\r\\n");
                t_reply(302, "Moved Temporarily");
            } else if ($rm == "MESSAGE") {
                append_branch("sip:only@192.0.2.7");
                sl_send_reply(301, "Moved Permanently");
            } else if ($rm == "SUBSCRIBE") {
                append_branch("sip:never@192.0.2.9");
                t_reply_with_body(302, "Moved With Body", "");
            } else if ($rm == "NOTIFY") {
                append_branch("sip:never@192.0.2.9");
                t_reply_with_body(305, "Use Proxy", "see body");
            } else {
                append_branch("sip:never@192.0.2.8");
                t_reply(404, "Not Here");
            }
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        var seen: [String] = []
        func ask(_ method: String, _ status: String) throws -> [String] {
            uac.send(RawSIP.request(method, ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-ds\(method)",
                                    callID: "ds-\(method)@test"), to: proxy)
            let r = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 \(status)", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
            return r.components(separatedBy: "\r\n")
        }
        let redirect = try ask("INVITE", "302")
        XCTAssertTrue(redirect.contains("Contact: <sip:new@192.0.2.5>, <sip:other@192.0.2.6>;q=0.5"), "\(redirect)")
        let why = redirect.firstIndex(of: "X-Why: moved") ?? -1, contact = redirect.firstIndex { $0.hasPrefix("Contact:") } ?? -1
        XCTAssertTrue(why >= 0 && contact == why + 1, "the Contact after the script's lines\n\(redirect)")
        XCTAssertTrue(try ask("MESSAGE", "301").contains("Contact: <sip:only@192.0.2.7>"))
        XCTAssertFalse(try ask("OPTIONS", "404").contains { $0.hasPrefix("Contact:") })
        // t_reply_with_body builds from the lines it is given, without the destination set (OpenSIPS prints it in
        // t_reply's _reply only), with an empty body as with one.
        XCTAssertFalse(try ask("SUBSCRIBE", "302").contains { $0.hasPrefix("Contact:") })
        let withBody = try ask("NOTIFY", "305")
        XCTAssertFalse(withBody.contains { $0.hasPrefix("Contact:") }, "\(withBody)")
        XCTAssertEqual(withBody.last, "see body", "\(withBody)")
    }

    /// t_on_failure / t_on_reply called after t_relay() in the request route arm the transaction (OpenSIPS sets them on
    /// its T when it has one): the reply and failure routes run for the callee's 486, sent once the request route
    /// has armed them ("armed").
    func testRoutesArmedAfterTheRelay() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
            t_on_failure("late");
            t_on_reply("late");
            xlog("L_NOTICE", "armed\\n");
        }
        onreply_route[late] { xlog("L_NOTICE", "late reply $rs\\n"); }
        failure_route[late] { xlog("L_NOTICE", "late failure $T_reply_code\\n"); }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-late",
                                callID: "late@test"), to: proxy)
        var seen: [String] = []
        let relayed = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("armed", timeout: 5), sy.output)
        uas.send(BranchURITests.answer(relayed, "486 Busy Here"), to: proxy)
        XCTAssertTrue(sy.waitFor("late reply 486", timeout: 5), sy.output)
        XCTAssertTrue(sy.waitFor("late failure 486", timeout: 5), sy.output)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 486", timeout: 5, seen: &seen), "\(seen)")
        XCTAssertNotNil(uas.receive(startingWith: "ACK ", timeout: 5, seen: &seen), "\(seen)")
    }
}
