import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardTestSupport

/// t_write_req / t_write_unix: the request handed to an external application (a FIFO, a unix datagram socket) as
/// lines, answered through MI t_reply with the hash:label written there, or by tm's 408 after fr_timeout when nobody
/// answers.
final class TWriteTests: TMTestCase {
    /// The tw_append list of the tests: two lines, one skipped (null), and $rb (the body even for a non-INVITE).
    static let appendParam = #"modparam("tm", "tw_append", "myapp: caller=$fU; who = $var(who) ;none=$hdr(X-None)")"#

    /// A sipp UAC placing one call to the proxy, running in the background.
    func startCaller(_ scenario: String, local: Int, proxy: Int) throws -> Sipp {
        try startSipp(name: "uac-\(local)", args: ["-sf", Self.scenario(scenario), "-s", "1000", "-i", "127.0.0.1",
                                                   "-p", String(local), "127.0.0.1:\(proxy)", "-m", "1",
                                                   "-recv_timeout", "10000", "-timeout", "15s"])
    }

    /// MI t_reply over mi_fifo (the work directory's FIFO).
    func miReply(_ code: Int, _ reason: String, id: String, toTag: String) -> String? {
        Self.fifoRequest(dir: workDir, body: """
        {"jsonrpc":"2.0","method":"t_reply","params":{"code":\(code),"reason":"\(reason)","trans_id":"\(id)","to_tag":"\(toTag)"},"id":1}
        """, name: "twrite-reply", timeout: 5)
    }

    /// "label.hash" in reversed hex ($T_id) as the decimal "hash:label" t_write_* writes.
    static func decimalID(_ tid: String) -> String? {
        func rev(_ s: Substring) -> UInt32? { UInt32(String(s.reversed()), radix: 16) }
        let p = tid.split(separator: ".")
        guard p.count == 2, let label = rev(p[0]), let hash = rev(p[1]) else { return nil }
        return "\(hash):\(label)"
    }

    /// The value xlog printed after `key=` on the line holding `marker`.
    static func logged(_ out: String, _ marker: String, _ key: String) -> String? {
        guard let line = out.split(separator: "\n").first(where: { $0.contains(marker) }),
              let r = line.range(of: key + "=") else { return nil }
        return String(line[r.upperBound...].prefix { $0 != " " })
    }

    /// The fixed lines (up to the appended block), the appended lines (without the "." separator) and the body.
    static func split(_ text: String) -> (fixed: [String], appended: [String], body: String)? {
        var rest = Substring(text)
        func nextLine() -> String? {
            guard let nl = rest.firstIndex(of: "\n") else { return nil }
            defer { rest = rest[rest.index(after: nl)...] }
            return String(rest[..<nl])
        }
        var fixed: [String] = [], appended: [String] = []
        while fixed.count < 18 { guard let l = nextLine() else { return nil }; fixed.append(l) }
        while true {
            guard let l = nextLine() else { return nil }
            if l == "." { break }
            appended.append(l)
        }
        guard rest.hasSuffix("\n") else { return nil }
        return (fixed, appended, String(rest.dropLast()))
    }

    /// The fixed lines of the sipp INVITE of these tests.
    func assertFixedLines(_ f: [String], action: String, proxy: Int, caller: Int, callID: String, fromTag: String,
                          hashLabel: String, file: StaticString = #filePath, line: UInt = #line) {
        let expected = ["0.3", "sip_request.\(action)", "INVITE", "1000", "127.0.0.1", "127.0.0.1", "\(proxy)",
                        "sip:1000@127.0.0.1:\(proxy)", "sip:sipp@127.0.0.1:\(caller)",
                        "sipp <sip:sipp@127.0.0.1:\(caller)>;tag=\(fromTag)", "<sip:1000@127.0.0.1:\(proxy)>", callID,
                        fromTag, "", "1", hashLabel, ".", "."]
        XCTAssertEqual(f, expected, file: file, line: line)
    }

