import Foundation
import XCTest
import SwitchyardTestSupport

/// Destination blacklists on the wire: t_relay toward a blacklisted address (tm's own 473, or -5 with no-auto-477),
/// forward() refusing one, and a destination name whose first address is blacklisted reaching its second one.
/// sipp peers, raw UDP where a test needs to see what the script returned.
final class BlacklistRelayTests: TMTestCase {
    /// use_blacklist + t_relay to the blocked callee: the caller gets "473 Filtered destination (473/TM)", the callee
    /// nothing, and the script saw t_relay succeed (tm answered for it).
    func testRelayToBlacklistedDestinationGets473() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let uas = try startUAS(port: callee)
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        dst_blacklist = "gw:{ (udp, 127.0.0.1, \(callee), ''), (tcp, 10.0.0.0/8, 0, '') }"

        """) + """
        route {
            use_blacklist("gw");
            $du = "sip:127.0.0.1:\(callee)";
            if (t_relay()) xlog("L_NOTICE", "relay-rc=$rc\\n");
        }
        """, port: proxy)
        let run = try runUAC("uac_473.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)")
        XCTAssertEqual(run.uac.received("SIP/2.0 473"), 1, run.uac.report)
        XCTAssertTrue(run.uac.trace.contains("Filtered destination (473/TM)"), run.uac.report)
        XCTAssertTrue(waitUntil(10) { sy.output.contains("relay-rc=1") }, sy.output)
        XCTAssertEqual(uas.received("INVITE "), 0, uas.report)
    }

    /// no-auto-477: nothing is sent, t_relay returns -5 and the script answers itself; unuse_blacklist lets the
    /// next message through to the callee.
    func testNoAuto477ReturnsMinus5AndUnuseLetsThrough() throws {
        let (sy, ports) = try startSwitchyard(ports: 3) { Self.config(port: $0[0], extra: """
        dst_blacklist = "gw:{ (any, 127.0.0.1/32, \($0[2]), '') }"

        """) + """
        route {
            use_blacklist("all");
            if ($hdr(X-Unuse) == "yes") unuse_blacklist("gw");
            $du = "sip:127.0.0.1:\($0[2])";
            t_relay("no-auto-477");
            $var(rc) = $rc;
            if ($var(rc) < 0) t_reply(500, "relay $var(rc)");
        }
        """ }
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        var seen: [String] = []
        uac.send(RawSIP.request("MESSAGE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-bl-1", callID: "bl-1@test"), to: proxy)
        let reply = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 5", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(reply.hasPrefix("SIP/2.0 500 relay -5\r\n"), reply)
        // The callee's first request is the next call's (below): the blacklisted one never reached it.

        let req = RawSIP.request("MESSAGE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-bl-2", callID: "bl-2@test")
            .replacingOccurrences(of: "Max-Forwards: 70\r\n", with: "Max-Forwards: 70\r\nX-Unuse: yes\r\n")
        uac.send(req, to: proxy)
        let relayed = try XCTUnwrap(uas.receive(startingWith: "MESSAGE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(relayed.contains("Call-ID: bl-2@test"), relayed)
    }

    /// forward() toward a blacklisted address fails (the script answers 403 with sl); a pattern rule only blocks
    /// requests whose text matches it.
    func testStatelessForwardRefusesBlacklistedDestination() throws {
        let (sy, ports) = try startSwitchyard(ports: 3) { """
        log_level = 4
        udp_workers = 2
        socket = udp:127.0.0.1:\($0[0])
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        dst_blacklist = "words:{ (udp, 127.0.0.1, \($0[2]), '*forbidden-word*') }"
        route {
            use_blacklist("words");
            if (!forward("udp:127.0.0.1:\($0[2])")) sl_send_reply(403, "Blocked");
        }
        """ }
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        var seen: [String] = []
        uac.send(RawSIP.request("MESSAGE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-fw-1", callID: "fw-1@test",
                                body: "a forbidden-word here"), to: proxy)
        let blocked = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 403", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(blocked.contains("Call-ID: fw-1@test"), blocked)
        // Logged at debug (per message, as OpenSIPS); the callee's first request is the next call's (below).
        XCTAssertTrue(sy.waitFor("DBG:core: forward(): destination udp:127.0.0.1:\(callee) is blacklisted by 'words'"), sy.output)

        uac.send(RawSIP.request("MESSAGE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-fw-2", callID: "fw-2@test",
                                body: "harmless"), to: proxy)
        let relayed = try XCTUnwrap(uas.receive(startingWith: "MESSAGE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(relayed.contains("Call-ID: fw-2@test"), relayed)
    }

    /// A name with two addresses (from SWITCHYARD_HOSTS_FILE), the first blacklisted: forward() and t_relay both
    /// send to the second; a sipp UAS there completes the calls.
    func testBlacklistedFirstAddressFailsOverToTheNext() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let hosts = "\(workDir)/hosts"
        try "127.0.0.2 gw.switchyard.test\n127.0.0.1 gw.switchyard.test\n".write(toFile: hosts, atomically: true, encoding: .utf8)
        let uas = try startUAS(port: callee)
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        dst_blacklist = "first:{ (any, 127.0.0.2, 0, '') }"

        """) + """
        route {
            use_blacklist("first");
            $du = "sip:gw.switchyard.test:\(callee)";
            t_relay();
        }
        """, port: proxy, env: ["SWITCHYARD_HOSTS_FILE": hosts])
        let run = try runUAC("uac.xml", local: caller, target: proxy, calls: 2, timeout: 15)
        assertAllSuccessful(run, calls: 2, sy)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "BYE ", calls: 2), uas.report)
    }

    /// forward() to a name whose first address is blacklisted sends to its second address; with
    /// disable_dns_failover = 1 it fails instead.
    func testStatelessForwardFailsOverToTheNextAddress() throws {
        for disabled in [false, true] {
            let ports = LocalPorts.freePorts(3)
            let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
            let hosts = "\(workDir)/hosts-\(proxy)"
            try "127.0.0.2 gw.switchyard.test\n127.0.0.1 gw.switchyard.test\n".write(toFile: hosts, atomically: true, encoding: .utf8)
            let sy = try startSwitchyard("""
            log_level = 3
            udp_workers = 2
            socket = udp:127.0.0.1:\(proxy)
            mpath = "\(BinaryRunner.buildDirectory.path)"
            loadmodule "proto_udp.so"
            loadmodule "sl.so"
            disable_dns_failover = \(disabled ? 1 : 0)
            dst_blacklist = "first:{ (udp, 127.0.0.2, \(callee), '') }"
            route {
                use_blacklist("first");
                if (!forward("udp:gw.switchyard.test:\(callee)")) sl_send_reply(403, "Blocked");
            }
            """, port: proxy, env: ["SWITCHYARD_HOSTS_FILE": hosts])
            let uac = try RawSIP(port: caller)
            let uas = try RawSIP(port: callee)
            var seen: [String] = []
            uac.send(RawSIP.request("MESSAGE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-fo-\(proxy)",
                                    callID: "fo-\(proxy)@test"), to: proxy)
            if disabled {
                _ = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 403", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
                // Nothing follows to wait for: a short window shows no send to the second address.
                XCTAssertNil(uas.receive(timeout: 0.3), "sent to the second address with failover disabled")
            } else {
                let relayed = try XCTUnwrap(uas.receive(startingWith: "MESSAGE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
                XCTAssertTrue(relayed.contains("Call-ID: fo-\(proxy)@test"), relayed)
            }
            sy.process.terminate()
            _ = sy.wait(timeout: 5)
        }
    }
}
