import Foundation
import XCTest
@testable import SwitchyardESL
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardTestSupport

/// Runs the real `esl-simulator` executable of this build.
/// A blocking TCP client over POSIX sockets.
final class TCPClient: @unchecked Sendable {
    let fd: Int32
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { Glibc.close(fd); throw NSError(domain: "connect \(port) failed", code: Int(errno)) }
    }
    func send(_ b: [UInt8]) { _ = b.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, b.count, Int32(MSG_NOSIGNAL)) } }
    /// nil on timeout; [] on EOF.
    func read(timeout: Double) -> [UInt8]? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) > 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
        return n <= 0 ? [] : Array(buf[0..<n])
    }
    func close() { Glibc.close(fd) }
}

/// An ESL client built on the codec.
final class ESLTestClient {
    let tcp: TCPClient
    var parser = ESLParser()
    var pending: [ESLFrame] = []
    var eof = false

    init(port: Int) throws { tcp = try TCPClient(port: port) }

    func send(_ b: [UInt8]) { tcp.send(b) }

    /// Next frame matching `where` (others are kept, in order).
    func next(timeout: Double = 5, where match: (ESLFrame) -> Bool = { _ in true }) throws -> ESLFrame? {
        let end = Date().addingTimeInterval(timeout)
        while true {
            if let i = pending.firstIndex(where: match) { return pending.remove(at: i) }
            if eof || Date() >= end { return nil }
            guard let d = tcp.read(timeout: 0.1) else { continue }
            if d.isEmpty { eof = true; continue }
            pending += try parser.feed(d)
        }
    }

    func reply(timeout: Double = 5) throws -> ESLFrame? {
        try next(timeout: timeout) { $0.contentType == .commandReply || $0.contentType == .apiResponse }
    }

    func event(named name: String, timeout: Double = 5) throws -> ESLEvent? {
        while let f = try next(timeout: timeout, where: { $0.isEvent }) {
            if let e = try f.event(), e.name == name { return e }
        }
        return nil
    }

    func login(_ password: String = "ClueCon") throws {
        XCTAssertEqual(try next()?.contentType, .authRequest)
        send(ESLEncoder.auth(password: password))
        XCTAssertEqual(try reply()?.replyText, "+OK accepted")
    }

    func close() { tcp.close() }
}

final class ESLSimulatorTests: XCTestCase {
    var sim: SimulatorProcess!

    override func setUpWithError() throws {
        let path = BinaryRunner.buildDirectory.appendingPathComponent("esl-simulator").path
        try XCTSkipUnless(FileManager.default.fileExists(atPath: path), "esl-simulator not built")
        sim = try SimulatorProcess(["--heartbeat", "0.3", "--idle-cpu", "42.5", "--max-sessions", "250"])
    }

    override func tearDown() {
        sim?.stop()
    }

    func testGreetingAndAuth() throws {
        let c = try ESLTestClient(port: sim.port)
        defer { c.close() }
        let g = try XCTUnwrap(try c.next())
        XCTAssertEqual(g.encoded(), ESLEncoder.authRequest())
        // Before auth only auth/userauth/exit are understood.
        c.send(ESLEncoder.api("status"))
        XCTAssertEqual(try c.reply()?.encoded(), ESLEncoder.commandReply("-ERR command not found"))
        c.send(ESLEncoder.auth(password: "ClueCon"))
        XCTAssertEqual(try c.reply()?.encoded(), ESLEncoder.commandReply("+OK accepted"))

        let u = try ESLTestClient(port: sim.port)
        defer { u.close() }
        _ = try u.next()
        u.send(ESLEncoder.userauth(user: "1000", domain: "example.com", password: "ClueCon"))
        let r = try XCTUnwrap(try u.reply())
        XCTAssertEqual(r.replyText, "+OK accepted")
        XCTAssertEqual(r["Allowed-API"], "all")
    }

    func testWrongPasswordDisconnects() throws {
        let c = try ESLTestClient(port: sim.port)
        defer { c.close() }
        _ = try c.next()
        c.send(ESLEncoder.auth(password: "wrong"))
        let r = try XCTUnwrap(try c.next())
        let d = try XCTUnwrap(try c.next())
        XCTAssertEqual(r.encoded() + d.encoded(), ESLFixtures.bytes("31_"))
        XCTAssertTrue(d.endsConnection)
        XCTAssertNil(try c.next(timeout: 2))
        XCTAssertTrue(c.eof)
    }

