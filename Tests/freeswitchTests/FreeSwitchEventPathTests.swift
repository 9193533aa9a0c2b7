import Foundation
import XCTest
import SwitchyardMI
@testable import SwitchyardCore
import SwitchyardESL
import SwitchyardTestSupport

/// The one event path from a FreeSWITCH box to event_route[E_FREESWITCH]: the box's reader hands each event to the
/// workers' bounded queue; a full queue stops the reading (TCP pushes back), nothing is dropped; events that arrive
/// while the server starts are kept; plain and JSON events give the script the same fields.
final class FreeSwitchEventPathTests: XCTestCase {
    static let password = "S3cr3t-ClueCon"

    private func config(_ port: Int, _ events: String, extra: String = "", route: String) -> String {
        """
        mpath = "\(BinaryRunner.buildDirectory.path)"
        \(extra)
        loadmodule "json.so"
        loadmodule "statistics.so"
        loadmodule "freeswitch.so"
        loadmodule "freeswitch_scripting.so"
        modparam("statistics", "variable", "fsev")
        modparam("freeswitch_scripting", "fs_subscribe", "fs://:\(Self.password)@127.0.0.1:\(port)/?\(events)")
        event_route[E_FREESWITCH] {
        \(route)
        }
        """
    }

    private func statValue(_ h: ServerHarness, _ name: String) -> Int? {
        let reply = h.server.mi.dispatcher.response(
            toText: #"{"jsonrpc":"2.0","method":"get_statistics","params":{"statistics":["all"]},"id":1}"#)
        guard let result = reply?["result"]?.objectValue, let key = result.keys.first(where: { $0.hasSuffix(":" + name) }) else {
            return nil
        }
        return result[key]?.intValue.map { Int($0) }
    }

    /// Occupies `count` workers with jobs that wait until the returned semaphore is signalled once per worker.
    private func holdWorkers(_ h: ServerHarness, _ count: Int) -> DispatchSemaphore {
        let release = DispatchSemaphore(value: 0)
        let holding = DispatchSemaphore(value: 0)
        // One at a time: a worker takes several queued jobs at once, so tasks queued together may go to one worker.
        for _ in 0..<count {
            XCTAssertEqual(h.server.queue?.offer(.task { _ in holding.signal(); release.wait() }), true)
            XCTAssertEqual(holding.wait(timeout: .now() + 5), .success)
        }
        return release
    }

    /// The simulator's events_sent once it stops moving (nil if it still moves after 20 s). "Stopped" means two samples
    /// 300 ms apart are equal: the sampling interval defines the stall, there is no event to wait for.
    private func stalledEventsSent(_ sim: SimulatorProcess) -> Int? {
        var last = -1
        let end = Date().addingTimeInterval(20)
        while Date() < end {
            usleep(300_000)
            let sent = sim.stats()["events_sent"] ?? 0
            if sent == last { return sent }
            last = sent
        }
        return nil
    }

    /// Every worker busy (blocked in a task), a queue of 16, a flood of 10,000 DTMF events (about 21 MB, more than
    /// the loopback socket buffers hold): the simulator's writes stall while the workers are held, the queue stays at
    /// its bound, nothing is dropped; once the workers are released every event runs the route.
    func testBurstLargerThanTheQueueWithBusyWorkersLosesNothingAndPausesTheReader() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let h = ServerHarness(config(sim.port, "DTMF", extra: "event_queue_size = 16",
                                     route: "    update_stat(\"fsev\", 1);"))
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))

        // Both workers held until the test lets them go.
        let release = holdWorkers(h, 2)

        let n = 10_000
        let flood = try ControlLine(port: sim.controlPort, "flood \(n)") // answered once every event is written
        defer { flood.close() }

        // The simulator's writes stop: events_sent stays below n while the workers are held.
        let stalled = stalledEventsSent(sim)
        XCTAssertNotNil(stalled, "the simulator kept writing")
        XCTAssertLessThan(stalled ?? n, n, "TCP pushed back on the simulator")
        // The box's events wait in its lane (one job for it in the worker queue): the lane is full, not beyond its bound.
        XCTAssertEqual(h.server.bus?.laneDepth, 16, "the box's queue is full, and not beyond its bound")
        XCTAssertEqual(h.server.queue?.depth, 1, "one job in the worker queue for the box's lane")
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
        XCTAssertEqual(statValue(h, "fsev"), 0)

        release.signal(); release.signal()
        XCTAssertTrue(waitUntil(timeout: 120) { statValue(h, "fsev") == n }, "ran \(statValue(h, "fsev") ?? -1) of \(n)")
        XCTAssertEqual(sim.stats()["events_sent"], n)
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
        XCTAssertFalse(h.messages.contains { $0.contains("not queued") }, h.messages.joined(separator: "\n"))
        XCTAssertTrue(flood.readLine(timeout: 10)?.hasPrefix("+OK \(n) events") ?? false)
    }

    /// A flood while the workers run blocking commands (freeswitch_esl from the route) with the reader held up on a
    /// full queue: a worker waiting for its reply reads the socket itself, up to BoxReader.heldMax events, and on to
    /// its reply once the reader has been stuck in its callback for BoxReader.stuckMs (it waits for room in the box's
    /// lane, which the worker holds): every command is answered well inside esl_cmd_timeout, every event runs the
    /// route, none is lost. (Past BoxReader.heldHardMax nobody reads: FreeSwitchLaneReplyTests.)
    func testFloodWhileWorkersRunCommandsAnswersThemAndLosesNothing() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        // The first events run a command; the rest only count.
        let route = """
            update_stat("fsev", 1);
            if ($stat(fsev) <= 6) {
                $var(rc) = freeswitch_esl("api echo hi", "127.0.0.1:\(sim.port)", $var(out));
                xlog("RC $var(rc)");
            }
        """
        let h = ServerHarness(config(sim.port, "DTMF", extra: "event_queue_size = 16", route: route)
                              + "\nmodparam(\"freeswitch\", \"esl_cmd_timeout\", 1500)\n")
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))

        // Both workers held first, so the flood fills the socket buffers (megabytes) ahead of any command's reply.
        let release = holdWorkers(h, 2)
        let n = 10_000
        let flood = try ControlLine(port: sim.controlPort, "flood \(n)")
        defer { flood.close() }
        func stall() -> Int? { stalledEventsSent(sim) }
        XCTAssertNotNil(stall(), "the simulator kept writing")

        // Released, the workers run commands whose replies sit behind those megabytes: they read on to them.
        release.signal(); release.signal()

        XCTAssertTrue(waitUntil(timeout: 120) { statValue(h, "fsev") == n }, "ran \(statValue(h, "fsev") ?? -1) of \(n)")
        XCTAssertEqual(sim.stats()["events_sent"], n)
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
        XCTAssertEqual(h.messages.filter { $0.hasPrefix("RC ") }, Array(repeating: "RC 1", count: 6),
                       "each command got its reply (esl_cmd_timeout is 1.5 s)")
        XCTAssertTrue(flood.readLine(timeout: 10)?.hasPrefix("+OK \(n) events") ?? false)
    }

    /// The box connects during module init, before the workers run: events it receives then wait in the queue and
    /// run the route once the server has started, in order.
    func testEventsArrivingWhileTheServerStartsAreDelivered() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let h = ServerHarness(config(sim.port, "DTMF", route: """
                $json(ev) := $param(body);
                xlog("FSEV digit=$json(ev/DTMF-Digit)");
            """))
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))
        XCTAssertEqual(try sim.control("call 1000 123").first?.hasPrefix("+OK"), true)
        XCTAssertTrue(waitUntil(timeout: 5) { h.server.bus?.raised.load(ordering: .relaxed) == 3 }, "raised before start")
        XCTAssertFalse(h.messages.contains { $0.contains("FSEV") }, "no worker runs before start")

        try h.start()
        XCTAssertTrue(waitUntil(timeout: 10) { h.messages.filter { $0.contains("FSEV") }.count == 3 }, h.messages.joined(separator: "\n"))
        XCTAssertEqual(h.messages.filter { $0.contains("FSEV") }.map { $0.components(separatedBy: "FSEV ").last ?? "" },
                       ["digit=1", "digit=2", "digit=3"])
        XCTAssertFalse(h.messages.contains { $0.contains("not queued") || $0.contains("dropped") }, h.messages.joined(separator: "\n"))
    }

    /// An event sent as text/event-plain and the same event as text/event-json give the script the same
    /// $param(name) and the same $json fields (encoded characters, spaces, colons, UTF-8 included).
    func testPlainAndJSONEventsGiveTheScriptTheSameFields() throws {
        let box = try PlainESLBox(password: Self.password)
        defer { box.stop() }
        let h = ServerHarness(config(box.port, "DTMF", route: """
                $json(ev) := $param(body);
                xlog("FSEV fmt=$json(ev/X-Format) name=$param(name) sender=$param(sender) uuid=$json(ev/Unique-ID) digit=$json(ev/DTMF-Digit) cid=$json(ev/Caller-Caller-ID-Name) var=$json(ev/variable_sip_h_X-Odd) seq=$json(ev/Event-Sequence)");
            """))
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(waitUntil(timeout: 5) { box.commands.contains { $0.hasPrefix("event json DTMF") } })

        let headers: [ESLHeader] = [
            ESLHeader("Event-Name", "DTMF"), ESLHeader("Core-UUID", "c0e1"), ESLHeader("Event-Sequence", "4711"),
            ESLHeader("Unique-ID", "a5e2a6f8-0000-4b6e-9c1d-1234567890ab"), ESLHeader("DTMF-Digit", "#"),
            ESLHeader("Caller-Caller-ID-Name", "Zoë O'Brien: 100% \"sales\""),
            ESLHeader("variable_sip_h_X-Odd", "a=b&c=d e+f"),
        ]
        box.send(ESLEncoder.event(ESLEvent(headers: headers + [ESLHeader("X-Format", "plain")]), format: .plain))
        XCTAssertTrue(waitUntil(timeout: 10) { h.messages.contains { $0.contains("FSEV fmt=plain") } }, h.messages.joined(separator: "\n"))
        box.send(ESLEncoder.event(ESLEvent(headers: headers + [ESLHeader("X-Format", "json")]), format: .json))
        XCTAssertTrue(waitUntil(timeout: 10) { h.messages.contains { $0.contains("FSEV fmt=json") } }, h.messages.joined(separator: "\n"))

        func fields(_ fmt: String) -> String? {
            h.messages.first { $0.contains("FSEV fmt=\(fmt) ") }.map { String($0[$0.range(of: "FSEV fmt=\(fmt) ")!.upperBound...]) }
        }
        let expected = "name=DTMF sender=127.0.0.1 uuid=a5e2a6f8-0000-4b6e-9c1d-1234567890ab digit=# "
            + "cid=Zoë O'Brien: 100% \"sales\" var=a=b&c=d e+f seq=4711"
        XCTAssertEqual(fields("plain"), expected)
        XCTAssertEqual(fields("json"), expected)
        // The plain event reached $json as the decoded headers (ABI 1.9 tree): never written as JSON text.
        XCTAssertEqual(h.server.bus?.treesWritten.load(ordering: .relaxed), 0)
    }

    /// A plain event's $param(body) read as a string is the event's JSON text (what ESLEvent.jsonPayload writes:
    /// an ARRAY:: header as an array, the body as Content-Length and _body), written once, only because the script
    /// read it; `$json(x) := $param(body)` of the same event takes the tree (array items and body readable).
    func testPlainEventBodyIsWrittenAsJSONOnlyWhenReadAsText() throws {
        let box = try PlainESLBox(password: Self.password)
        defer { box.stop() }
        let h = ServerHarness(config(box.port, "CUSTOM my::sub", route: """
                $json(ev) := $param(body);
                xlog("FSJSON sub=$json(ev/Event-Subclass) item=$json(ev/Tags[1]) body=$json(ev/_body) len=$json(ev/Content-Length)");
                $var(text) = $param(body);
                xlog("FSTEXT $var(text)");
            """))
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(waitUntil(timeout: 5) { box.commands.contains { $0.hasPrefix("event json CUSTOM my::sub") } },
                      box.commands.joined(separator: "\n"))
        let event = ESLEvent(headers: [
            ESLHeader("Event-Name", "CUSTOM"), ESLHeader("Event-Subclass", "my::sub"),
            ESLHeader("Tags", "ARRAY::first|:second"), ESLHeader("Quote", "say \"hi\"\tnow"),
        ], body: "body \"text\"")
        box.send(ESLEncoder.event(event, format: .plain))
        XCTAssertTrue(waitUntil(timeout: 10) { h.messages.contains { $0.contains("FSTEXT ") } }, h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("FSJSON sub=my::sub item=second body=body \"text\" len=11") },
                      h.messages.joined(separator: "\n"))
        let text = h.messages.first { $0.contains("FSTEXT ") }.map { String($0[$0.range(of: "FSTEXT ")!.upperBound...]) }
        XCTAssertEqual(text, String(decoding: event.jsonPayload(), as: UTF8.self))
        XCTAssertEqual(h.server.bus?.treesWritten.load(ordering: .relaxed), 1)
    }
}

