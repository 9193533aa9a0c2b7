import Foundation
import XCTest
import SwitchyardTestSupport

/// force_rport(), add_local_rport(), set_advertised_address() / set_advertised_port() and is_myself() on real calls:
/// sipp UAC -> switchyard (stateless forward) -> sipp UAS, the scenarios checking the Via headers they receive
/// (uac_rport_check.xml, uas_via_check.xml: a Via without what is expected fails the call).
final class SIPViaHandlingTests: SippTestCase {
    override class var workDirPrefix: String { "sy-via" }

    private func config(proxy: Int, uas: Int, via: String) -> String {
        """
        log_level = 3
        udp_workers = 2
        socket = udp:127.0.0.1:\(proxy)
        alias = udp:sip.example.com:5099
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "proto_udp.so"
        route {
            if ($rm == "INVITE") {
                if (is_myself("127.0.0.1", \(proxy)) && is_myself("127.0.0.1") && !is_myself("127.0.0.1", 1))
                    xlog("L_NOTICE", "myself: socket\\n");
                if (is_myself("sip.example.com") && is_myself("SIP.example.com", 5099) && !is_myself("sip.example.com", 5060))
                    xlog("L_NOTICE", "myself: alias\\n");
            }
            \(via)
            $du = "sip:127.0.0.1:\(uas)";
            forward();
        }
        """
    }

    /// The UAS gets our Via advertising sip.example.com:5099 with `;rport`, and the caller's Via with received= and
    /// rport=; the UAC gets its Via back with both in the 200 (relayed: the alias makes the advertised Via ours).
    func testViaHandlingOnTheWire() throws {
        let (sy, ports) = try startSwitchyard(ports: 3) { config(proxy: $0[0], uas: $0[1], via: """
            force_rport();
            add_local_rport();
            set_advertised_address("sip.example.com");
            set_advertised_port("5099");
        """) }
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let uas = try startUAS("uas_via_check.xml", port: uasPort)
        let run = try runUAC("uac_rport_check.xml", local: uacPort, target: proxy, calls: 3)
        assertAllSuccessful(run, calls: 3, sy)
        XCTAssertEqual(uas.received("INVITE "), 3, uas.report)
        XCTAssertNotNil(uas.trace.range(of: #"Via: SIP/2\.0/UDP sip\.example\.com:5099;branch=z9hG4bK[^;\r]+;rport\r"#,
                                        options: .regularExpression), uas.report)
        XCTAssertTrue(sy.waitFor("myself: socket", timeout: 10), sy.output)
        XCTAssertTrue(sy.waitFor("myself: alias", timeout: 10), sy.output)
    }

    /// The same scenarios without the functions: the UAS's Via checks fail, so no call completes (the checks bite).
    func testChecksFailWithoutTheFunctions() throws {
        let (sy, ports) = try startSwitchyard(ports: 3) { config(proxy: $0[0], uas: $0[1], via: "") }
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let uas = try startUAS("uas_via_check.xml", port: uasPort)
        let run = try runUAC("uac_rport_check.xml", local: uacPort, target: proxy, calls: 1, recvTimeout: 3, timeout: 6)
        XCTAssertEqual(run.uac.stat("SuccessfulCall(C)") ?? 0, 0, run.uac.report)
        XCTAssertGreaterThanOrEqual(uas.received("INVITE "), 1, uas.report)
        XCTAssertTrue(uas.trace.contains("Via: SIP/2.0/UDP 127.0.0.1:\(proxy);branch=z9hG4bK"), uas.report)
        XCTAssertTrue(sy.process.isRunning, sy.output)
    }

    /// send(): the INVITE as received, with the given header after the request line, reaches a third peer while the
    /// call goes on through forward().
    func testSendCopiesTheReceivedRequest() throws {
        let copy = try UDPSocket()
        let (sy, ports) = try startSwitchyard(ports: 3) { config(proxy: $0[0], uas: $0[1], via: """
            if ($rm == "INVITE" && !send("udp:127.0.0.1:\(copy.port)", "X-Copy: yes\\r\\n")) xlog("L_ERR", "send failed\\n");
        """) }
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        _ = try startUAS("uas.xml", port: uasPort)
        let run = try runUAC("uac.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        var got: String? = nil
        let end = Date().addingTimeInterval(3)
        while got == nil && Date() < end { got = copy.receive()?.0 }
        let text = try XCTUnwrap(got, sy.output)
        let lines = text.components(separatedBy: "\r\n")
        XCTAssertTrue(lines[0].hasPrefix("INVITE sip:1000@127.0.0.1:\(proxy) SIP/2.0"), text)
        XCTAssertEqual(lines[1], "X-Copy: yes", text)
        let vias = lines.filter { $0.hasPrefix("Via:") }
        XCTAssertEqual(vias.count, 1, "no Via of ours\n\(text)")
        XCTAssertTrue(vias.first?.hasPrefix("Via: SIP/2.0/UDP 127.0.0.1:\(uacPort);branch=") == true, text)
        XCTAssertFalse(sy.output.contains("send failed"), sy.output)
    }
}
