import Foundation
import XCTest
import SwitchyardTestSupport

/// rr as OpenSIPS 3.6 has it: the Record-Route header (`;lr;ftag=` with append_fromtag on by default, the
/// record_route parameters, then add_rr_param's), one record_route per message, record_route_preset, and what
/// loose_route keeps of our Route for $rr_params, check_route_param and is_direction. Requests written byte for
/// byte over UDP; the forwarded ones read at a UDP peer.
final class RRTests: MsgOpsTestCase {
    /// In a dialog the request-URI is the remote target, never this proxy (that would mean a strict router before).
    static func request(_ method: String, proxy: Int, local: Int, callID: String, toTag: String = "",
                        headers: [String] = []) -> String {
        (["\(method) \(toTag.isEmpty ? "sip:bob@127.0.0.1:\(proxy)" : "sip:bob@10.0.0.9") SIP/2.0",
          "Via: SIP/2.0/UDP 127.0.0.1:\(local);branch=z9hG4bK-\(callID)",
          "From: <sip:alice@127.0.0.1:\(local)>;tag=a1",
          "To: <sip:bob@127.0.0.1:\(proxy)>\(toTag)",
          "Call-ID: \(callID)", "CSeq: 1 \(method)", "Max-Forwards: 70"] + headers + ["Content-Length: 0", "", ""])
            .joined(separator: "\r\n")
    }

    /// The first datagram `peer` gets within 5 s.
    func receive(_ peer: UDPSocket) -> String? {
        var got: String?
        waitUntil(timeout: 5, poll: 0) { got = peer.receive()?.0; return got != nil }
        return got
    }

    func testRecordRouteCarriesFromTagAndParameters() throws {
        let (sy, p) = try startSwitchyard(ports: 2) { Self.config(port: $0[0]) + """
            loadmodule "rr.so"
            route {
                add_rr_param(";nat=yes");
                $var(first) = record_route(";p=1");
                $var(second) = record_route();
                xlog("L_NOTICE", "$ci: record_route $var(first) then $var(second)\\n");
                $du = "sip:127.0.0.1:\($0[1])";
                forward();
            }
            """ }
        let callee = try UDPSocket(port: p[1]), caller = try UDPSocket()
        caller.send(Self.request("INVITE", proxy: p[0], local: caller.port, callID: "rr-1"), to: p[0])
        let out = try XCTUnwrap(receive(callee), sy.output)
        XCTAssertEqual(Self.header(out.replacingOccurrences(of: "\r\n", with: "\n"), "Record-Route"),
                       ["<sip:127.0.0.1:\(p[0]);lr;ftag=a1;p=1;nat=yes>"], out)
        // Before the proxy's own Via, as OpenSIPS writes it.
        let lines = out.components(separatedBy: "\r\n")
        XCTAssertTrue(lines.count > 2 && lines[1].hasPrefix("Record-Route:") && lines[2].hasPrefix("Via:"), out)
        XCTAssertTrue(sy.waitFor("rr-1: record_route 1 then -1"), sy.output)
        XCTAssertTrue(sy.output.contains("Double attempt to record-route"), sy.output)
    }

    func testPresetUsernameAndNoFromTag() throws {
        let (sy, p) = try startSwitchyard(ports: 2) { Self.config(port: $0[0]) + """
            loadmodule "rr.so"
            modparam("rr", "append_fromtag", 0)
            modparam("rr", "add_username", 1)
            route {
                record_route_preset("10.0.0.1:5060", "10.0.0.2:5070;transport=tcp");
                $du = "sip:127.0.0.1:\($0[1])";
                forward();
            }
            """ }
        let callee = try UDPSocket(port: p[1]), caller = try UDPSocket()
        caller.send(Self.request("INVITE", proxy: p[0], local: caller.port, callID: "rr-2"), to: p[0])
        let out = try XCTUnwrap(receive(callee), sy.output)
        let rr = Self.header(out.replacingOccurrences(of: "\r\n", with: "\n"), "Record-Route")
        // In argument order, as OpenSIPS writes them.
        XCTAssertEqual(rr, ["<sip:bob@10.0.0.1:5060;lr>", "<sip:bob@10.0.0.2:5070;transport=tcp;lr>"], out)
    }

