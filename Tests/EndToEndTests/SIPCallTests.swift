import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardTestSupport

/// Real SIP calls through the real `switchyard` binary: sipp UAC -> switchyard (stateless) -> sipp UAS, with the
/// scenarios of Tests/SIP (uac.xml, uas.xml, uac_404.xml, uac_483.xml). Routing by a static `$du` + `forward()`
/// and by drouting (SQLite); malformed datagrams; Max-Forwards exhaustion. Skipped when `sipp` is not on PATH
/// (Debian/Ubuntu package `sip-tester`).
final class SIPCallTests: SippTestCase {
    static let repoRoot: URL = Repo.root
    override class var workDirPrefix: String { "sy-sip" }
    override class var tracesMessages: Bool { false }

    private var usedPorts: Set<Int> = []

    /// A free UDP port not handed out before in this test.
    func newPort() -> Int {
        let p = Self.freeUDPPort(avoid: usedPorts)
        usedPorts.insert(p)
        return p
    }

    // MARK: - UDP helpers

    /// A UDP port on 127.0.0.1 that was free a moment ago, not in `avoid`.
    static func freeUDPPort(avoid: Set<Int> = []) -> Int { LocalPorts.freeUDPPort(avoid: avoid) }

    static func loopback(port: Int) -> sockaddr_in { LocalPorts.loopback(port: port) }

    /// True when something is bound to UDP 127.0.0.1:port (our own bind fails with EADDRINUSE).
    static func udpPortInUse(_ port: Int) -> Bool { LocalPorts.inUse(port) }

    static func waitForUDPPort(_ port: Int, timeout: TimeInterval = 10, while alive: () -> Bool) -> Bool {
        LocalPorts.waitFor(port, timeout: timeout, while: alive)
    }

    /// An unconnected UDP socket bound to 127.0.0.1 (an ephemeral port unless given).
    final class UDPClient {
        private(set) var fd: Int32
        init(port: Int = 0) throws {
            fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw NSError(domain: "socket", code: Int(errno)) }
            var addr = SIPCallTests.loopback(port: port)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else { close(fd); throw NSError(domain: "bind", code: Int(errno)) }
        }
        deinit { closeSocket() }
        func closeSocket() { if fd >= 0 { close(fd); fd = -1 } }