extension FreeSwitchEventPathTests {
    /// On a core before ABI 1.9 (the test hook SWITCHYARD_TEST_FSS_TEXT_EVENTS stands for one: the core under test is
    /// the newest) freeswitch_scripting subscribes for text: a plain event's $param(body) is its JSON text, a string
    /// (no tree to write), and the script reads the same fields.
    func testBeforeABI19ThePlainEventBodyArrivesAsText() throws {
        let box = try PlainESLBox(password: Self.password)
        defer { box.stop() }
        let h = ServerHarness(config(box.port, "CUSTOM my::sub", route: """
                $json(ev) := $param(body);
                xlog("FSJSON sub=$json(ev/Event-Subclass) item=$json(ev/Tags[1]) body=$json(ev/_body)");
                $var(text) = $param(body);
                xlog("FSTEXT $var(text)");
            """))
        setenv("SWITCHYARD_TEST_FSS_TEXT_EVENTS", "1", 1)
        let problems = h.prepare(workers: 1).map(\.description)
        unsetenv("SWITCHYARD_TEST_FSS_TEXT_EVENTS")
        XCTAssertEqual(problems, [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(waitUntil(timeout: 5) { box.commands.contains { $0.hasPrefix("event json CUSTOM my::sub") } },
                      box.commands.joined(separator: "\n"))
        let event = ESLEvent(headers: [
            ESLHeader("Event-Name", "CUSTOM"), ESLHeader("Event-Subclass", "my::sub"), ESLHeader("Tags", "ARRAY::first|:second"),
        ], body: "hello")
        box.send(ESLEncoder.event(event, format: .plain))
        XCTAssertTrue(waitUntil(timeout: 10) { h.messages.contains { $0.contains("FSTEXT ") } }, h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("FSJSON sub=my::sub item=second body=hello") }, h.messages.joined(separator: "\n"))
        let text = h.messages.first { $0.contains("FSTEXT ") }.map { String($0[$0.range(of: "FSTEXT ")!.upperBound...]) }
        XCTAssertEqual(text, String(decoding: event.jsonPayload(), as: UTF8.self))
        XCTAssertEqual(h.server.bus?.treesWritten.load(ordering: .relaxed), 0, "the body crossed as text, not as a tree")
    }
}

/// One control command on its own connection to the simulator's control port, its reply read later (a `flood`
/// answers only once every event is written).
final class ControlLine {
    let fd: Int32