    func testLooseRouteKeepsOurRouteParameters() throws {
        let (sy, p) = try startSwitchyard(ports: 2) { Self.config(port: $0[0]) + """
            loadmodule "rr.so"
            route {
                $var(lr) = loose_route();
                xlog("L_NOTICE", "$ci: lr=$var(lr) params=$rr_params du=$du\\n");
                if (check_route_param("nat=yes")) xlog("L_NOTICE", "$ci: nat\\n");
                if (check_route_param("^;lr")) xlog("L_NOTICE", "$ci: from the first semicolon\\n");
                if (is_direction("downstream")) xlog("L_NOTICE", "$ci: downstream\\n");
                if (is_direction("upstream")) xlog("L_NOTICE", "$ci: upstream\\n");
                exit;
            }
            """ }
        let caller = try UDPSocket()
        let me = "sip:127.0.0.1:\(p[0])"
        // From the caller (ftag is its From tag), with a next hop.
        caller.send(Self.request("BYE", proxy: p[0], local: caller.port, callID: "lr-down", toTag: ";tag=b1",
                                 headers: ["Route: <\(me);lr;ftag=a1;nat=yes>, <sip:10.0.0.9:5070;lr>"]), to: p[0])
        XCTAssertTrue(sy.waitFor("lr-down: lr=1 params=lr;ftag=a1;nat=yes du=sip:10.0.0.9:5070;lr"), sy.output)
        // From the callee: the ftag is not its From tag.
        caller.send(Self.request("BYE", proxy: p[0], local: caller.port, callID: "lr-up", toTag: ";tag=b1",
                                 headers: ["Route: <\(me);lr;ftag=zz>"]), to: p[0])
        XCTAssertTrue(sy.waitFor("lr-up: lr=1 params=lr;ftag=zz du=<null>"), sy.output)
        // No Route: nothing kept.
        caller.send(Self.request("BYE", proxy: p[0], local: caller.port, callID: "lr-none", toTag: ";tag=b1"), to: p[0])
        XCTAssertTrue(sy.waitFor("lr-none: lr=-1 params=<null>"), sy.output)
        XCTAssertTrue(sy.waitFor("lr-none: downstream"), sy.output)
        let out = sy.output
        XCTAssertEqual(Self.count(out, "lr-down: nat"), 1, out)
        XCTAssertEqual(Self.count(out, "lr-down: from the first semicolon"), 1, out)
        XCTAssertEqual(Self.count(out, "lr-down: downstream"), 1, out)
        XCTAssertEqual(Self.count(out, "lr-down: upstream"), 0, out)
        XCTAssertEqual(Self.count(out, "lr-up: upstream"), 1, out)
        XCTAssertEqual(Self.count(out, "lr-up: downstream") + Self.count(out, "lr-up: nat"), 0, out)
        XCTAssertEqual(Self.count(out, "lr-none: nat") + Self.count(out, "lr-none: upstream"), 0, out)
    }

    /// A Route port outside 1...65535 or not digits is no port (OpenSIPS's parse_uri refuses it): such a Route to our
    /// address is not ours (never "any port"), so loose_route keeps it and routes to it.
    func testLooseRouteBadPortIsNotOurs() throws {
        let (sy, p) = try startSwitchyard(ports: 2) { Self.config(port: $0[0]) + """
            loadmodule "rr.so"
            route {
                $var(lr) = loose_route();
                xlog("L_NOTICE", "$ci: lr=$var(lr) du=$du\\n");
                exit;
            }
            """ }
        let caller = try UDPSocket()
        for (i, port) in ["-1", "0", "99999", "5x"].enumerated() {
            caller.send(Self.request("BYE", proxy: p[0], local: caller.port, callID: "bad-port-\(i)", toTag: ";tag=b1",
                                     headers: ["Route: <sip:127.0.0.1:\(port);lr>"]), to: p[0])
            XCTAssertTrue(sy.waitFor("bad-port-\(i): lr=1 du=sip:127.0.0.1:\(port);lr"), sy.output)
        }
    }