    func testFIFOThenMIReply() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let fifo = "\(workDir)/app.fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let reader = try XCTUnwrap(MIFifoClient.ReplyFIFO(path: fifo))
        let sy = try startSwitchyard(Self.config(port: proxy, extra: miFifo + Self.appendParam) + """
        route {
            t_newtran();
            $var(who) = "switchyard";
            if (t_write_req("voicemail/MyApp", "\(fifo)")) xlog("L_NOTICE", "written id=$T_id ci=$ci ft=$ft\\n");
        }
        """, port: proxy)
        let uac = try startCaller("uac_486.xml", local: caller, proxy: proxy)
        let text = try XCTUnwrap(reader.read(timeout: 10), sy.output)
        XCTAssertTrue(sy.waitFor("written id="), sy.output)
        let tid = try XCTUnwrap(Self.logged(sy.output, "written id=", "id"))
        let id = try XCTUnwrap(Self.decimalID(tid), tid)
        let parts = try XCTUnwrap(Self.split(text), text)
        assertFixedLines(parts.fixed, action: "voicemail", proxy: proxy, caller: caller,
                         callID: Self.logged(sy.output, "written id=", "ci") ?? "?",
                         fromTag: Self.logged(sy.output, "written id=", "ft") ?? "?", hashLabel: id)
        // The list is found whatever the case of its name; a null element writes nothing.
        XCTAssertEqual(parts.appended, ["P-MsgFlags: 0", "caller: sipp", "who: switchyard"])
        XCTAssertTrue(parts.body.hasPrefix("v=0\r\n") && parts.body.contains("m=audio "), parts.body)