    init(port: Int, _ line: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { Glibc.close(fd); throw NSError(domain: "connect to control port \(port)", code: Int(errno)) }
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// The first reply line, waiting up to `timeout` seconds.
    func readLine(timeout: TimeInterval) -> String? {
        var text: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) > 0 else { continue }
            let n = recv(fd, &buf, buf.count, 0)
            guard n > 0 else { break }
            text += buf[0..<n]
            if let nl = text.firstIndex(of: 0x0A) { return String(decoding: text[..<nl], as: UTF8.self) }
        }
        return nil
    }

    func close() { Glibc.close(fd) }
}

/// A FreeSWITCH that sends whatever frames the test gives it, in whatever format (the real one and the simulator
/// send the format the client asked for: JSON for a Switchyard box). Serves one client at a time on a free loopback
/// port (the next once dropClient() ended the last), answers auth with +OK accepted and every other command with +OK.
final class PlainESLBox: @unchecked Sendable { // mutable state guarded by lock
    let port: Int
    private let listenFD: Int32
    private let password: String
    private let lock = NSLock()
    private var client: Int32 = -1
    private var _commands: [String] = []
    private var stopped = false
    private var thread: Thread?

    init(password: String) throws {
        self.password = password
        let lfd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        listenFD = lfd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { a -> Int32 in
                guard bind(lfd, a, len) == 0, listen(lfd, 4) == 0 else { return -1 }
                return getsockname(lfd, a, &len)
            }
        }
        guard rc == 0 else { Glibc.close(lfd); throw NSError(domain: "bind", code: Int(errno)) }
        port = Int(UInt16(bigEndian: addr.sin_port))
        let t = Thread { [self] in serve() }
        thread = t
        t.start()
    }

    var commands: [String] { lock.lock(); defer { lock.unlock() }; return _commands }

    /// Commands starting with this are answered only after release() (and, as FreeSWITCH answers in order, every
    /// command after them too): a slow dependency for a route.
    private var _holdPrefix: String? = nil
    private let held = DispatchSemaphore(value: 0)
    func hold(_ prefix: String) { lock.lock(); _holdPrefix = prefix; lock.unlock() }
    /// Commands starting with `prefix` get `bytes` (events) sent ahead of their reply.
    private var _before: (prefix: String, bytes: [UInt8])? = nil
    func sendBefore(_ prefix: String, _ bytes: [UInt8]) { lock.lock(); _before = (prefix, bytes); lock.unlock() }
    func release() { lock.lock(); _holdPrefix = nil; lock.unlock(); held.signal() }

    private var _bytesSent = 0
    /// Bytes the socket took so far: it stops growing while the client does not read (TCP pushes back).
    var bytesSent: Int { lock.lock(); defer { lock.unlock() }; return _bytesSent }

    func send(_ bytes: [UInt8]) {
        lock.lock()
        let fd = client
        lock.unlock()
        // In 64 KiB pieces, counted as the socket takes them.
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, min($0.count, 65536), Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return }
            off += n
            lock.lock(); _bytesSent += n; lock.unlock()
        }
    }

    func stop() {
        lock.lock(); stopped = true; let fd = client; let holding = _holdPrefix != nil; lock.unlock()
        if holding { release() }
        shutdown(listenFD, Int32(SHUT_RDWR))
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
        _ = waitUntil(timeout: 3) { thread?.isFinished ?? true }
        Glibc.close(listenFD)
        if fd >= 0 { Glibc.close(fd) }
    }

    /// Ends the current client's connection (as a FreeSWITCH restart would); the next client is then served.
    func dropClient() {
        lock.lock(); let fd = client; lock.unlock()
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private func serve() {
        while true {
            var p = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            while poll(&p, 1, 100) <= 0 {
                lock.lock(); let s = stopped; lock.unlock()
                if s { return }
            }
            let fd = accept(listenFD, nil, nil)
            guard fd >= 0 else { return }
            lock.lock(); let old = client; client = fd; let s = stopped; lock.unlock()
            if old >= 0 { Glibc.close(old) }
            if s { return }
            serveClient(fd)
        }
    }

    private func serveClient(_ fd: Int32) {
        send(ESLEncoder.authRequest())
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            guard n > 0 else { return }
            pending += buf[0..<n]
            // One command per blank-line-terminated block.
            while let end = pending.indices.dropLast().first(where: { pending[$0] == 0x0A && pending[$0 + 1] == 0x0A }) {
                let line = String(decoding: pending[..<end], as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
                pending.removeSubrange(...(end + 1))
                lock.lock(); _commands.append(line); let hold = _holdPrefix.map { line.hasPrefix($0) } ?? false; lock.unlock()
                if hold { held.wait() }
                lock.lock(); let before = _before.flatMap { line.hasPrefix($0.prefix) ? $0.bytes : nil }; lock.unlock()
                if let before { send(before) }
                send(ESLEncoder.commandReply(line == "auth \(password)" ? "+OK accepted" : "+OK"))
            }
        }
    }
}
