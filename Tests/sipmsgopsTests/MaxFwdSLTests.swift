import Foundation
import XCTest
import SwitchyardTestSupport

/// maxfwd and sl as OpenSIPS 3.6: max_limit 256 by default (1..256), the literal max_value checked at startup
/// (1..256, not above max_limit), an added Max-Forwards first among the headers; sl_send_reply's literal code
/// checked at startup and enable_stats accepted; append_time's Date header in the replies.
final class MaxFwdSLTests: MsgOpsTestCase {
    func receive(_ peer: UDPSocket) -> String? {
        var got: String?
        waitUntil(timeout: 5, poll: 0) { got = peer.receive()?.0; return got != nil }
        return got
    }

    func testMaxForwardsDefaultsAndAddedHeader() throws {
        let (sy, p) = try startSwitchyard(ports: 2) { Self.config(port: $0[0]) + """
            loadmodule "maxfwd.so"
            route {
                $var(rc) = mf_process_maxfwd_header(10);
                xlog("L_NOTICE", "$ci: mf=$var(rc)\\n");
                append_time();
                $du = "sip:127.0.0.1:\($0[1])";
                forward();
            }
            """ }
        let callee = try UDPSocket(port: p[1]), caller = try UDPSocket()
        for (id, mf) in [("mf-200", ["Max-Forwards: 200"]), ("mf-10", ["Max-Forwards: 10"]), ("mf-none", [])] {
            let lines = ["OPTIONS sip:bob@127.0.0.1:\(p[0]) SIP/2.0",
                         "Via: SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-\(id)",
                         "From: <sip:a@127.0.0.1>;tag=a1", "To: <sip:b@127.0.0.1>", "Call-ID: \(id)",
                         "CSeq: 1 OPTIONS"] + mf + ["Content-Length: 0", "", ""]
            caller.send(lines.joined(separator: "\r\n"), to: p[0])
            let out = try XCTUnwrap(receive(callee), sy.output).replacingOccurrences(of: "\r\n", with: "\n")
            let headers = out.components(separatedBy: "\n")
            if id == "mf-10" {
                // Rewritten in the characters the received value took, as OpenSIPS does in place: "10" -> " 9".
                XCTAssertTrue(headers.contains("Max-Forwards:  9"), out)
                XCTAssertTrue(sy.waitFor("mf-10: mf=1"), sy.output)
            } else if id == "mf-200" {
                // Below the default max_limit (256): only decremented.
                XCTAssertEqual(Self.header(out, "Max-Forwards"), ["199"], out)
                XCTAssertTrue(sy.waitFor("mf-200: mf=1"), sy.output)
            } else {
                XCTAssertEqual(Self.header(out, "Max-Forwards"), ["10"], out)
                XCTAssertTrue(sy.waitFor("mf-none: mf=2"), sy.output)
                // Added first among the headers, before the received ones.
                let mfAt = try XCTUnwrap(headers.firstIndex { $0.hasPrefix("Max-Forwards:") })
                let fromAt = try XCTUnwrap(headers.firstIndex { $0.hasPrefix("From:") })
                XCTAssertLessThan(mfAt, fromAt, out)
            }
            // append_time's Date is for the replies, not for the request sent on.
            XCTAssertEqual(Self.header(out, "Date"), [], out)
        }
    }

    /// append_time: "Date: Mon, 07 Dec 2026 18:20:01 GMT" in the proxy's own reply (OpenSIPS adds it as a reply lump).
    func testAppendTimeGoesIntoTheReply() throws {
        let (sy, p) = try startSwitchyard(ports: 1) { Self.config(port: $0[0]) + """
            loadmodule "sl.so"
            route { append_time(); sl_send_reply(404, "Not Here"); }
            """ }
        let caller = try UDPSocket()
        caller.send(["OPTIONS sip:bob@127.0.0.1:\(p[0]) SIP/2.0",
                     "Via: SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-at1",
                     "From: <sip:a@127.0.0.1>;tag=a1", "To: <sip:b@127.0.0.1>", "Call-ID: at-1", "CSeq: 1 OPTIONS",
                     "Max-Forwards: 70", "Content-Length: 0", "", ""].joined(separator: "\r\n"), to: p[0])
        let reply = try XCTUnwrap(receive(caller), sy.output).replacingOccurrences(of: "\r\n", with: "\n")
        XCTAssertTrue(reply.hasPrefix("SIP/2.0 404 Not Here"), reply)
        let date = try XCTUnwrap(Self.header(reply, "Date").first, reply)
        XCTAssertNotNil(date.range(of: #"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$"#,
                                   options: .regularExpression), date)
    }