    func testHeartbeatApiAndBgapi() throws {
        let c = try ESLTestClient(port: sim.port)
        defer { c.close() }
        try c.login()
        c.send(ESLEncoder.event(.json, names: ["HEARTBEAT", "BACKGROUND_JOB"]))
        XCTAssertEqual(try c.reply()?.encoded(), ESLFixtures.bytes("03_"))

        let hb = try XCTUnwrap(try c.event(named: "HEARTBEAT"))
        XCTAssertEqual(hb["Idle-CPU"], "42.500000")
        XCTAssertEqual(hb["Max-Sessions"], "250")
        XCTAssertEqual(hb["Session-Count"], "0")
        XCTAssertEqual(hb.headers.first?.name, "Event-Name")

        c.send(ESLEncoder.api("status"))
        let st = try XCTUnwrap(try c.reply())
        XCTAssertEqual(st.contentType, .apiResponse)
        XCTAssertTrue(st.bodyString.hasPrefix("UP 0 years"))
        XCTAssertTrue(st.bodyString.contains("250 session(s) max"))

        c.send(ESLEncoder.api("no_such_command"))
        XCTAssertEqual(try c.reply()?.encoded(), ESLFixtures.bytes("19_"))

        c.send(ESLEncoder.api("uuid_transfer 00000000-dead-beef-0000-000000000000 9999"))
        XCTAssertEqual(try c.reply()?.bodyString, "-ERR No such channel!\n")

        c.send(ESLEncoder.bgapi("status", jobUUID: "32258934-fc61-4049-801c-7ac1aacad01d"))
        XCTAssertEqual(try c.reply()?.encoded(), ESLFixtures.bytes("05_"))
        let job = try XCTUnwrap(try c.event(named: "BACKGROUND_JOB"))
        XCTAssertEqual(job.jobUUID, "32258934-fc61-4049-801c-7ac1aacad01d")
        XCTAssertEqual(job["Job-Command"], "status")
        XCTAssertTrue(job.body?.hasPrefix("UP 0 years") ?? false)

        c.send(ESLEncoder.bgapi("status"))
        let r = try XCTUnwrap(try c.reply())
        let id = try XCTUnwrap(r.jobUUID)
        XCTAssertEqual(try c.event(named: "BACKGROUND_JOB")?.jobUUID, id)

        c.send(ESLEncoder.nixevent(names: ["HEARTBEAT"]))
        XCTAssertEqual(try c.reply()?.replyText, "+OK events nixed")
        c.send(ESLEncoder.noevents())
        XCTAssertEqual(try c.reply()?.replyText, "+OK no longer listening for events")
        c.send(ESLEncoder.exit())
        XCTAssertEqual(try c.reply()?.replyText, "+OK bye")
        XCTAssertEqual(try c.next()?.encoded(), ESLFixtures.bytes("23_"))
    }

    func testScriptedCallEventsAndCommandRecord() throws {
        let c = try ESLTestClient(port: sim.port)
        defer { c.close() }
        try c.login()
        let p = try ESLTestClient(port: sim.port)
        defer { p.close() }
        try p.login()
        c.send(ESLEncoder.event(.json, names: ["CHANNEL_CREATE", "CHANNEL_ANSWER", "DTMF"]))
        XCTAssertEqual(try c.reply()?.replyText, "+OK event listener enabled json")
        p.send(ESLEncoder.event(.plain, names: ["DTMF"]))
        XCTAssertEqual(try p.reply()?.replyText, "+OK event listener enabled plain")

        let r = try sim.control("call 5000 1#")
        XCTAssertTrue(r[0].hasPrefix("+OK "), "\(r)")
        let uuid = String(r[0].dropFirst(4))

        let create = try XCTUnwrap(try c.event(named: "CHANNEL_CREATE"))
        XCTAssertEqual(create.uniqueID, uuid)
        XCTAssertEqual(create["Caller-Destination-Number"], "5000")
        XCTAssertEqual(try c.event(named: "CHANNEL_ANSWER")?.uniqueID, uuid)
        let d1 = try XCTUnwrap(try c.event(named: "DTMF"))
        let d2 = try XCTUnwrap(try c.event(named: "DTMF"))
        XCTAssertEqual([d1["DTMF-Digit"], d2["DTMF-Digit"]], ["1", "#"])
        XCTAssertEqual(d1.uniqueID, uuid)
        // Plain subscriber: `#` travels as %23 and decodes back.
        let pf = try XCTUnwrap(try p.next(where: { $0.isEvent }))
        XCTAssertEqual(pf.contentType, .eventPlain)
        XCTAssertEqual(try pf.event()?["DTMF-Digit"], "1")
        let pf2 = try XCTUnwrap(try p.next(where: { $0.isEvent }))
        XCTAssertTrue(pf2.bodyString.contains("DTMF-Digit: %23\n"))
        XCTAssertEqual(try pf2.event()?["DTMF-Digit"], "#")

        // uuid_transfer for a known call.
        c.send(ESLEncoder.api("uuid_transfer \(uuid) 6000"))
        XCTAssertEqual(try c.reply()?.bodyString, "+OK\n")

        // flood: n DTMF events for distinct calls.
        XCTAssertTrue(try sim.control("flood 50")[0].hasPrefix("+OK 50"))
        var ids = Set<String>()
        for _ in 0..<50 { if let e = try c.event(named: "DTMF") { ids.insert(e.uniqueID ?? "") } }
        XCTAssertEqual(ids.count, 50)

        let cmds = try sim.control("commands")
        XCTAssertTrue(cmds.contains { $0.hasSuffix(" auth ClueCon") })
        XCTAssertTrue(cmds.contains { $0.hasSuffix(" uuid_transfer \(uuid) 6000") && $0.contains(" api ") })
        XCTAssertTrue(try sim.control("stats")[0].contains("connections=2"))
    }

    func testRestart() throws {
        let c = try ESLTestClient(port: sim.port)
        defer { c.close() }
        try c.login()
        let r = try sim.control("restart")
        XCTAssertEqual(r[0], "+OK \(sim.port)")
        // The old connection gets a shutdown notice and is closed.
        let n = try XCTUnwrap(try c.next(where: { $0.contentType == .disconnectNotice }))
        XCTAssertEqual(n.bodyString, "The system is being shut down.\n")
        XCTAssertNil(try c.next(timeout: 2))
        XCTAssertTrue(c.eof)
        // A new connection works on the same port.
        let d = try ESLTestClient(port: sim.port)
        defer { d.close() }
        try d.login()
        d.send(ESLEncoder.api("status"))
        XCTAssertEqual(try d.reply()?.contentType, .apiResponse)
    }
}