        // The application answers with the hash:label it was given.
        let answer = miReply(486, "Busy Here", id: id, toTag: "vm1")
        XCTAssertTrue(answer?.contains(#""result":"OK""#) ?? false, answer ?? "no MI answer")
        assertAllSuccessful((uac.wait(timeout: 15), uac), calls: 1, sy)
        XCTAssertTrue(uac.trace.contains("SIP/2.0 486 Busy Here") && uac.trace.contains(";tag=vm1"), uac.trace)
    }

    func testUnixSocketThenMIReply() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let app = try UnixDatagram(path: "\(workDir)/app.sock")
        let sy = try startSwitchyard(Self.config(port: proxy, extra: miFifo) + """
        route {
            t_newtran();
            if (t_write_unix("logger", "\(app.path)")) xlog("L_NOTICE", "written id=$T_id ci=$ci ft=$ft\\n");
        }
        """, port: proxy)
        let uac = try startCaller("uac_486.xml", local: caller, proxy: proxy)
        let text = try XCTUnwrap(app.receive(timeout: 10), sy.output)
        XCTAssertTrue(sy.waitFor("written id="), sy.output)
        let id = try XCTUnwrap(Self.decimalID(Self.logged(sy.output, "written id=", "id") ?? ""))
        let parts = try XCTUnwrap(Self.split(text), text)
        assertFixedLines(parts.fixed, action: "logger", proxy: proxy, caller: caller,
                         callID: Self.logged(sy.output, "written id=", "ci") ?? "?",
                         fromTag: Self.logged(sy.output, "written id=", "ft") ?? "?", hashLabel: id)
        XCTAssertEqual(parts.appended, ["P-MsgFlags: 0"])
        XCTAssertTrue(parts.body.contains("m=audio "), parts.body)

        let answer = miReply(486, "Busy Here", id: id, toTag: "logger")
        XCTAssertTrue(answer?.contains(#""result":"OK""#) ?? false, answer ?? "no MI answer")
        assertAllSuccessful((uac.wait(timeout: 15), uac), calls: 1, sy)
        XCTAssertTrue(uac.trace.contains("SIP/2.0 486 Busy Here"), uac.trace)
    }

    /// Nobody answers: the blind branch times out after fr_timeout and the caller gets tm's 408 (the failure route
    /// sees it first).
    func testNoAnswerGets408AfterFrTimeout() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let app = try UnixDatagram(path: "\(workDir)/app.sock")
        let sy = try startSwitchyard(Self.config(port: proxy, extra: #"modparam("tm", "fr_timeout", 2)"#) + """
        route {
            t_newtran();
            t_on_failure("f");
            if (t_write_unix("voicemail", "\(app.path)")) xlog("L_NOTICE", "written\\n");
        }
        failure_route[f] { xlog("L_NOTICE", "failure route: $T_reply_code\\n"); }
        """, port: proxy)
        let started = Date()
        let run = try runUAC("uac_408.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        let elapsed = Date().timeIntervalSince(started)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertNotNil(app.receive(timeout: 5), "the application got nothing")
        XCTAssertGreaterThanOrEqual(elapsed, 2.0, "the 408 came before fr_timeout")
        XCTAssertTrue(sy.waitFor("failure route: 408"), sy.output)
    }

    /// A FIFO nobody reads: -1, one error line, and the script goes on (here with its own reply). An unknown
    /// append name is -1 too.
    func testFIFOWithoutReader() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let fifo = "\(workDir)/nobody.fifo"
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let sy = try startSwitchyard(Self.config(port: proxy, extra: Self.appendParam) + """
        route {
            t_newtran();
            $var(info) = "voicemail/nosuch"; # in a variable: a literal would stop startup (testLiteralsCheckedAtStartup)
            if (t_write_req("$var(info)", "\(fifo)")) xlog("L_NOTICE", "written with an unknown append\\n");
            if (t_write_req("voicemail/myapp", "\(fifo)")) { xlog("L_NOTICE", "written\\n"); exit; }
            xlog("L_NOTICE", "not written, going on\\n");
            t_reply(404, "Not Found");
        }
        """, port: proxy)
        let run = try runUAC("uac_404.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(sy.waitFor("not written, going on"), sy.output)
        let lines = sy.lines
        XCTAssertEqual(lines.filter { $0.contains("nobody listening on [\(fifo)]") }.count, 1, sy.output)
        XCTAssertEqual(lines.filter { $0.contains("unknown append name <nosuch>") }.count, 1, sy.output)
        XCTAssertEqual(lines.filter { $0.contains("t_write_req") }.count, 2, "one line per failed call\n\(sy.output)")
        XCTAssertFalse(sy.output.contains("written with an unknown append"), sy.output)
    }

    /// A non-INVITE through a loose-routing proxy (raw UDP): the route set and next hop, `$rb` writing the body.
    func testRecordRouteAndBodyOfANonInvite() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, caller) = (ports[0], ports[1])
        let app = try UnixDatagram(path: "\(workDir)/app.sock")
        let sy = try startSwitchyard(Self.config(port: proxy, extra: #"modparam("tm", "tw_append", "b: $rb")"#) + """
        route {
            t_newtran();
            if (t_write_unix("im/b", "\(app.path)")) xlog("L_NOTICE", "written\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        var msg = RawSIP.request("MESSAGE", ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-tw-1",
                                 callID: "tw-1@test", body: "hello")
        msg = msg.replacingOccurrences(of: "Max-Forwards: 70\r\n", with: """
        Max-Forwards: 70\r
        Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r
        Record-Route: <sip:p3.example.com;lr>\r

        """)
        uac.send(msg, to: proxy)
        let text = try XCTUnwrap(app.receive(timeout: 5), sy.output)
        let parts = try XCTUnwrap(Self.split(text), text)
        XCTAssertEqual(parts.fixed[2], "MESSAGE")
        XCTAssertEqual(parts.fixed[8], "sip:caller@127.0.0.1:\(caller)")
        // The first header's other entries are not read (as OpenSIPS).
        XCTAssertEqual(parts.fixed[16], "<sip:p1.example.com;lr>,<sip:p3.example.com;lr>")
        XCTAssertEqual(parts.fixed[17], "sip:p1.example.com;lr")
        XCTAssertEqual(parts.appended, ["P-MsgFlags: 0"])
        XCTAssertEqual(parts.body, "hello")

        // A strict-routing first proxy: it becomes the next request-URI and the Contact closes the route.
        msg = RawSIP.request("MESSAGE", ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-tw-2",
                             callID: "tw-2@test").replacingOccurrences(of: "Max-Forwards: 70\r\n",
                                                                      with: "Max-Forwards: 70\r\nRecord-Route: <sip:p1.example.com>\r\n")
        uac.send(msg, to: proxy)
        let strict = try XCTUnwrap(Self.split(app.receive(timeout: 5) ?? ""), sy.output)
        XCTAssertEqual(strict.fixed[8], "sip:p1.example.com")
        XCTAssertEqual(strict.fixed[16], "<sip:caller@127.0.0.1:\(caller)>")
        XCTAssertEqual(strict.fixed[17], ".")
        XCTAssertEqual(strict.body, "", "no body")
    }

    /// In a failure route (after a 486) and in a branch route: the blind branch joins the set, and when nobody
    /// answers, the 486 wins over its 408 once fr_timeout has passed.
    func testFailureAndBranchRoutes() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, callee, caller) = (ports[0], ports[1], ports[2])
        let app = try UnixDatagram(path: "\(workDir)/app.sock")
        let sy = try startSwitchyard(Self.config(port: proxy, extra: #"modparam("tm", "fr_timeout", 2)"#) + """
        route {
            t_on_failure("f");
            t_on_branch("b");
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
        }
        branch_route[b] {
            if (t_write_unix("branch", "\(app.path)")) xlog("L_NOTICE", "written in branch route $T_branch_idx\\n");
        }
        failure_route[f] {
            if (t_write_unix("failure", "\(app.path)")) xlog("L_NOTICE", "written in failure route $T_reply_code\\n");
        }
        """, port: proxy)
        let uas = try startUAS("uas_486.xml", port: callee)
        let started = Date()
        let run = try runUAC("uac_486.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 2.0, "the 486 went up before the blind branch ended")
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 1), uas.report)
        let first = try XCTUnwrap(Self.split(app.receive(timeout: 2) ?? ""))
        let second = try XCTUnwrap(Self.split(app.receive(timeout: 2) ?? ""))
        XCTAssertEqual(first.fixed[1], "sip_request.branch")
        XCTAssertEqual(second.fixed[1], "sip_request.failure")
        XCTAssertEqual(second.fixed[7], "sip:1000@127.0.0.1:\(proxy)")
        XCTAssertEqual(first.fixed[15], second.fixed[15], "one transaction")
        XCTAssertTrue(waitUntil(10) { sy.output.contains("written in branch route 0") && sy.output.contains("written in failure route 486") },
                      sy.output)
    }

    /// OpenSIPS's routes: REQUEST, FAILURE, BRANCH only.
    func testNotInReplyRoutes() throws {
        let cfg = "\(workDir)/mask.cfg"
        try (Self.config(port: LocalPorts.freePorts(1)[0]) + "route { exit; }\nonreply_route[r] { t_write_req(\"a\", \"/tmp/x\"); }")
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        let (status, out) = try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
        XCTAssertEqual(status, 1, out)
        XCTAssertTrue(out.contains("function 't_write_req' cannot be used in onreply_route"), out)
    }

    /// Literal arguments are checked at startup (OpenSIPS's fixups), at the place of the argument: t_write_* append
    /// names, t_relay flags, t_on_* route names, t_reply codes.
    func testLiteralsCheckedAtStartup() throws {
        let cfg = "\(workDir)/fixup.cfg"
        for (call, expect) in [
            ("t_write_req(\"voicemail/nosuch\", \"/tmp/x\")", "fixup.cfg:9:17: error: t_write_req(): unknown append name <nosuch>"),
            ("t_write_unix(\"voicemail/\", \"/tmp/x\")", "fixup.cfg:9:18: error: t_write_unix(): empty append name"),
            ("t_relay(\"no-auto-477,bogus\")", "fixup.cfg:9:13: error: t_relay(): unknown flag in 'no-auto-477,bogus'"),
            ("t_on_failure(\"nope\")", "fixup.cfg:9:18: error: t_on_failure(): no failure_route[nope] in the script"),
            ("t_on_reply(\"f\")", "fixup.cfg:9:16: error: t_on_reply(): no onreply_route[f] in the script"),
            ("t_on_branch(\"nope\")", "fixup.cfg:9:17: error: t_on_branch(): no branch_route[nope] in the script"),
            ("t_reply(700, \"Big\")", "fixup.cfg:9:13: error: t_reply(): bad code 700"),
            ("t_reply_with_body(99, \"Small\", \"b\")", "fixup.cfg:9:23: error: t_reply_with_body(): bad code 99")] {
            try (Self.config(port: LocalPorts.freePorts(1)[0], extra: Self.appendParam) + "failure_route[f] { exit; }\nroute {\n    \(call);\n}\n")
                .write(toFile: cfg, atomically: true, encoding: .utf8)
            let (status, out) = try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
            XCTAssertEqual(status, 1, "\(call)\n\(out)")
            XCTAssertTrue(out.contains(expect), "\(call)\n\(out)")
        }
        // Known names and codes, and values in variables, load.
        try (Self.config(port: LocalPorts.freePorts(1)[0], extra: Self.appendParam) + """
        failure_route[f] { exit; }
        route { $var(x) = "nope"; t_on_failure("f"); t_on_failure("$var(x)"); t_relay("no-auto-477"); t_relay("$var(x)");
                t_write_req("voicemail/myapp", "/tmp/x"); t_write_req("$var(x)", "/tmp/x"); t_reply(404, "Not Found"); }
        """).write(toFile: cfg, atomically: true, encoding: .utf8)
        let (status, out) = try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
        XCTAssertEqual(status, 0, out)
    }

    /// Bad tw_append values stop startup with the place of the modparam.
    func testBadAppendStopsStartup() throws {
        let cfg = "\(workDir)/bad.cfg"
        for (value, why) in [("nocolon", "':' expected after the name"), ("a: x=$nosuchvar", "nosuchvar"),
                             ("a: $fU", "needs a label"), ("a: x=$fU;", "an element expected after ';'"),
                             ("a: x=$fU y", "';' expected between elements")] {
            try (Self.config(port: LocalPorts.freePorts(1)[0], extra: "modparam(\"tm\", \"tw_append\", \"\(value)\")") + "route { exit; }")
                .write(toFile: cfg, atomically: true, encoding: .utf8)
            let (status, out) = try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
            XCTAssertEqual(status, 1, out)
            XCTAssertTrue(out.contains("\(cfg):7:"), "no file:line:col\n\(out)")
            XCTAssertTrue(out.contains("tw_append") && out.contains(why), "\(value): \(out)")
        }
        try (Self.config(port: LocalPorts.freePorts(1)[0], extra: """
        modparam("tm", "tw_append", "a: x=$fU")
        modparam("tm", "tw_append", "A: y=$tU")
        """) + "route { exit; }").write(toFile: cfg, atomically: true, encoding: .utf8)
        let (status, out) = try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
        XCTAssertEqual(status, 1, out)
        XCTAssertTrue(out.contains("duplicated tw_append name <A>"), out)
    }
}

/// A unix datagram socket the test binds, standing for the external application.
final class UnixDatagram {
    let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "socket", code: Int(errno)) }
        unlink(path)
        var sa = sockaddr_un()
        sa.sun_family = sa_family_t(AF_UNIX)
        let p = Array(path.utf8)
        withUnsafeMutableBytes(of: &sa.sun_path) { $0.copyBytes(from: p); $0[p.count] = 0 }
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { close(fd); throw NSError(domain: "bind", code: Int(errno)) }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// The next datagram, or nil after `timeout`.
    func receive(timeout: TimeInterval) -> String? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) > 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buf, buf.count, 0)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }

    /// The next datagram as bytes, or nil after `timeout`.
    func receiveBytes(timeout: TimeInterval) -> [UInt8]? {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) > 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &buf, buf.count, 0)
        return n > 0 ? Array(buf[0..<n]) : nil
    }
}
