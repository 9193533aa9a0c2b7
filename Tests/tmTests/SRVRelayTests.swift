import Foundation
import XCTest
import SwitchyardTestSupport

/// t_relay to a name resolved as OpenSIPS does (RFC 3263): SRV targets in priority order, the next target tried when
/// one answers 503 (tm spec 7.4), NAPTR followed to SRV. A FakeDNSServer answers, through SWITCHYARD_DNS_SERVER;
/// the targets are sipp peers on 127.0.0.1 at the ports the SRV records give.
final class SRVRelayTests: TMTestCase {
    /// `farm.test` with two SRV targets, fs1 (priority 10) and fs2 (priority 20), on 127.0.0.1 at ports a and b.
    func farm(_ a: Int, _ b: Int, srvName: String = "_sip._udp.farm.test") throws -> FakeDNSServer {
        let dns = try FakeDNSServer()
        cleanups.append { dns.stop() }
        dns.add(srvName, .srv(priority: 20, weight: 0, port: b, target: "fs2.farm.test"),
                .srv(priority: 10, weight: 0, port: a, target: "fs1.farm.test"))
        dns.add("fs1.farm.test", .a("127.0.0.1"), .aaaa("::1"))
        dns.add("fs2.farm.test", .a("127.0.0.1"), .aaaa("::1"))
        return dns
    }

    /// The INVITE goes to `farm.test` (no port, no transport); the dialog's ACK and BYE to the target that answered.
    func proxyConfig(_ proxy: Int, answering: Int, relay: String = "t_relay()", extra: String = "",
                     du: String = "sip:farm.test") -> String {
        Self.config(port: proxy, extra: extra + "\n") + """
        route {
            if ($rm == "INVITE") $du = "\(du)"; else $du = "sip:127.0.0.1:\(answering)";
            t_on_failure("f");
            \(relay);
        }
        failure_route[f] {
            xlog("L_NOTICE", "failure-route-ran $T_reply_code\\n");
        }
        """
    }

