import Foundation
import XCTest
import SwitchyardTestSupport

/// Requests tm sends itself, as client transactions: MI t_uac_dlg through the real opensips-cli to a sipp UAS (the
/// answer with Status, RURI, Next-hop, Routes and Message; a timeout answering only Status 408; the UDP
/// retransmissions in tm's statistics), and the tm API used by a C module as the dispatcher's pinger uses it
/// (TMCB_LOCAL_COMPLETED fired once with the reply, the 1.0 t_uac done callback).
final class UACTests: TMTestCase {
    func json(_ text: String) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    }

    func testMIUACDialogAnswerTimeoutAndErrors() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, callee, silent, invitee) = (ports[0], ports[1], ports[2], ports[3])
        let cfg = try cliConfig()
        let sy = try startSwitchyard(Self.config(port: proxy, extra: miFifo + "\nmodparam(\"tm\", \"fr_timeout\", 3)")
            + "\nroute { exit; }\n", port: proxy)
        let uas = try startUAS("uas_options.xml", port: callee)
        let headers = "headers=From: <sip:mi@127.0.0.1>\\r\\nTo: <sip:ping@127.0.0.1>\\r\\nX-Sent: by-mi\\r\\n"

        // A 200 after 1 s: the answer carries the reply and the dialog it confirms.
        let (rc, out) = try cli(cfg, ["t_uac_dlg", "method=OPTIONS", "ruri=sip:ping@127.0.0.1:\(callee)", headers])
        XCTAssertEqual(rc, 0, out)
        let answer = try XCTUnwrap(json(out), out)
        XCTAssertEqual(answer["Status"] as? String, "200 OK", out)
        XCTAssertEqual(answer["RURI"] as? String, "sip:callee@127.0.0.1:\(callee)", out)
        XCTAssertEqual(answer["Next-hop"] as? String, "sip:rr2.test;lr", out)
        XCTAssertEqual(answer["Routes"] as? [String], ["<sip:rr2.test;lr>", "<sip:rr1.test;lr>"], out)
        let message = try XCTUnwrap(answer["Message"] as? String, out)
        XCTAssertTrue(message.hasPrefix("Via: "), message)
        XCTAssertTrue(message.contains("X-Answer: from-sipp"), message)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "OPTIONS ", calls: 1), uas.report)
        let sent = try XCTUnwrap(uas.trace.components(separatedBy: "message received").dropFirst().first, uas.report)
        XCTAssertTrue(sent.contains("X-Sent: by-mi"), sent)
        XCTAssertTrue(sent.contains("CSeq: 10 OPTIONS"), sent)
        XCTAssertTrue(sent.range(of: #"branch=z9hG4bK[0-9a-f]+\.[0-9a-f]+\.0"#, options: .regularExpression) != nil, sent)

        // No answer at all: 408 after fr_timeout, the answer is the status alone; UDP retransmitted meanwhile.
        let quiet = try startUAS("uas_options_silent.xml", port: silent)
        let begin = Date()
        let (rcT, outT) = try cli(cfg, ["t_uac_dlg", "method=OPTIONS", "ruri=sip:quiet@127.0.0.1:\(silent)", headers])
        XCTAssertEqual(rcT, 0, outT)
        XCTAssertEqual(json(outT)?.count, 1, outT)
        XCTAssertEqual(json(outT)?["Status"] as? String, "408 Request Timeout", outT)
        XCTAssertGreaterThan(Date().timeIntervalSince(begin), 2.5)
        XCTAssertGreaterThanOrEqual(quiet.received("OPTIONS "), 1, quiet.report)

        let (rcS, outS) = try cli(cfg, ["get_statistics", "tm:"])
        XCTAssertEqual(rcS, 0, outS)
        let stats = try XCTUnwrap(json(outS), outS)
        XCTAssertEqual(stats["tm:UAC_transactions"] as? Int, 2, outS)
        XCTAssertGreaterThanOrEqual(stats["tm:retransmission_req_T1_1"] as? Int ?? 0, 2, outS)
        XCTAssertEqual(stats["tm:timeout_finalresponse"] as? Int, 1, outS)

        // An INVITE: the 200 confirms a dialog with the callee's Contact as its target; tm ACKs the 2xx itself.
        let invited = try startUAS("uas.xml", port: invitee)
        let (rcI, outI) = try cli(cfg, ["t_uac_dlg", "method=INVITE", "ruri=sip:inv@127.0.0.1:\(invitee)", headers])
        XCTAssertEqual(rcI, 0, outI)
        XCTAssertEqual(json(outI)?["Status"] as? String, "200 OK", outI)
        XCTAssertEqual(json(outI)?["RURI"] as? String, "sip:127.0.0.1:\(invitee);transport=UDP", outI)
        XCTAssertEqual(json(outI)?["Routes"] as? [String], [], outI)
        XCTAssertTrue(uasCompleted(invited, lastReceived: "ACK ", calls: 1), invited.report)

        // Bad requests are refused before anything is sent.
        let (rcE, outE) = try cli(cfg, ["t_uac_dlg", "method=OPTIONS", "ruri=sip:x@127.0.0.1:\(silent)",
                                        "headers=From: <sip:mi@127.0.0.1>\\r\\n"])
        XCTAssertNotEqual(rcE, 0)
        XCTAssertTrue(outE.contains("To missing"), outE)
        let (rcL, outL) = try cli(cfg, ["t_uac_dlg", "method=OPTIONS", "ruri=sip:x@127.0.0.1:\(silent)",
                                        headers + "Content-Length: 0\\r\\n"])
        XCTAssertNotEqual(rcL, 0)
        XCTAssertTrue(outL.contains("Content-Length disallowed"), outL)
        let (rcK, outK) = try cli(cfg, ["t_uac_dlg", "method=OPTIONS", "ruri=sip:x@127.0.0.1:\(silent)", headers,
                                        "next_hop=.", "socket=udp:127.0.0.2:5999"])
        XCTAssertNotEqual(rcK, 0)
        XCTAssertTrue(outK.contains("Local socket not found"), outK)
        // A body without next_hop or socket is one of OpenSIPS's recipes (here refused for its missing Content-Type);
        // positional parameters are not taken (named only, as OpenSIPS).
        let (rcB, outB) = try cli(cfg, ["t_uac_dlg", "method=MESSAGE", "ruri=sip:x@127.0.0.1:\(silent)", headers, "body=hi"])
        XCTAssertNotEqual(rcB, 0)
        XCTAssertTrue(outB.contains("Content-Type missing"), outB)
        let (rcP, outP) = try cli(cfg, ["t_uac_dlg", "OPTIONS", "sip:x@127.0.0.1:\(silent)", "From: <sip:a@b>\\r\\nTo: <sip:x@b>"])
        XCTAssertNotEqual(rcP, 0, outP)
        XCTAssertTrue(outP.contains("Command only supports named parameters"), outP)
        XCTAssertTrue(sy.process.isRunning)
    }

    /// Builds Tests/SIP/tm/plugins/tm_pinger.c as a third party would, against the repository's headers.
    func buildPinger() throws -> String {
        try CPlugin.build("Tests/SIP/tm/plugins/tm_pinger.c", into: workDir)
    }

    /// t_uac_dlg to a name without a port: resolved as a relayed request's destination (SRV `_sip._udp`), so the
    /// OPTIONS reaches the SRV target at its record's port, not the name's A record at 5060.
    func testMIUACDialogToAnSRVName() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, callee) = (ports[0], ports[1])
        let dns = try FakeDNSServer()
        cleanups.append { dns.stop() }
        dns.add("_sip._udp.farm.test", .srv(priority: 10, weight: 0, port: callee, target: "fs1.farm.test"))
        dns.add("fs1.farm.test", .a("127.0.0.1"))
        dns.add("farm.test", .a("127.0.0.9"))
        let cfg = try cliConfig()
        _ = try startSwitchyard(Self.config(port: proxy, extra: miFifo + "\ndns_try_naptr = 0") + "\nroute { exit; }\n",
                                port: proxy, env: ["SWITCHYARD_DNS_SERVER": dns.address])
        let uas = try startUAS("uas_options.xml", port: callee)
        let headers = "headers=From: <sip:mi@127.0.0.1>\\r\\nTo: <sip:ping@farm.test>\\r\\n"
        let (rc, out) = try cli(cfg, ["t_uac_dlg", "method=OPTIONS", "ruri=sip:ping@farm.test", headers])
        XCTAssertEqual(rc, 0, out)
        XCTAssertEqual(json(out)?["Status"] as? String, "200 OK", out)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "OPTIONS ", calls: 1), uas.report)
        XCTAssertEqual(dns.asked("_sip._udp.farm.test", type: FakeDNSServer.typeSRV), 1, "\(dns.questions)")
    }

    func testAPIRequestFiresLocalCompleted() throws {
        // `nobody`: a port nobody listens on.
        let ports = LocalPorts.freePorts(5)
        let (proxy, callee, rejecting, caller, nobody) = (ports[0], ports[1], ports[2], ports[3], ports[4])
        let pinger = try buildPinger()
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        modparam("tm", "fr_timeout", 2)
        loadmodule "\(pinger)"
        """) + """
        route {
            if ($rU == "ok") tm_ping("sip:ok@127.0.0.1:\(callee)");
            if ($rU == "reject") tm_ping("sip:no@127.0.0.1:\(rejecting)");
            if ($rU == "nobody") tm_ping_done("sip:nobody@127.0.0.1:\(nobody)");
            t_reply(200, "OK");
        }
        """, port: proxy)
        XCTAssertTrue(sy.waitFor("tm_pinger: bound tm"), sy.output)
        _ = try startUAS("uas_options.xml", port: callee)
        _ = try startUAS("uas_options_404.xml", port: rejecting)
        let uac = try RawSIP(port: caller)
        func trigger(_ user: String) {
            uac.send(RawSIP.request("MESSAGE", ruri: "sip:\(user)@127.0.0.1:\(proxy)", localPort: caller,
                                    branch: "z9hG4bK-pinger-\(user)", callID: "pinger-\(user)@test"), to: proxy)
        }
        trigger("ok")
        XCTAssertTrue(sy.waitFor("tm_pinger: completed 200 local=1 reply=SIP/2.0 200 OK", timeout: 5), sy.output)
        trigger("reject")
        XCTAssertTrue(sy.waitFor("tm_pinger: completed 404 local=1 reply=SIP/2.0 404 Not Here", timeout: 5), sy.output)
        XCTAssertTrue(sy.waitFor("tm_pinger: response 100"), sy.output)
        // Nobody listens there: the 1.0 entry's done gets the 408 of the timeout, once.
        trigger("nobody")
        XCTAssertTrue(sy.waitFor("tm_pinger: done 408", timeout: 6), sy.output)
        XCTAssertTrue(waitUntil(10) { sy.output.components(separatedBy: "tm_pinger: completed").count - 1 == 2 })
        XCTAssertEqual(sy.output.components(separatedBy: "tm_pinger: completed 200").count - 1, 1, sy.output)
        XCTAssertEqual(sy.output.components(separatedBy: "tm_pinger: done").count - 1, 1, sy.output)
        XCTAssertTrue(sy.process.isRunning)
    }

    /// A server that stops before its local transactions completed: t_request's LOCAL_COMPLETED fires with code 0 and
    /// t_uac's done gets 0, each exactly once.
    func testAPIRequestCompletesAtShutdown() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, nobody) = (ports[0], ports[1], ports[2])
        let pinger = try buildPinger()
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        modparam("tm", "fr_timeout", 60)
        loadmodule "\(pinger)"
        """) + """
        route {
            tm_ping("sip:nobody@127.0.0.1:\(nobody)");
            tm_ping_done("sip:nobody@127.0.0.1:\(nobody)");
            t_reply(200, "OK");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        uac.send(RawSIP.request("MESSAGE", ruri: "sip:x@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-stop",
                                callID: "pinger-stop@test"), to: proxy)
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 3, seen: &seen), "\(seen)")
        XCTAssertFalse(sy.output.contains("tm_pinger: completed"), sy.output)
        sy.process.terminate()
        XCTAssertNotNil(sy.wait(timeout: 15), sy.output)
        func count(_ s: String) -> Int { sy.output.components(separatedBy: s).count - 1 }
        XCTAssertEqual(count("tm_pinger: completed 0 local=1 reply=\n"), 1, sy.output)
        XCTAssertEqual(count("tm_pinger: completed"), 1, sy.output)
        XCTAssertEqual(count("tm_pinger: done 0"), 1, sy.output)
        XCTAssertEqual(count("tm_pinger: done"), 1, sy.output)
    }

    /// A LOCAL_COMPLETED callback at shutdown that sends another local request into its bucket (same Call-ID and CSeq),
    /// behind a second one: the stop tells code 0 to the requests it found, not to the one made while it walks them.
    func testRequestSentFromTheShutdownCallbackIsNotVisited() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, nobody) = (ports[0], ports[1], ports[2])
        let pinger = try buildPinger()
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        modparam("tm", "fr_timeout", 60)
        loadmodule "\(pinger)"
        """) + """
        route {
            tm_ping_chain("sip:nobody@127.0.0.1:\(nobody)");
            t_reply(200, "OK");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        uac.send(RawSIP.request("MESSAGE", ruri: "sip:x@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-chain",
                                callID: "pinger-chain@test"), to: proxy)
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 3, seen: &seen), "\(seen)")
        sy.process.terminate()
        XCTAssertNotNil(sy.wait(timeout: 15), sy.output)
        func count(_ s: String) -> Int { sy.output.components(separatedBy: s).count - 1 }
        XCTAssertEqual(count("tm_pinger: chain sent 0"), 1, sy.output)
        XCTAssertEqual(count("tm_pinger: completed 0 local=1"), 1, sy.output)
        XCTAssertEqual(count("tm_pinger: chained completed"), 0, sy.output)
    }

    /// t_new_request from the script: a request of tm's own with the display name, body and Content-Type given.
    func testNewRequestFromScript() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, callee, caller) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if (t_new_request("OPTIONS", "sip:ok@127.0.0.1:\(callee)", "Proxy Pinger sip:pinger@127.0.0.1", "sip:ok@127.0.0.1", "text/plain hello from $rU"))
                xlog("L_NOTICE", "new request sent\\n");
            t_reply(200, "OK");
        }
        """, port: proxy)
        let uas = try startUAS("uas_options.xml", port: callee)
        let uac = try RawSIP(port: caller)
        uac.send(RawSIP.request("MESSAGE", ruri: "sip:alice@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-newreq",
                                callID: "newreq@test"), to: proxy)
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 3, seen: &seen), "\(seen)")
        XCTAssertTrue(sy.waitFor("new request sent"), sy.output)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "OPTIONS ", calls: 1), uas.report)
        let got = try XCTUnwrap(uas.trace.components(separatedBy: "message received").dropFirst().first, uas.report)
        XCTAssertTrue(got.contains("From: Proxy Pinger <sip:pinger@127.0.0.1>;tag="), got)
        XCTAssertTrue(got.contains("To: <sip:ok@127.0.0.1>"), got)
        XCTAssertTrue(got.contains("CSeq: 10 OPTIONS"), got)
        XCTAssertTrue(got.contains("Content-Type: text/plain"), got)
        XCTAssertTrue(got.contains("hello from alice"), got)
    }
}