    func testStartupChecks() throws {
        let head = Self.config(port: LocalPorts.freePorts(1)[0]) + "loadmodule \"maxfwd.so\"\nloadmodule \"sl.so\"\n"
        for (extra, call, expect) in [("", "mf_process_maxfwd_header(0)", "invalid MAXFWD number <0> [1,256]"),
                                      ("", "mf_process_maxfwd_header(300)", "invalid MAXFWD number <300> [1,256]"),
                                      ("modparam(\"maxfwd\", \"max_limit\", 16)\n", "mf_process_maxfwd_header(20)",
                                       "default value <20> bigger than max limit(16)"),
                                      ("modparam(\"maxfwd\", \"max_limit\", 0)\n", "exit", "invalid max limit (0) [1,256]"),
                                      ("", "sl_send_reply(99, \"Bad\")", "wrong code: 99, allowed values: 1xx - 6xx only!")] {
            let (status, out) = try check(head + extra + "route {\n    \(call);\n}\n")
            XCTAssertEqual(status, 1, "\(call)\n\(out)")
            XCTAssertTrue(out.contains(expect), "\(call)\n\(out)")
        }
        let (status, out) = try check(head + """
            modparam("maxfwd", "max_limit", 256)
            modparam("sl", "enable_stats", 0)
            route { if (!mf_process_maxfwd_header(256)) { sl_send_reply(483, "Too Many Hops"); exit; } append_time(); }
            """)
        XCTAssertEqual(status, 0, out)
    }
}

/// sl's replies as OpenSIPS's: an ACK is not answered but the call returns 1; a 3xx lists the destination set
/// (a changed request-URI, then the appended branches, with their q values) as its Contact — sl_send_reply and
/// send_reply without a transaction alike.
final class SLReplyTests: MsgOpsTestCase {
    func receive(_ peer: UDPSocket) -> String? {
        var got: String?
        waitUntil(timeout: 5, poll: 0) { got = peer.receive()?.0; return got != nil }
        return got
    }

    func testRedirectContactAndACK() throws {
        let (sy, p) = try startSwitchyard(ports: 1) { Self.config(port: $0[0]) + """
            loadmodule "sl.so"
            loadmodule "signaling.so"
            route {
                if (is_method("ACK")) {
                    sl_send_reply(404, "Not Here"); xlog("L_NOTICE", "$ci: sl=$rc\\n");
                    send_reply(404, "Not Here"); xlog("L_NOTICE", "$ci: send=$rc\\n");
                    exit;
                }
                $ru = "sip:alice@10.0.0.1";
                append_branch("sip:bob@10.0.0.2", "0.5");
                append_branch("sip:carol@10.0.0.3");
                if ($hdr(X-Fn) == "send") send_reply(302, "Moved"); else sl_send_reply(302, "Moved");
            }
            """ }
        let caller = try UDPSocket()
        func request(_ method: String, _ id: String, _ extra: [String] = []) -> String {
            (["\(method) sip:x@127.0.0.1:\(p[0]) SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-\(id)",
              "From: <sip:a@127.0.0.1>;tag=a1", "To: <sip:x@127.0.0.1>", "Call-ID: \(id)", "CSeq: 1 \(method)",
              "Max-Forwards: 70"] + extra + ["Content-Length: 0", "", ""]).joined(separator: "\r\n")
        }
        for (id, extra) in [("redir-sl", [String]()), ("redir-send", ["X-Fn: send"])] {
            caller.send(request("INVITE", id, extra), to: p[0])
            let reply = try XCTUnwrap(receive(caller), sy.output).replacingOccurrences(of: "\r\n", with: "\n")
            XCTAssertTrue(reply.hasPrefix("SIP/2.0 302 Moved"), reply)
            XCTAssertEqual(Self.header(reply, "Contact"),
                           ["<sip:alice@10.0.0.1>, <sip:bob@10.0.0.2>;q=0.5, <sip:carol@10.0.0.3>"], "\(id)\n\(reply)")
        }
        caller.send(request("ACK", "ack-1"), to: p[0])
        XCTAssertTrue(sy.waitFor("ack-1: send=1"), sy.output)
        XCTAssertTrue(sy.output.contains("ack-1: sl=1"), sy.output)
        // Both calls ran before the line above was logged: a reply would already be waiting.
        XCTAssertNil(caller.receive(), "an ACK is never answered")
    }

    /// sl_reply_error answers as OpenSIPS does when no action left an error code behind.
    func testReplyError() throws {
        let (sy, p) = try startSwitchyard(ports: 1) { Self.config(port: $0[0]) + """
            loadmodule "sl.so"
            route { sl_reply_error(); }
            """ }
        let caller = try UDPSocket()
        caller.send(["OPTIONS sip:x@127.0.0.1:\(p[0]) SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-re1",
                     "From: <sip:a@127.0.0.1>;tag=a1", "To: <sip:x@127.0.0.1>", "Call-ID: re-1", "CSeq: 1 OPTIONS",
                     "Max-Forwards: 70", "Content-Length: 0", "", ""].joined(separator: "\r\n"), to: p[0])
        let reply = try XCTUnwrap(receive(caller), sy.output)
        XCTAssertTrue(reply.hasPrefix("SIP/2.0 500 I'm terribly sorry, server error occurred (1/SL)\r\n"), reply)
    }
}