        var localPort: Int {
            var addr = sockaddr_in()
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            }
            return Int(UInt16(bigEndian: addr.sin_port))
        }

        @discardableResult
        func send(_ bytes: [UInt8], to port: Int) -> Bool {
            var addr = SIPCallTests.loopback(port: port)
            let n = withUnsafePointer(to: &addr) { a in
                a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            return n == bytes.count
        }

        /// Datagrams received until `timeout` passes without one (or `until` matches one).
        func receive(timeout: TimeInterval, until: ((String) -> Bool)? = nil) -> [String] {
            var out: [String] = []
            var buf = [UInt8](repeating: 0, count: 65536)
            let end = Date().addingTimeInterval(timeout)
            while Date() < end {
                var tv = timeval(tv_sec: 0, tv_usec: 100_000)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                let n = recv(fd, &buf, buf.count, 0)
                if n > 0 {
                    let s = String(decoding: buf[0..<n], as: UTF8.self)
                    out.append(s)
                    if let until, until(s) { break }
                }
            }
            return out
        }
    }

    // MARK: - processes

    /// A sipp UAC run to its end from a port of its own: `calls` calls to `number` through 127.0.0.1:`target`.
    func runUAC(_ scenario: String, number: String, target: Int, calls: Int, rate: Int = 50,
                timeout: TimeInterval = 30) throws -> SippRun {
        try runUAC(scenario, number: number, local: newPort(), target: target, calls: calls, rate: rate, recvTimeout: 5,
                   timeout: timeout)
    }

    /// The static forwarding config: Max-Forwards check, then `$du` + `forward()` to the UAS.
    static func staticConfig(proxyPort: Int, uasPort: Int) -> String {
        """
        log_level = 2
        udp_workers = 2
        socket = udp:127.0.0.1:\(proxyPort)
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "maxfwd.so"
        route {
            if (!mf_process_maxfwd_header(10)) {
                sl_send_reply(483, "Too Many Hops");
                exit;
            }
            $du = "sip:127.0.0.1:\(uasPort)";
            forward();
        }
        """
    }

    // MARK: - tests

    /// (i) 20 INVITE/200/ACK/BYE/200 calls relayed statelessly by `$du` + `forward()`.
    func testCallsThroughStaticForward() throws {
        let uasPort = newPort()
        let proxyPort = newPort()
        let sy = try startSwitchyard(Self.staticConfig(proxyPort: proxyPort, uasPort: uasPort), port: proxyPort)
        let uas = try startUAS(port: uasPort)
        let run = try runUAC("uac.xml", number: "1000", target: proxyPort, calls: 20)
        assertAllSuccessful(run, calls: 20, sy)
        XCTAssertTrue(uas.process.isRunning, uas.report)
    }

    /// (ii) drouting picks the gateway: numbers starting with 1 reach the UAS, others get 404 from the script.
    func testCallsRoutedByDrouting() throws {
        let uasPort = newPort()
        let proxyPort = newPort()
        let db = "\(workDir)/dr.db"  // does not exist: db_sqlite creates it and runs the init_sql files
        let provision = "\(workDir)/provision.sql"
        try """
        INSERT INTO dr_gateways (gwid, type, address, strip, probe_mode, state) VALUES ('uas', 0, '127.0.0.1:\(uasPort)', 0, 0, 0);
        INSERT INTO dr_rules (groupid, prefix, priority, gwlist, sort_alg) VALUES ('0', '1', 0, 'uas', 'N');

        """.write(toFile: provision, atomically: true, encoding: .utf8)
        let schema = Self.repoRoot.appendingPathComponent("Plugins/drouting/schema/sqlite.sql").path
        let sy = try startSwitchyard("""
        log_level = 2
        udp_workers = 2
        socket = udp:127.0.0.1:\(proxyPort)
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "maxfwd.so"
        loadmodule "db_sqlite.so"
        loadmodule "drouting.so"
        modparam("db_sqlite", "init_sql", "\(schema)")
        modparam("db_sqlite", "init_sql", "\(provision)")
        modparam("drouting", "db_url", "sqlite://\(db)")
        route {
            if (!mf_process_maxfwd_header(10)) {
                sl_send_reply(483, "Too Many Hops");
                exit;
            }
            if (!do_routing(0)) {
                sl_send_reply(404, "Not Found");
                exit;
            }
            forward();
        }
        """, port: proxyPort)
        _ = try startUAS(port: uasPort)

        // 1000 matches prefix "1": do_routing rewrites the R-URI to sip:1000@127.0.0.1:<uas>, forward() follows it.
        let ok = try runUAC("uac.xml", number: "1000", target: proxyPort, calls: 20)
        assertAllSuccessful(ok, calls: 20, sy)

        // 2000 matches no rule: the script answers 404 (the UAC ACKs it; the ACK must not upset the server).
        let rejected = try runUAC("uac_404.xml", number: "2000", target: proxyPort, calls: 3, rate: 10)
        assertAllSuccessful(rejected, calls: 3, sy)

        // And routing still works afterwards.
        let again = try runUAC("uac.xml", number: "1234", target: proxyPort, calls: 5)
        assertAllSuccessful(again, calls: 5, sy)
    }

    /// (iii) Malformed datagrams (garbage, missing headers, wrong Content-Length, ...) do not kill the server,
    /// and a normal call goes through afterwards.
    func testMalformedDatagramsDoNotKillTheServer() throws {
        let uasPort = newPort()
        let proxyPort = newPort()
        let sy = try startSwitchyard(Self.staticConfig(proxyPort: proxyPort, uasPort: uasPort), port: proxyPort)
        // A plain socket on the UAS port absorbs whatever the proxy relays (sipp would try to answer it).
        let catcher = try UDPClient(port: uasPort)
        let client = try UDPClient()
        let messages = Self.malformedMessages(proxyPort: proxyPort)
        var sent = 0
        for (name, bytes) in messages {
            if client.send(bytes, to: proxyPort) { sent += 1 } else { XCTFail("could not send '\(name)' (\(bytes.count) bytes)") }
            usleep(2_000)  // paced like a slow peer, so no datagram is lost to a full socket buffer before it is read
        }
        XCTAssertEqual(sent, messages.count)
        _ = client.receive(timeout: 1)  // whatever comes back (400s, nothing): the server just has to live
        let relayed = catcher.receive(timeout: 0.2)
        catcher.closeSocket()
        XCTAssertTrue(sy.process.isRunning, "switchyard died on malformed input:\n\(sy.output)")
        for r in relayed {
            // Anything relayed must at least carry the proxy's Via on top.
            let lines = r.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" })
            let firstVia = lines.first { $0.lowercased().hasPrefix("via:") || $0.lowercased().hasPrefix("v:") }
            XCTAssertTrue(firstVia?.contains("127.0.0.1:\(proxyPort)") ?? false, "relayed without the proxy's Via on top:\n\(r.prefix(600))")
        }

        let uas = try startUAS(port: uasPort)
        let run = try runUAC("uac.xml", number: "1000", target: proxyPort, calls: 5)
        assertAllSuccessful(run, calls: 5, sy)
        XCTAssertTrue(uas.process.isRunning, uas.report)
    }

    /// (iv) Max-Forwards: 0 gets 483 from `sl_send_reply` and is not forwarded.
    func testMaxForwardsZeroGets483() throws {
        let uasPort = newPort()
        let proxyPort = newPort()
        let sy = try startSwitchyard(Self.staticConfig(proxyPort: proxyPort, uasPort: uasPort), port: proxyPort)

        // Raw: an OPTIONS with Max-Forwards: 0; the 483 comes back to the sender's port with its Via, Call-ID, CSeq.
        // Nothing listens on the UAS port here: a forwarded request would simply be lost.
        let client = try UDPClient()
        let callID = "mf0-\(UUID().uuidString)@test"
        let branch = "z9hG4bK-mf0-\(UInt32.random(in: 1...UInt32.max))"
        let request = """
        OPTIONS sip:1000@127.0.0.1:\(proxyPort) SIP/2.0\r
        Via: SIP/2.0/UDP 127.0.0.1:\(client.localPort);branch=\(branch)\r
        From: <sip:test@127.0.0.1:\(client.localPort)>;tag=mf0\r
        To: <sip:1000@127.0.0.1:\(proxyPort)>\r
        Call-ID: \(callID)\r
        CSeq: 7 OPTIONS\r
        Max-Forwards: 0\r
        Content-Length: 0\r
        \r

        """
        XCTAssertTrue(client.send(Array(request.utf8), to: proxyPort))
        let replies = client.receive(timeout: 5) { $0.hasPrefix("SIP/2.0 483") }
        let reply = replies.first { $0.hasPrefix("SIP/2.0 ") } ?? ""
        XCTAssertTrue(reply.hasPrefix("SIP/2.0 483 Too Many Hops\r\n"), "got \(replies)\n--- switchyard:\n\(sy.output)")
        XCTAssertTrue(reply.contains(branch), reply)
        XCTAssertTrue(reply.contains(callID), reply)
        XCTAssertTrue(reply.range(of: "CSeq: *7 OPTIONS", options: [.regularExpression, .caseInsensitive]) != nil, reply)

        // The same through sipp, as an INVITE (483, then the ACK for it).
        let run = try runUAC("uac_483.xml", number: "1000", target: proxyPort, calls: 1, rate: 10)
        assertAllSuccessful(run, calls: 1, sy)

        // The same proxy still relays an ordinary call (Max-Forwards: 70).
        _ = try startUAS(port: uasPort)
        let ok = try runUAC("uac.xml", number: "1000", target: proxyPort, calls: 2)
        assertAllSuccessful(ok, calls: 2, sy)
    }

    // MARK: - malformed input

    /// Garbage, truncated and contradictory SIP (the same set as Tests/SIP/send_malformed.py).
    static func malformedMessages(proxyPort: Int) -> [(String, [UInt8])] {
        let me = "127.0.0.1:\(proxyPort)"
        let base = [
            "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-x",
            "From: <sip:bad@127.0.0.1>;tag=bad",
            "To: <sip:1000@\(me)>",
            "Call-ID: malformed@test",
            "CSeq: 1 OPTIONS",
            "Max-Forwards: 70",
        ]
        func without(_ name: String) -> [String] { base.filter { !$0.hasPrefix(name + ":") } }
        func req(_ method: String = "OPTIONS", ruri: String? = nil, headers: [String]? = nil, body: String = "",
                 contentLength: String? = nil) -> [UInt8] {
            let lines = ["\(method) \(ruri ?? "sip:1000@\(me)") SIP/2.0"] + (headers ?? base)
                + ["Content-Length: \(contentLength ?? String(body.utf8.count))"]
            return Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
        }
        func reply(_ status: String, _ headers: [String]) -> [UInt8] {
            Array(("SIP/2.0 \(status)\r\n" + headers.joined(separator: "\r\n") + "\r\nContent-Length: 0\r\n\r\n").utf8)
        }
        var m: [(String, [UInt8])] = []
        var rng = SystemRandomNumberGenerator()
        m.append(("random bytes", (0..<512).map { _ in UInt8.random(in: 0...255, using: &rng) }))
        m.append(("text garbage", Array("hello world\r\n\r\n".utf8)))
        m.append(("single NUL", [0]))
        m.append(("CRLF keepalive", Array("\r\n\r\n".utf8)))
        m.append(("request line only", Array("INVITE sip:1000@127.0.0.1 SIP/2.0\r\n\r\n".utf8)))
        m.append(("request line, no CRLF", Array("INVITE sip:1000@127.0.0.1 SIP/2.0".utf8)))
        m.append(("method only", Array("INVITE\r\n\r\n".utf8)))
        m.append(("bad SIP version", Array(("INVITE sip:1000@127.0.0.1 SIP/9.9\r\n" + base.joined(separator: "\r\n") + "\r\n\r\n").utf8)))
        m.append(("bad request URI", req(ruri: "not a uri")))
        m.append(("empty request URI", req(ruri: "")))
        for h in ["Via", "From", "To", "Call-ID", "CSeq", "Max-Forwards"] {
            m.append(("missing \(h)", req(headers: without(h))))
            m.append(("missing \(h) (INVITE)", req("INVITE", headers: without(h).map { $0 == "CSeq: 1 OPTIONS" ? "CSeq: 1 INVITE" : $0 })))
        }
        m.append(("Content-Length larger than body", req(body: "v=0\r\n", contentLength: "5000")))
        m.append(("Content-Length smaller than body", req(body: "v=0\r\no=x\r\n", contentLength: "2")))
        m.append(("Content-Length negative", req(body: "abc", contentLength: "-1")))
        m.append(("Content-Length not a number", req(body: "abc", contentLength: "abc")))
        m.append(("Content-Length huge", req(body: "abc", contentLength: "99999999999999999999999")))
        m.append(("body without Content-Length",
                  Array(("OPTIONS sip:1000@\(me) SIP/2.0\r\n" + base.joined(separator: "\r\n") + "\r\n\r\nbody").utf8)))
        m.append(("Max-Forwards not a number", req(headers: without("Max-Forwards") + ["Max-Forwards: abc"])))
        m.append(("Max-Forwards negative", req(headers: without("Max-Forwards") + ["Max-Forwards: -5"])))
        m.append(("Max-Forwards huge", req(headers: without("Max-Forwards") + ["Max-Forwards: 99999999999999999999"])))
        m.append(("CSeq garbage", req(headers: without("CSeq") + ["CSeq: x y z"])))
        m.append(("CSeq method mismatch", req(headers: without("CSeq") + ["CSeq: 1 BYE"])))
        m.append(("Via without host", req(headers: without("Via") + ["Via: SIP/2.0/UDP"])))
        m.append(("Via garbage", req(headers: without("Via") + ["Via: ;;;::::@@@"])))
        m.append(("Via port out of range", req(headers: without("Via") + ["Via: SIP/2.0/UDP 127.0.0.1:99999;branch=z9hG4bK-p"])))
        m.append(("Via port 0", req(headers: without("Via") + ["Via: SIP/2.0/UDP 127.0.0.1:0;branch=z9hG4bK-p"])))
        m.append(("Via unknown transport", req(headers: without("Via") + ["Via: SIP/2.0/FOO 127.0.0.1:9;branch=z9hG4bK-p"])))
        m.append(("header without colon", req(headers: base + ["ThisIsNotAHeader"])))
        m.append(("header with empty name", req(headers: base + [": value"])))
        m.append(("folded header", req(headers: base + ["Subject: first", " continued"])))
        m.append(("NUL bytes inside", req(headers: base + ["Subject: a\u{0}b\u{0}c"])))
        var invalidUTF8 = req(headers: base + ["Subject: x"])
        if let i = invalidUTF8.firstIndex(of: UInt8(ascii: "x")) { invalidUTF8.replaceSubrange(i...i, with: [0xFF, 0xFE, 0xC0]) }
        m.append(("invalid UTF-8", invalidUTF8))
        m.append(("very long header", req(headers: base + ["X-Long: " + String(repeating: "a", count: 60000)])))
        m.append(("1000 Via headers",
                  req(headers: (0..<1000).map { "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-\($0)" } + base.dropFirst())))
        m.append(("LF-only line ends", Array(String(decoding: req(), as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n").utf8)))
        m.append(("truncated mid-header", Array(req().prefix(60))))
        m.append(("status line garbage", Array("SIP/2.0 abc Whatever\r\n\r\n".utf8)))
        m.append(("reply without Via", reply("200 OK", without("Via"))))
        m.append(("reply with status 0", reply("0 Zero", base)))
        m.append(("reply with status 9999", reply("9999 Big", base)))
        m.append(("reply whose Vias all name the server",
                  reply("200 OK", (0..<5).map { "Via: SIP/2.0/UDP \(me);branch=z9hG4bK-loop\($0)" } + base.dropFirst())))
        m.append(("reply with one foreign Via", reply("200 OK", base)))
        m.append(("ACK without anything", Array("ACK sip:1000@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n".utf8)))
        return m
    }
}