    /// dns_try_naptr = 0: SRV _sip._udp straight away; the priority-10 target gets the call; no AAAA is ever asked
    /// (dns_try_ipv6 = 0, the default) and no NAPTR.
    func testRelayToSRVNameReachesThePriorityFirstTarget() throws {
        let p = LocalPorts.freePorts(4)
        let (proxy, caller, a, b) = (p[0], p[1], p[2], p[3])
        let dns = try farm(a, b)
        let first = try startUAS(port: a)
        let second = try startUAS(port: b)
        let sy = try startSwitchyard(proxyConfig(proxy, answering: a, extra: "dns_try_naptr = 0"), port: proxy,
                                     env: ["SWITCHYARD_DNS_SERVER": dns.address])
        let run = try runUAC("uac.xml", local: caller, target: proxy, calls: 1, timeout: 15)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(first, lastReceived: "BYE ", calls: 1), first.report)
        XCTAssertEqual(second.received("INVITE "), 0, second.report)
        XCTAssertEqual(dns.asked("_sip._udp.farm.test", type: FakeDNSServer.typeSRV), 1, "\(dns.questions)")
        XCTAssertEqual(dns.questions.filter { $0.type == FakeDNSServer.typeAAAA }, [])
        XCTAssertEqual(dns.questions.filter { $0.type == FakeDNSServer.typeNAPTR }, [])
    }

    /// `;maddr=` names the next hop, as OpenSIPS's tm (uri2proxy): the URI's host (a name DNS does not know) is never
    /// asked, the maddr name is resolved as a destination (no port: SRV) and the priority-10 target gets the call.
    func testMaddrIsTheNextHop() throws {
        let p = LocalPorts.freePorts(4)
        let (proxy, caller, a, b) = (p[0], p[1], p[2], p[3])
        let dns = try farm(a, b)
        let first = try startUAS(port: a)
        let second = try startUAS(port: b)
        let sy = try startSwitchyard(proxyConfig(proxy, answering: a, extra: "dns_try_naptr = 0",
                                                 du: "sip:nowhere.test;maddr=farm.test"),
                                     port: proxy, env: ["SWITCHYARD_DNS_SERVER": dns.address])
        let run = try runUAC("uac.xml", local: caller, target: proxy, calls: 1, timeout: 15)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(first, lastReceived: "BYE ", calls: 1), first.report)
        XCTAssertEqual(second.received("INVITE "), 0, second.report)
        XCTAssertEqual(dns.asked("_sip._udp.farm.test", type: FakeDNSServer.typeSRV), 1, "\(dns.questions)")
        XCTAssertEqual(dns.questions.filter { $0.name.contains("nowhere") }, [], "\(dns.questions)")
    }

    /// The priority-10 target answers 503: tm ACKs it and sends the INVITE to the priority-20 target before any
    /// failure route; the caller gets the 200 and never sees the 503.
    func testSRVTarget503FailsOverToTheNextTarget() throws {
        let p = LocalPorts.freePorts(4)
        let (proxy, caller, a, b) = (p[0], p[1], p[2], p[3])
        let dns = try farm(a, b)
        let first = try startUAS("uas_503.xml", port: a)
        let second = try startUAS(port: b)
        let sy = try startSwitchyard(proxyConfig(proxy, answering: b), port: proxy, env: ["SWITCHYARD_DNS_SERVER": dns.address])
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

    /// The priority-10 target never answers: after fr_timeout the INVITE goes to the priority-20 target (a 408 with
    /// no reply at all), which answers; no failure route.
    func testSilentSRVTargetFailsOverToTheNextTarget() throws {
        let p = LocalPorts.freePorts(4)
        let (proxy, caller, a, b) = (p[0], p[1], p[2], p[3])
        let dns = try farm(a, b)
        let second = try startUAS(port: b)
        let sy = try startSwitchyard(proxyConfig(proxy, answering: b, extra: """
        modparam("tm", "fr_timeout", 2)
        """), port: proxy, env: ["SWITCHYARD_DNS_SERVER": dns.address])
        let run = try runUAC("uac.xml", local: caller, target: proxy, calls: 1, timeout: 15)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(second, lastReceived: "BYE ", calls: 1), second.report)
        XCTAssertTrue(sy.waitFor("ended 408, DNS failover"), sy.output)
        // The call is over and its failover logged: a failure route would have run (and logged) by then.
        XCTAssertFalse(sy.output.contains("failure-route-ran"), sy.output)
    }

    /// t_relay("no-dns-failover"): the 503 of the first target goes to the failure route and upstream; the second
    /// target gets nothing.
    func testNoDNSFailoverStopsAtTheFirstTarget() throws {
        let p = LocalPorts.freePorts(4)
        let (proxy, caller, a, b) = (p[0], p[1], p[2], p[3])
        let dns = try farm(a, b)
        _ = try startUAS("uas_503.xml", port: a)
        let second = try startUAS(port: b)
        let sy = try startSwitchyard(proxyConfig(proxy, answering: b, relay: "t_relay(\"no-dns-failover\")"), port: proxy,
                                     env: ["SWITCHYARD_DNS_SERVER": dns.address])
        let run = try runUAC("uac_503.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)")
        XCTAssertTrue(waitUntil(10) { sy.output.contains("failure-route-ran 503") }, sy.output)
        XCTAssertEqual(second.received("INVITE "), 0, second.report)
    }

    /// A forced TCP socket and a destination naming no transport: the name is looked up SRV `_sip._tcp` (the forced
    /// socket's transport; no NAPTR, no `_sip._udp`), and the INVITE reaches the target over TCP.
    func testForcedSocketTransportPicksTheSRVName() throws {
        let p = LocalPorts.freePorts(5)
        let (proxy, proxyTCP, caller, a, b) = (p[0], p[1], p[2], p[3], p[4])
        let dns = try farm(a, b, srvName: "_sip._tcp.farm.test")
        let first = try startUAS(port: a, tcp: true)
        _ = try startSwitchyard(proxyConfig(proxy, answering: a, relay: """
            if ($rm == "INVITE") force_send_socket("tcp:127.0.0.1:\(proxyTCP)");
                t_relay()
            """, extra: """
            socket = tcp:127.0.0.1:\(proxyTCP)
            loadmodule "proto_tcp.so"
            """), port: proxy, env: ["SWITCHYARD_DNS_SERVER": dns.address])
        _ = try runUAC("uac.xml", local: caller, target: proxy, calls: 1, timeout: 5)
        XCTAssertTrue(waitUntil(5) { first.received("INVITE ") == 1 }, first.report)
        XCTAssertEqual(dns.asked("_sip._tcp.farm.test", type: FakeDNSServer.typeSRV), 1, "\(dns.questions)")
        XCTAssertEqual(dns.asked("_sip._udp.farm.test", type: FakeDNSServer.typeSRV), 0, "\(dns.questions)")
        XCTAssertEqual(dns.questions.filter { $0.type == FakeDNSServer.typeNAPTR }, [])
    }

    /// dns_try_naptr = 1 (the default): `farm.test`'s NAPTR record (SIP+D2U) names `_sip._udp.pool.test`, whose SRV
    /// target gets the call; farm.test itself has no SRV or A record.
    func testNAPTRLeadsToSRV() throws {
        let p = LocalPorts.freePorts(4)
        let (proxy, caller, a, b) = (p[0], p[1], p[2], p[3])
        let dns = try farm(a, b, srvName: "_sip._udp.pool.test")
        dns.add("farm.test", .naptr(order: 10, preference: 10, flags: "s", services: "SIP+D2T", regexp: "", replacement: "_sip._tcp.none.test"),
                .naptr(order: 5, preference: 10, flags: "s", services: "SIP+D2U", regexp: "", replacement: "_sip._udp.pool.test"))
        let first = try startUAS(port: a)
        let sy = try startSwitchyard(proxyConfig(proxy, answering: a), port: proxy, env: ["SWITCHYARD_DNS_SERVER": dns.address])
        let run = try runUAC("uac.xml", local: caller, target: proxy, calls: 1, timeout: 15)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(first, lastReceived: "BYE ", calls: 1), first.report)
        XCTAssertEqual(dns.asked("farm.test", type: FakeDNSServer.typeNAPTR), 1, "\(dns.questions)")
        XCTAssertEqual(dns.asked("_sip._udp.pool.test", type: FakeDNSServer.typeSRV), 1, "\(dns.questions)")
        XCTAssertEqual(dns.asked("_sip._udp.farm.test", type: FakeDNSServer.typeSRV), 0, "\(dns.questions)")
    }
}
