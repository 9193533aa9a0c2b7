import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardTestSupport

/// DNS failover at transaction level (tm spec 7.4): a destination name with two addresses (SWITCHYARD_HOSTS_FILE:
/// 127.0.0.2 first, then 127.0.0.1), the first answering 503 or never answering. sipp peers.
final class DNSFailoverTests: TMTestCase {
    /// Writes the hosts file naming gw.switchyard.test's two addresses; returns the environment for switchyard.
    func twoAddresses() throws -> [String: String] {
        let hosts = "\(workDir)/hosts"
        try "127.0.0.2 gw.switchyard.test\n127.0.0.1 gw.switchyard.test\n".write(toFile: hosts, atomically: true, encoding: .utf8)
        return ["SWITCHYARD_HOSTS_FILE": hosts]
    }

    /// A sipp UAS on 127.0.0.2:port (the name's first address), once it is bound.
    func startUASOnSecondLoopback(_ scenario: String, port: Int) throws -> Sipp {
        let uas = try startSipp(name: "uas2-\(port)", args: ["-sf", Self.scenario(scenario), "-i", "127.0.0.2", "-p", String(port)])
        let bound = waitUntil(10) { LocalPorts.inUse(port) || !uas.process.isRunning }
        guard bound, uas.process.isRunning else { throw SetupError("sipp UAS did not start on 127.0.0.2:\(port):\n\(uas.report)") }
        return uas
    }

    func proxyConfig(_ proxy: Int, callee: Int, relay: String, extra: String = "") -> String {
        Self.config(port: proxy, extra: extra + "\n") + """
        route {
            # The dialog's ACK and BYE go straight to the callee that answered (the second address).
            if ($rm == "INVITE") $du = "sip:gw.switchyard.test:\(callee)"; else $du = "sip:127.0.0.1:\(callee)";
            t_on_failure("f");
            \(relay);
        }
        failure_route[f] {
            xlog("L_NOTICE", "failure-route-ran $T_reply_code\\n");
        }
        """
    }

