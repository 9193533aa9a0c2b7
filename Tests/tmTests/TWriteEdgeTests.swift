import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardTestSupport

/// t_write_req / t_write_unix where things go wrong: a receiver that does not read, paths that lead nowhere, a
/// datagram too big, bytes that are not UTF-8, routes armed late, the application answering 200.
final class TWriteEdgeTests: TMTestCase {
    /// A datagram socket bound at `app.path` that never reads, filled until a send would block (the sender stays
    /// open so that the queued datagrams stay charged).
    func fill(_ app: UnixDatagram) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "socket", code: Int(errno)) }
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        let p = Array(app.path.utf8)
        withUnsafeMutableBytes(of: &sa.sun_path) { $0.copyBytes(from: p); $0[p.count] = 0 }
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { close(fd); throw NSError(domain: "connect", code: Int(errno)) }
        let junk = [UInt8](repeating: 120, count: 64)
        var sent = 0
        while junk.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) > 0 { sent += 1 }
        XCTAssertEqual(errno, EAGAIN, "the queue did not fill")
        XCTAssertGreaterThan(sent, 0)
        cleanups.append { close(fd) }
        return fd
    }

    /// An INVITE from a raw caller; `body` as bytes (any bytes).
    static func invite(_ user: String, proxy: Int, local: Int, callID: String, body: [UInt8] = []) -> [UInt8] {
        let head = RawSIP.request("INVITE", ruri: "sip:\(user)@127.0.0.1:\(proxy)", localPort: local,
                                  branch: "z9hG4bK-\(callID)", callID: callID)
            .replacingOccurrences(of: "Content-Length: 0\r\n",
                                  with: body.isEmpty ? "Content-Length: 0\r\n"
                                                     : "Content-Type: text/plain\r\nContent-Length: \(body.count)\r\n")
        return Array(head.utf8) + body
    }

    static func sendRaw(_ bytes: [UInt8], from uac: RawSIP, to port: Int, host: String = "127.0.0.1") {
        var addr = loopback(port: port)
        inet_pton(AF_INET, host, &addr.sin_addr)
        _ = withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(uac.fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    static func canBind(_ port: Int, host: String) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var addr = loopback(port: port)
        inet_pton(AF_INET, host, &addr.sin_addr)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    /// tm's statistics through MI get_statistics over mi_fifo.
    func tmStats() -> [String: Int] {
        let out = Self.fifoRequest(dir: workDir, body: #"{"jsonrpc":"2.0","method":"get_statistics","params":{"statistics":["tm:"]},"id":1}"#,
                                   name: "twrite-stats", timeout: 5) ?? ""
        guard let o = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
              let r = o["result"] as? [String: Any] else { return [:] }
        return r.compactMapValues { $0 as? Int }
    }

    /// A failure route writing to a full socket fails at once instead of waiting unix_tx_timeout: a 486's failure
    /// route does not hold the reply back, and one started by a timeout (on tm's timer thread) does not delay the
    /// 408 of another call. The request route still waits.
    func testFailureRouteDoesNotWaitForAFullSocket() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, busyUAS, silentPort) = (ports[0], ports[1], ports[2])
        let app = try UnixDatagram(path: "\(workDir)/full.sock")
        _ = try fill(app)
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        modparam("tm", "fr_timeout", 2)
        modparam("tm", "fr_inv_timeout", 2)
        modparam("tm", "unix_tx_timeout", 5)
        """) + """
        route {
            if ($rU == "req") {
                t_newtran();
                if (!t_write_unix("vm", "\(app.path)")) { xlog("L_NOTICE", "not written in request route\\n"); t_reply(500, "Not Written"); }
                exit;
            }
            if ($rU == "busy") { t_on_failure("f"); $du = "sip:127.0.0.1:\(busyUAS)"; t_relay(); exit; }
            if ($rU == "slow") t_on_failure("f");
            $du = "sip:127.0.0.1:\(silentPort)";
            t_relay();
        }
        failure_route[f] {
            if (!t_write_unix("vm", "\(app.path)")) xlog("L_NOTICE", "not written in failure route $T_reply_code\\n");
        }
        """, port: proxy)
        let uas = try startUAS("uas_486.xml", port: busyUAS)
        let silent = try RawSIP(port: silentPort)
        let peers = LocalPorts.freePorts(4, avoid: [proxy, busyUAS, silentPort])
        let (busy, slow, other, req) = (try RawSIP(port: peers[0]), try RawSIP(port: peers[1]), try RawSIP(port: peers[2]),
                                        try RawSIP(port: peers[3]))
        var seen: [String] = []

        // A 486 (on a SIP worker, bucket lock held): the failure route fails at once, the 486 goes up. The time bounds
        // below leave a loaded machine room but stay under what waiting unix_tx_timeout (5 s) would take.
        var started = Date()
        Self.sendRaw(Self.invite("busy", proxy: proxy, local: peers[0], callID: "tw-busy"), from: busy, to: proxy)
        XCTAssertNotNil(busy.receive(startingWith: "SIP/2.0 486", timeout: 10, seen: &seen), sy.output)
        XCTAssertLessThan(Date().timeIntervalSince(started), 3.0, "the failure route waited for the full socket")
        XCTAssertTrue(sy.waitFor("not written in failure route 486"), sy.output)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 1), uas.report)

        // A timeout (tm's timer thread): the other call's 408, due half a second later, is not held up.
        Self.sendRaw(Self.invite("slow", proxy: proxy, local: peers[1], callID: "tw-slow"), from: slow, to: proxy)
        // The first INVITE and its retransmission (T1): the second call starts at least 500 ms after the first.
        var relayed: [String] = []
        for _ in 0..<2 { XCTAssertNotNil(silent.receive(startingWith: "INVITE ", timeout: 5, seen: &relayed), sy.output) }
        started = Date()
        Self.sendRaw(Self.invite("other", proxy: proxy, local: peers[2], callID: "tw-other"), from: other, to: proxy)
        XCTAssertNotNil(other.receive(startingWith: "SIP/2.0 408", timeout: 10, seen: &seen), sy.output)
        XCTAssertLessThan(Date().timeIntervalSince(started), 4.5, "the timer thread waited for the full socket")
        XCTAssertNotNil(slow.receive(startingWith: "SIP/2.0 408", timeout: 5, seen: &seen), sy.output)
        XCTAssertTrue(sy.waitFor("not written in failure route 408"), sy.output)

        // The request route waits up to unix_tx_timeout, then gives up.
        started = Date()
        Self.sendRaw(Self.invite("req", proxy: proxy, local: peers[3], callID: "tw-req"), from: req, to: proxy)
        XCTAssertNotNil(req.receive(startingWith: "SIP/2.0 500", timeout: 15, seen: &seen), sy.output)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 5.0, "the request route did not wait")
        XCTAssertTrue(sy.waitFor("timed out (unix_tx_timeout)"), sy.output)
        let lines = sy.lines
        XCTAssertEqual(lines.filter { $0.contains("would block") }.count, 2, sy.output)
    }

    /// unix_tx_timeout outside 0...60 stops startup with the place of the modparam.
    func testUnixTxTimeoutOutOfRangeStopsStartup() throws {
        let cfg = "\(workDir)/bad.cfg"
        for value in ["61", "-1", "3000000"] {
            try (Self.config(port: LocalPorts.freePorts(1)[0], extra: "modparam(\"tm\", \"unix_tx_timeout\", \(value))") + "route { exit; }")
                .write(toFile: cfg, atomically: true, encoding: .utf8)
            let (status, out) = try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
            XCTAssertEqual(status, 1, out)
            XCTAssertTrue(out.contains("\(cfg):7:"), "no file:line:col\n\(out)")
            XCTAssertTrue(out.contains("unix_tx_timeout must be between 0 and 60 seconds"), "\(value): \(out)")
        }
        try (Self.config(port: LocalPorts.freePorts(1)[0], extra: "modparam(\"tm\", \"unix_tx_timeout\", 60)") + "route { exit; }")
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        let (status, out) = try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
        XCTAssertEqual(status, 0, out)
    }

    /// t_on_failure after t_write_*: the failure route still sees the blind branch's 408 (as OpenSIPS).
    func testOnFailureAfterWrite() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let app = try UnixDatagram(path: "\(workDir)/app.sock")
        let sy = try startSwitchyard(Self.config(port: proxy, extra: #"modparam("tm", "fr_timeout", 2)"#) + """
        route {
            t_newtran();
            if (t_write_unix("voicemail", "\(app.path)")) xlog("L_NOTICE", "written\\n");
            t_on_failure("f");
        }
        failure_route[f] { xlog("L_NOTICE", "failure route: $T_reply_code\\n"); }
        """, port: proxy)
        let run = try runUAC("uac_408.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertNotNil(app.receive(timeout: 5), "the application got nothing")
        XCTAssertTrue(sy.waitFor("failure route: 408"), sy.output)
    }

    /// A body that is not UTF-8 (Latin-1) is written byte for byte.
    func testNonUTF8BodyWrittenAsReceived() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let app = try UnixDatagram(path: "\(workDir)/app.sock")
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            t_newtran();
            if (t_write_unix("latin", "\(app.path)")) xlog("L_NOTICE", "written\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let body: [UInt8] = [0x63, 0x61, 0x66, 0xe9, 0x20, 0xfc, 0x62, 0x65, 0x72, 0xff]  // "café über" and 0xFF
        Self.sendRaw(Self.invite("1000", proxy: proxy, local: caller, callID: "tw-latin", body: body), from: uac, to: proxy)
        let text = try XCTUnwrap(app.receiveBytes(timeout: 5), sy.output)
        XCTAssertEqual(Array(text.suffix(body.count + 1)), body + [10], String(decoding: text, as: UTF8.self))
        XCTAssertTrue(sy.waitFor("written"), sy.output)
    }

    /// Nowhere to write: a socket path that does not exist, a FIFO whose pipe is full (its reader never reads).
    /// -1 at once with one log line each, and the script goes on.
    func testNoSocketAndFullFIFO() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let fifo = "\(workDir)/full.fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(reader, 0)
        let writer = open(fifo, O_WRONLY | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(writer, 0)
        cleanups.append { close(writer); close(reader) }
        let chunk = [UInt8](repeating: 120, count: 4096)
        while chunk.withUnsafeBytes({ write(writer, $0.baseAddress, $0.count) }) > 0 {}
        while chunk.withUnsafeBytes({ write(writer, $0.baseAddress, 1) }) > 0 {}
        XCTAssertEqual(errno, EAGAIN)
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            t_newtran();
            if ($rU == "nosock") {
                if (!t_write_unix("vm", "\(workDir)/nosuch.sock")) t_reply(404, "No Socket");
            } else if (!t_write_req("vm", "\(fifo)")) t_reply(503, "FIFO Full");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        var seen: [String] = []
        Self.sendRaw(Self.invite("nosock", proxy: proxy, local: caller, callID: "tw-nosock"), from: uac, to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 404 No Socket", timeout: 5, seen: &seen), sy.output)
        let started = Date()
        Self.sendRaw(Self.invite("fifo", proxy: proxy, local: caller, callID: "tw-fifo"), from: uac, to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 503 FIFO Full", timeout: 5, seen: &seen), sy.output)
        XCTAssertLessThan(Date().timeIntervalSince(started), 3.5, "the write waited for the full pipe")
        // The replies can arrive before the log lines are read from the server's output: wait for the last one.
        XCTAssertTrue(sy.waitFor("write to [\(fifo)] failed"), sy.output)
        let lines = sy.lines
        XCTAssertEqual(lines.filter { $0.contains("t_write_unix") }.count, 1, sy.output)
        XCTAssertEqual(lines.filter { $0.contains("failed to connect to [\(workDir)/nosuch.sock]") }.count, 1, sy.output)
        XCTAssertEqual(lines.filter { $0.contains("t_write_req") }.count, 1, sy.output)
        XCTAssertEqual(lines.filter { $0.contains("write to [\(fifo)] failed: Resource temporarily unavailable") }.count,
                       1, sy.output)
    }

    /// A datagram larger than a unix socket takes (the sender's buffer, 208 KiB by default): EMSGSIZE, -1. The body
    /// comes over TCP, where a request may be that big.
    func testOversizedDatagram() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let app = try UnixDatagram(path: "\(workDir)/app.sock")
        let sy = try startSwitchyard(Self.config(port: proxy, proto: "tcp") + """
        route {
            t_newtran();
            if (!t_write_unix("big", "\(app.path)")) t_reply(500, "Too Big");
        }
        """, port: proxy, tcp: true)
        let body = [UInt8](repeating: 97, count: 300_000)
        var msg = Self.invite("1000", proxy: proxy, local: caller, callID: "tw-big", body: body)
        msg = Array(String(decoding: msg, as: UTF8.self).replacingOccurrences(of: "SIP/2.0/UDP", with: "SIP/2.0/TCP").utf8)
        let reply = try TCPExchange.send(msg, port: proxy, until: "SIP/2.0 500", timeout: 10)
        XCTAssertTrue(reply.contains("SIP/2.0 500 Too Big"), reply + sy.output)
        XCTAssertTrue(sy.waitFor("Message too long"), sy.output)
        XCTAssertNil(app.receive(timeout: 0.2))  // the write failed (logged above): a short window shows nothing arrives
    }

    /// The application answers 200 while the blind branch is pending: no 408 and no final-response timeout later.
    func testMIReply200EndsTheBlindBranch() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let app = try UnixDatagram(path: "\(workDir)/app.sock")
        let sy = try startSwitchyard(Self.config(port: proxy, extra: miFifo + """

        modparam("tm", "fr_timeout", 2)
        modparam("tm", "wt_timer", 2)
        """) + """
        route {
            t_newtran();
            if (t_write_unix("vm", "\(app.path)")) xlog("L_NOTICE", "written\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        Self.sendRaw(Self.invite("1000", proxy: proxy, local: caller, callID: "tw-200"), from: uac, to: proxy)
        let parts = try XCTUnwrap(TWriteTests.split(app.receive(timeout: 5) ?? ""), sy.output)
        let answer = Self.fifoRequest(dir: workDir, body: """
        {"jsonrpc":"2.0","method":"t_reply","params":{"code":200,"reason":"OK","trans_id":"\(parts.fixed[15])","to_tag":"vm"},"id":1}
        """, name: "twrite-reply", timeout: 5)
        XCTAssertTrue(answer?.contains(#""result":"OK""#) ?? false, answer ?? "no MI answer")
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), sy.output)
        // No ACK: the 200 is retransmitted until fr_timeout, then the cell waits wt_timer and goes; by then the
        // blind branch's own fr_timeout has long passed.
        XCTAssertTrue(waitUntil(15) { tmStats()["tm:inuse_transactions"] == 0 }, "\(tmStats())")
        let stats = tmStats()
        XCTAssertEqual(stats["tm:2xx_transactions"], 1, "\(stats)")
        XCTAssertEqual(stats["tm:4xx_transactions"], 0, "\(stats)")
        XCTAssertEqual(stats["tm:timeout_finalresponse"], 0, "\(stats)")
        XCTAssertEqual(stats["tm:timeout_finalresponse_inv"], 0, "\(stats)")
        seen += uac.drain(0.1)
        XCTAssertFalse(seen.contains { $0.hasPrefix("SIP/2.0 408") }, "\(seen)")
    }

    /// A request that came in on port 5060 writes "." as its port (the proxy listens on 127.0.48.1:5060 too).
    func testPort5060IsADot() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        guard Self.canBind(5060, host: "127.0.48.1") else { throw XCTSkip("127.0.48.1:5060 is taken") }
        let app = try UnixDatagram(path: "\(workDir)/app.sock")
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "socket = udp:127.0.48.1:5060\n") + """
        route {
            t_newtran();
            t_write_unix("vm", "\(app.path)");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        Self.sendRaw(Array(RawSIP.request("MESSAGE", ruri: "sip:bob@127.0.48.1", localPort: caller, branch: "z9hG4bK-tw-5060",
                                       callID: "tw-5060", body: "hi").utf8), from: uac, to: 5060, host: "127.0.48.1")
        let parts = try XCTUnwrap(TWriteTests.split(app.receive(timeout: 5) ?? ""), sy.output)
        XCTAssertEqual(parts.fixed[4], "127.0.48.1")
        XCTAssertEqual(parts.fixed[5], "127.0.48.1")
        XCTAssertEqual(parts.fixed[6], ".")
        XCTAssertEqual(parts.fixed[7], "sip:bob@127.0.48.1")
    }
}

/// One TCP connection to the proxy: the bytes out, what comes back until `marker`.
enum TCPExchange {
    static func send(_ bytes: [UInt8], port: Int, until marker: String, timeout: TimeInterval) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "socket", code: Int(errno)) }
        defer { close(fd) }
        var addr = LocalPorts.loopback(port: port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw NSError(domain: "connect", code: Int(errno)) }
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw NSError(domain: "send", code: Int(errno)) }
            off += n
        }
        var got: [UInt8] = []
        let end = Date().addingTimeInterval(timeout)
        var buf = [UInt8](repeating: 0, count: 4096)
        while Date() < end, !String(decoding: got, as: UTF8.self).contains(marker) {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) >= 0 else { break }
            if pfd.revents == 0 { continue }
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            got += buf[0..<n]
        }
        return String(decoding: got, as: UTF8.self)
    }
}