    /// OpenSIPS's fixups: is_direction needs append_fromtag and a known direction; check_route_param a regex.
    func testStartupChecks() throws {
        let head = Self.config(port: LocalPorts.freePorts(1)[0]) + "loadmodule \"rr.so\"\n"
        for (extra, call, expect) in [("", "is_direction(\"sideways\")", "unknown direction 'sideways'"),
                                      ("modparam(\"rr\", \"append_fromtag\", 0)\n", "is_direction(\"upstream\")",
                                       "requires parameter \"append_fromtag\" enabled"),
                                      ("", "check_route_param(\"nat=(\")", "bad regular expression")] {
            let (status, out) = try check(head + extra + "route {\n    \(call);\n}\n")
            XCTAssertEqual(status, 1, "\(call)\n\(out)")
            XCTAssertTrue(out.contains(expect), "\(call)\n\(out)")
        }
        let (status, out) = try check(head + """
            modparam("rr", "enable_socket_mismatch_warning", 0)
            modparam("rr", "enable_double_rr", 0)
            route { if (is_direction("upstream") && check_route_param("nat=yes")) exit; record_route(); }
            """)
        XCTAssertEqual(status, 0, out)
    }

    /// Strict routers (RFC 2543): a next hop without `;lr` gets the request-URI (the old one kept as the last Route);
    /// a request-URI naming this proxy in a dialog (the previous hop was strict) is replaced by the last Route.
    func testStrictRouters() throws {
        let (sy, p) = try startSwitchyard(ports: 2) { Self.config(port: $0[0]) + """
            loadmodule "rr.so"
            route {
                $var(lr) = loose_route();
                xlog("L_NOTICE", "$ci: lr=$var(lr) ru=$ru du=$du\n");
                $du = "sip:127.0.0.1:\($0[1])";
                forward();
            }
            """ }
        let callee = try UDPSocket(port: p[1]), caller = try UDPSocket()
        let me = "sip:127.0.0.1:\(p[0])"
        func lines(_ msg: String) -> String { msg.replacingOccurrences(of: "\r\n", with: "\n") }
        // Our Route, then a strict router, then a loose one on another line.
        caller.send(Self.request("BYE", proxy: p[0], local: caller.port, callID: "sr-next", toTag: ";tag=b1",
                                 headers: ["Route: <\(me);lr;ftag=a1>, <sip:10.0.0.5:5060>", "Route: <sip:10.0.0.6;lr>"]), to: p[0])
        let next = lines(try XCTUnwrap(receive(callee), sy.output))
        XCTAssertTrue(next.hasPrefix("BYE sip:10.0.0.5:5060 SIP/2.0\n"), next)
        XCTAssertEqual(Self.header(next, "Route").joined(separator: ", "),
                       "<sip:10.0.0.6;lr>, <sip:bob@10.0.0.9>", next)
        XCTAssertTrue(sy.waitFor("sr-next: lr=1 ru=sip:10.0.0.5:5060 du=<null>"), sy.output)
        // From a strict router: the request-URI is our Record-Route URI, the last Route the remote target.
        var prev = Self.request("BYE", proxy: p[0], local: caller.port, callID: "sr-prev", toTag: ";tag=b1",
                                headers: ["Route: <sip:10.0.0.7;lr>, <sip:uas@10.0.0.8:5070>"])
        prev = prev.replacingOccurrences(of: "BYE sip:bob@10.0.0.9 SIP/2.0", with: "BYE \(me);lr;ftag=a1 SIP/2.0")
        caller.send(prev, to: p[0])
        let out = lines(try XCTUnwrap(receive(callee), sy.output))
        XCTAssertTrue(out.hasPrefix("BYE sip:uas@10.0.0.8:5070 SIP/2.0\n"), out)
        XCTAssertEqual(Self.header(out, "Route"), ["<sip:10.0.0.7;lr>"], out)
        XCTAssertTrue(sy.waitFor("sr-prev: lr=1 ru=sip:uas@10.0.0.8:5070 du=sip:10.0.0.7;lr"), sy.output)
    }
}