    /// The first address answers 503: tm ACKs it and sends the INVITE to the second address before any failure
    /// route; the caller gets the 200 and never sees the 503.
    func testReceived503GoesToTheNextAddress() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let env = try twoAddresses()
        let first = try startUASOnSecondLoopback("uas_503.xml", port: callee)
        let second = try startUAS(port: callee)
        let sy = try startSwitchyard(proxyConfig(proxy, callee: callee, relay: "t_relay()"), port: proxy, env: env)
        let run = try runUAC("uac.xml", local: caller, target: proxy, calls: 1, timeout: 15)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertEqual(run.uac.received("SIP/2.0 503"), 0, run.uac.report)
        XCTAssertTrue(waitUntil(5) { first.received("ACK ") == 1 }, first.report)
        XCTAssertEqual(first.received("INVITE "), 1, first.report)
        XCTAssertTrue(uasCompleted(second, lastReceived: "BYE ", calls: 1), second.report)
        XCTAssertTrue(sy.waitFor("DNS failover to the next address as branch 1"), sy.output)
        // The call is over and its failover logged: a failure route would have run (and logged) by then.
        XCTAssertFalse(sy.output.contains("failure-route-ran"), sy.output)
    }

    /// t_relay("no-dns-failover"): the 503 goes to the failure route and upstream; the second address gets nothing.
    func testNoDNSFailoverFlagKeepsTheFirstAnswer() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let env = try twoAddresses()
        _ = try startUASOnSecondLoopback("uas_503.xml", port: callee)
        let second = try startUAS(port: callee)
        let sy = try startSwitchyard(proxyConfig(proxy, callee: callee, relay: "t_relay(\"no-dns-failover\")"), port: proxy, env: env)
        let run = try runUAC("uac_503.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)")
        XCTAssertTrue(waitUntil(10) { sy.output.contains("failure-route-ran 503") }, sy.output)
        XCTAssertEqual(second.received("INVITE "), 0, second.report)
    }

    /// The first address never answers: after fr_timeout the INVITE goes to the second address (a 408 with no
    /// reply at all), which answers.
    func testSilentTimeoutGoesToTheNextAddress() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let env = try twoAddresses()
        let second = try startUAS(port: callee)
        let sy = try startSwitchyard(proxyConfig(proxy, callee: callee, relay: "t_relay()", extra: """
        modparam("tm", "fr_timeout", 2)
        """), port: proxy, env: env)
        let run = try runUAC("uac.xml", local: caller, target: proxy, calls: 1, timeout: 15)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(second, lastReceived: "BYE ", calls: 1), second.report)
        XCTAssertTrue(sy.waitFor("ended 408, DNS failover"), sy.output)
        // The call is over and its failover logged: a failure route would have run (and logged) by then.
        XCTAssertFalse(sy.output.contains("failure-route-ran"), sy.output)
    }

    /// disable_dns_failover = 1: only the first address is tried; blacklisted, the caller gets 473.
    func testDisabledFailoverTriesOnlyTheFirstAddress() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let env = try twoAddresses()
        let second = try startUAS(port: callee)
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        disable_dns_failover = 1
        dst_blacklist = "first:{ (any, 127.0.0.2, 0, '') }"

        """) + """
        route {
            use_blacklist("first");
            $du = "sip:gw.switchyard.test:\(callee)";
            t_relay();
        }
        """, port: proxy, env: env)
        let run = try runUAC("uac_473.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)")
        XCTAssertEqual(second.received("INVITE "), 0, second.report)
    }

    /// disable_dns_blacklist = 0: the address that answered 503 goes into the core's `dns` list (used by default),
    /// so the next call goes straight to the second address; the first one sees a single INVITE.
    func testFailedAddressIsLearnedIntoTheDNSBlacklist() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let env = try twoAddresses()
        let first = try startUASOnSecondLoopback("uas_503.xml", port: callee)
        let second = try startUAS(port: callee)
        let sy = try startSwitchyard(proxyConfig(proxy, callee: callee, relay: "t_relay()", extra: "disable_dns_blacklist = 0"),
                                     port: proxy, env: env)
        let run = try runUAC("uac.xml", local: caller, target: proxy, calls: 3, rate: 1, timeout: 20)
        assertAllSuccessful(run, calls: 3, sy)
        XCTAssertTrue(uasCompleted(second, lastReceived: "BYE ", calls: 3), second.report)
        XCTAssertEqual(first.received("INVITE "), 1, first.report)
        // (The skip itself is logged at debug only, as OpenSIPS: one INVITE at the first address shows it.)
    }

    /// Both addresses answer 503: each gets exactly one INVITE (the clone carries no failover state back to the
    /// first address), then the failure route runs once and the caller gets the 503.
    func testBothAddresses503TriesEachOnce() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let env = try twoAddresses()
        let first = try startUASOnSecondLoopback("uas_503.xml", port: callee)
        let second = try startUAS("uas_503.xml", port: callee)
        let sy = try startSwitchyard(proxyConfig(proxy, callee: callee, relay: "t_relay()"), port: proxy, env: env)
        let run = try runUAC("uac_503.xml", local: caller, target: proxy, calls: 1, timeout: 15)
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)")
        XCTAssertTrue(waitUntil(5) { sy.output.contains("failure-route-ran 503") }, sy.output)
        XCTAssertTrue(waitUntil(5) { first.received("ACK ") == 1 && second.received("ACK ") == 1 }, first.report + second.report)
        XCTAssertEqual(first.received("INVITE "), 1, first.report)
        XCTAssertEqual(second.received("INVITE "), 1, second.report)
        XCTAssertEqual(sy.output.components(separatedBy: "DNS failover to the next address").count - 1, 1, sy.output)
        XCTAssertEqual(sy.output.components(separatedBy: "failure-route-ran").count - 1, 1, sy.output)
    }

    /// Neither address answers: one failover after the first fr_timeout, then the failure route once and a 408.
    func testBothAddressesSilentTriesEachOnce() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let env = try twoAddresses()
        let sy = try startSwitchyard(proxyConfig(proxy, callee: callee, relay: "t_relay()", extra: """
        modparam("tm", "fr_timeout", 2)
        """), port: proxy, env: env)
        let run = try runUAC("uac_408.xml", local: caller, target: proxy, calls: 1, timeout: 20)
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)")
        XCTAssertTrue(waitUntil(5) { sy.output.contains("failure-route-ran 408") }, sy.output)
        XCTAssertEqual(sy.output.components(separatedBy: "DNS failover to the next address").count - 1, 1, sy.output)
        XCTAssertEqual(sy.output.components(separatedBy: "failure-route-ran").count - 1, 1, sy.output)
    }

    /// t_relay("no-dns-failover") stays in force for the transaction: the failure route's t_relay() without the flag
    /// to another name whose first address answers 503 does not go on to that name's second address.
    func testNoDNSFailoverStaysForTheFailureRouteRelay() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let hosts = "\(workDir)/hosts"
        try "127.0.0.2 gw.switchyard.test\n127.0.0.1 gw.switchyard.test\n127.0.0.3 gw2.switchyard.test\n127.0.0.1 gw2.switchyard.test\n"
            .write(toFile: hosts, atomically: true, encoding: .utf8)
        let first = try startUASOnSecondLoopback("uas_503.xml", port: callee)
        let other = try startSipp(name: "uas3-\(callee)", args: ["-sf", Self.scenario("uas_503.xml"), "-i", "127.0.0.3", "-p", String(callee)])
        XCTAssertTrue(waitUntil(10) { LocalPorts.inUse(callee) }, other.report)  // sipp on 127.0.0.3
        let second = try startUAS(port: callee)
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            $du = "sip:gw.switchyard.test:\(callee)";
            t_on_failure("f");
            t_relay("no-dns-failover");
        }
        failure_route[f] {
            xlog("L_NOTICE", "failure $T_reply_code\\n");
            $du = "sip:gw2.switchyard.test:\(callee)";
            t_relay();
        }
        """, port: proxy, env: ["SWITCHYARD_HOSTS_FILE": hosts])
        let run = try runUAC("uac_503.xml", local: caller, target: proxy, calls: 1, timeout: 15)
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)")
        XCTAssertTrue(waitUntil(5) { first.received("ACK ") == 1 && other.received("ACK ") == 1 }, first.report + other.report)
        XCTAssertEqual(second.received("INVITE "), 0, second.report)
        // The 503 can reach the caller before the failure route's line is read from the server's output.
        XCTAssertTrue(sy.waitFor("failure 503"), sy.output)
        XCTAssertEqual(sy.output.components(separatedBy: "failure 503").count - 1, 1, sy.output)
        XCTAssertFalse(sy.output.contains("DNS failover"), sy.output)
    }

    /// t_replicate(uri, "no-dns-failover"): the replica that times out at the name's first address is not sent on
    /// to the second one; the failure route sees the 408.
    func testReplicateHonoursNoDNSFailover() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let env = try twoAddresses()
        let second = try startUAS("uas_register_404.xml", port: callee)
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        loadmodule "sl.so"
        modparam("tm", "fr_timeout", 2)

        """) + """
        route {
            t_on_failure("replica");
            t_replicate("sip:gw.switchyard.test:\(callee)", "no-dns-failover");
            sl_send_reply(200, "Saved");
        }
        failure_route[replica] {
            xlog("L_NOTICE", "replica answered $T_reply_code\\n");
        }
        """, port: proxy, env: env)
        let uac = try RawSIP(port: caller)
        uac.send(RawSIP.request("REGISTER", ruri: "sip:127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-dnsrep",
                                callID: "dnsrep@test"), to: proxy)
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200 Saved", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("replica answered 408", timeout: 10), sy.output)
        XCTAssertEqual(second.received("REGISTER "), 0, second.report)
        XCTAssertFalse(sy.output.contains("DNS failover"), sy.output)
    }

    /// Over TCP the first address refuses the connection (a failed send) and the second is blacklisted: the caller
    /// gets 473 (filtered), not 477 (send failed).
    func testFailedSendThenBlacklistedAddressAnswers473() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let env = try twoAddresses()
        let sy = try startSwitchyard(Self.config(port: proxy, proto: "tcp", extra: """
        dst_blacklist = "second:{ (any, 127.0.0.1, \(callee), '') }"

        """) + """
        route {
            use_blacklist("second");
            $du = "sip:gw.switchyard.test:\(callee);transport=tcp";
            t_relay();
        }
        """, port: proxy, tcp: true, env: env)
        let run = try runUAC("uac_473.xml", local: caller, target: proxy, calls: 1, tcp: true, timeout: 10)
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)")
        XCTAssertEqual(run.uac.received("SIP/2.0 473"), 1, run.uac.report)
    }

    /// disable_dns_blacklist = 0: a failed send to a destination with a single address is learned too; the next
    /// call to it is filtered (473) instead of tried again (477).
    func testFailedSendToASingleAddressIsLearned() throws {
        let (sy, ports) = try startSwitchyard(ports: 4, tcp: true) { Self.config(port: $0[0], proto: "tcp", extra: "disable_dns_blacklist = 0\n") + """
        route {
            $du = "sip:127.0.0.2:\($0[2]);transport=tcp";
            t_relay();
        }
        """ }
        let (proxy, caller, secondCaller) = (ports[0], ports[1], ports[3])
        let first = try runUAC("uac_477.xml", local: caller, target: proxy, calls: 1, tcp: true, timeout: 10)
        XCTAssertEqual(first.status, 0, "\(first.uac.report)\n\(sy.output)")
        let second = try runUAC("uac_473.xml", local: secondCaller, target: proxy, calls: 1, tcp: true, timeout: 10)
        XCTAssertEqual(second.status, 0, "\(second.uac.report)\n\(sy.output)")
        XCTAssertEqual(second.uac.received("SIP/2.0 473"), 1, second.uac.report)
    }

    /// disable_dns_blacklist = 0: a single-address destination that answered 503 is learned; the next call to it is
    /// filtered (473) and the callee sees one INVITE.
    func testReceived503FromASingleAddressIsLearned() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, caller, callee, secondCaller) = (ports[0], ports[1], ports[2], ports[3])
        let only = try startUASOnSecondLoopback("uas_503.xml", port: callee)
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "disable_dns_blacklist = 0\n") + """
        route {
            $du = "sip:127.0.0.2:\(callee)";
            t_relay();
        }
        """, port: proxy)
        let first = try runUAC("uac_503.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        XCTAssertEqual(first.status, 0, "\(first.uac.report)\n\(sy.output)")
        let second = try runUAC("uac_473.xml", local: secondCaller, target: proxy, calls: 1, timeout: 10)
        XCTAssertEqual(second.status, 0, "\(second.uac.report)\n\(sy.output)")
        XCTAssertEqual(only.received("INVITE "), 1, only.report)
    }
}
