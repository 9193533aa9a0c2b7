import Foundation
import XCTest
import SwitchyardMI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// `freeswitch` + `freeswitch_scripting` against the real `esl-simulator` executable over TCP on loopback.
final class FreeSwitchModuleTests: XCTestCase {
    static let password = "S3cr3t-ClueCon"

    /// The esl-simulator, driven through its stdin control channel.
    final class Simulator: @unchecked Sendable { // buffer guarded by lock
        let process = Process()
        let input = Pipe()
        let output = Pipe()
        private let lock = NSLock()
        private var buffer = ""
        private(set) var port = 0

        init(port: Int = 0, heartbeat: Double = 0.5) throws {
            process.executableURL = BinaryRunner.buildDirectory.appendingPathComponent("esl-simulator")
            process.arguments = ["--port", String(port), "--password", FreeSwitchModuleTests.password,
                                 "--heartbeat", String(heartbeat), "--verbose"]
            process.standardInput = input
            process.standardOutput = output
            process.standardError = output
            output.fileHandleForReading.readabilityHandler = { [weak self] h in
                let d = h.availableData
                // EOF: a handler left set keeps its FileHandle (so the pipe's fd) open for the whole test run.
                if d.isEmpty { h.readabilityHandler = nil }
                guard let self, !d.isEmpty else { return }
                self.lock.lock(); self.buffer += String(decoding: d, as: UTF8.self); self.lock.unlock()
            }
            try process.run()
            var listening: Substring? = nil
            if waitUntil(timeout: 10, { listening = text.range(of: #"listening on [^:]+:(\d+)"#, options: .regularExpression).map { text[$0] }; return listening != nil }),
               let s = listening {
                self.port = Int(s.split(separator: ":").last!)!
                return
            }
            throw NSError(domain: "esl-simulator", code: 1, userInfo: [NSLocalizedDescriptionKey: "did not start: \(text)"])
        }

        var text: String { lock.lock(); defer { lock.unlock() }; return buffer }

        func send(_ line: String) {
            input.fileHandleForWriting.write(Data((line + "\n").utf8))
        }

        /// Waits until connection number `n` (1 = the first) has sent both subscriptions (DTMF, CHANNEL_ANSWER); the
        /// simulator handles one connection's commands in order, so once the second is received the first is in
        /// effect, and events fired after the last one echoed reach the subscriber.
        func waitForSubscriptions(_ n: Int, timeout: TimeInterval = 10) -> Bool {
            waitUntil(timeout: timeout) {
                let mine = text.split(separator: "\n").filter { $0.contains("esl-simulator: [") && $0.contains("event json") }
                return mine.filter { $0.contains("DTMF") || $0.contains("CHANNEL_ANSWER") }.count >= 2 * n
            }
        }

        /// Waits until the simulator's output contains `s`.
        @discardableResult
        func waitFor(_ s: String, timeout: TimeInterval = 5) -> Bool {
            waitUntil(timeout: timeout) { text.contains(s) }
        }

        func kill() {
            if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }

        deinit { kill() }
    }

    private func mi(_ h: ServerHarness, _ method: String, _ params: String = "{}") -> JSONValue? {
        h.server.mi.dispatcher.response(toText: #"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#)
    }

    private func log(_ h: ServerHarness) -> String { h.messages.joined(separator: "\n") }

    private func harness(port: Int, extra: String = "") -> ServerHarness {
        ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "json.so"
        loadmodule "freeswitch.so"
        loadmodule "freeswitch_scripting.so"
        modparam("freeswitch", "esl_connect_timeout", 2000)
        modparam("freeswitch", "esl_cmd_timeout", 2000)
        modparam("freeswitch", "esl_cmd_polling_itv", 1000)
        modparam("freeswitch_scripting", "fs_subscribe", "fs://:\(Self.password)@127.0.0.1:\(port)/?DTMF,CHANNEL_ANSWER")
        \(extra)
        event_route[E_FREESWITCH] {
            $json(ev) := $param(body);
            xlog("FSEV name=$param(name) sender=$param(sender) digit=$json(ev/DTMF-Digit) bodylen=$(param(body){s.len})");
            if ($param(name) == "DTMF") {
                $var(rc) = freeswitch_esl("api echo from-event", $param(sender), $var(out));
                xlog("FSREUSE rc=$var(rc) out=$var(out)");
            }
        }
        event_route[E_FSTEST] {
            $var(out) = "unset";
            $var(rc) = freeswitch_esl($param(cmd), $param(url), $var(out));
            xlog("FSCMD $param(case) rc=$var(rc) out=$var(out)");
        }
        """)
    }

    private func command(_ h: ServerHarness, _ name: String, _ cmd: String, _ url: String,
                         file: StaticString = #filePath, line: UInt = #line) -> String? {
        XCTAssertEqual(h.server.raiseEvent("E_FSTEST", [("case", .str(name)), ("cmd", .str(cmd)), ("url", .str(url))]), 0,
                       file: file, line: line)
        guard h.waitFor("FSCMD \(name) ", timeout: 10) else {
            XCTFail("no FSCMD \(name) in:\n" + log(h), file: file, line: line)
            return nil
        }
        return h.messages.last { $0.contains("FSCMD \(name) ") }.map { String($0[$0.range(of: "FSCMD \(name) ")!.upperBound...]) }
    }

    func testEventsCommandsReuseAndMI() throws {
        let sim = try Simulator()
        let h = harness(port: sim.port)
        XCTAssertEqual(h.prepare().map(\.description), [], log(h))
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), log(h))
        XCTAssertTrue(sim.waitForSubscriptions(1), sim.text)

        // A DTMF event reaches event_route[E_FREESWITCH] with name/sender/body; $json parses the body.
        sim.send("event DTMF DTMF-Digit=7 DTMF-Duration=2000")
        XCTAssertTrue(h.waitFor("FSEV name=DTMF sender=127.0.0.1 digit=7", timeout: 10), log(h))
        // The event's sender (a bare host) reuses the open connection.
        XCTAssertTrue(h.waitFor("FSREUSE rc=1 out=from-event", timeout: 10), log(h))

        // api: body; bgapi: Reply-Text with the Job-UUID; -ERR: -1; unreachable: -2.
        let url = "fs://:\(Self.password)@127.0.0.1:\(sim.port)"
        XCTAssertEqual(command(h, "api", "api echo hello", url), "rc=1 out=hello")
        let bg = command(h, "bgapi", "bgapi status", "127.0.0.1") ?? ""
        XCTAssertTrue(bg.hasPrefix("rc=1 out=+OK Job-UUID: "), bg)
        let err = command(h, "err", "api no_such_command", url) ?? ""
        XCTAssertTrue(err.hasPrefix("rc=-1 out=-ERR no_such_command"), err)
        XCTAssertEqual(command(h, "dead", "api status", "fs://:x@127.0.0.1:1"), "rc=-2 out=unset")
        XCTAssertEqual(command(h, "unknown", "api status", "10.255.255.1"), "rc=-2 out=unset")

        // MI fs_list (and the 4.0 name).
        let list = mi(h, "fs_list")?.description ?? ""
        XCTAssertTrue(list.contains("127.0.0.1:\(sim.port)") && list.contains("DTMF") && list.contains("CHANNEL_ANSWER"), list)
        XCTAssertEqual(mi(h, "freeswitch_scripting:list")?.description, list)
        // MI subscribe adds an event; unsubscribe removes it.
        let sub = mi(h, "fs_subscribe", #"{"freeswitch_url":"127.0.0.1:\#(sim.port)","events":["HEARTBEAT"]}"#)?.description ?? ""
        XCTAssertTrue(sub.contains("OK"), sub)
        XCTAssertTrue((mi(h, "fs_list")?.description ?? "").contains("HEARTBEAT"))
        XCTAssertTrue(h.waitFor("FSEV name=HEARTBEAT sender=127.0.0.1", timeout: 10), log(h))
        _ = mi(h, "fs_unsubscribe", #"{"freeswitch_url":"127.0.0.1:\#(sim.port)","events":["HEARTBEAT"]}"#)
        XCTAssertFalse((mi(h, "fs_list")?.description ?? "").contains("HEARTBEAT"))

        // The password is in no log line.
        XCTAssertFalse(h.messages.contains { $0.contains(Self.password) }, log(h))
    }

    func testReconnectResubscribes() throws {
        var sim = try Simulator()
        let port = sim.port
        let h = harness(port: port)
        XCTAssertEqual(h.prepare().map(\.description), [], log(h))
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), log(h))
        XCTAssertTrue(sim.waitForSubscriptions(1), sim.text)
        sim.send("event DTMF DTMF-Digit=1")
        XCTAssertTrue(h.waitFor("digit=1", timeout: 10), log(h))

        sim.kill()
        XCTAssertTrue(h.waitFor("connection lost", timeout: 10), log(h))
        XCTAssertEqual(command(h, "down", "api status", "127.0.0.1"), "rc=-2 out=unset")
        sim = try Simulator(port: port)
        waitUntil(timeout: 15) { h.messages.filter { $0.contains("connected and authenticated") }.count >= 2 }
        XCTAssertEqual(h.messages.filter { $0.contains("connected and authenticated") }.count, 2, log(h))
        XCTAssertTrue(sim.waitForSubscriptions(1), sim.text)
        sim.send("event DTMF DTMF-Digit=9")
        XCTAssertTrue(h.waitFor("digit=9", timeout: 10), log(h))
        XCTAssertFalse(h.messages.contains { $0.contains(Self.password) }, log(h))
        sim.kill()
    }

    /// A box that accepts the password and then sends a bad frame is not reconnected in a storm: every failure backs
    /// off (a successful auth does not reset it); the cause is logged once, capped; a new cause (the password now
    /// refused) is logged at the next attempt, not at the 20th.
    func testBadFrameAfterAuthBacksOffAndNewCausesAreLogged() throws {
        let garbage = "Content-Length: " + String(repeating: "9x\u{1}", count: 2000) + "\n\n"
        let box = try FakeESLBox(mode: .acceptThenBadFrame(garbage))
        defer { box.stop() }
        let h = harness(port: box.port)
        XCTAssertEqual(h.prepare().map(\.description), [], log(h))
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connection lost (", timeout: 10), log(h))
        let first = box.arrivals.first ?? Date()
        // Over the next 4 s: attempts at about +0.5, +1.5, +3.5 s (500, 1000, 2000 ms), never a storm. The rate of
        // attempts is what is measured, so this watches the whole window (failing early if a storm starts).
        XCTAssertTrue(holds(for: first.addingTimeInterval(4).timeIntervalSinceNow) { box.arrivals.count <= 5 },
                      "connections in 4 s: \(box.arrivals.count)\n" + log(h))
        let inWindow = box.arrivals.filter { $0 < first.addingTimeInterval(4) }.count
        XCTAssertGreaterThanOrEqual(inWindow, 2, "it reconnects at all")
        XCTAssertLessThanOrEqual(inWindow, 5, "connections in 4 s: \(inWindow)\n" + log(h))
        let lost = h.messages.filter { $0.contains("connection lost (") }
        XCTAssertEqual(lost.count, 1, "the same cause is logged once:\n" + lost.joined(separator: "\n"))
        XCTAssertTrue(lost.allSatisfy { $0.count < 600 && !$0.contains("\u{1}") }, "garbage is capped:\n" + lost.joined(separator: "\n"))

        // The password is now refused: that new cause is logged at the very next attempt.
        let before = box.arrivals.count
        box.mode = .refuse
        // The next attempt comes after the current backoff step (at most 30 s).
        XCTAssertTrue(h.waitFor("cannot connect (authentication refused", timeout: 35), log(h))
        XCTAssertLessThanOrEqual(box.arrivals.count, before + 1, "logged at the first refused attempt")
        XCTAssertFalse(h.messages.contains { $0.contains(Self.password) }, log(h))
    }

    /// Shutting down while connected: the unsubscriptions reach the box and are answered; no "failed" warning.
    func testShutdownWhileConnectedWarnsNothing() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0.5"])
        defer { sim.stop() }
        let h = harness(port: sim.port)
        XCTAssertEqual(h.prepare().map(\.description), [], log(h))
        try h.start()
        func lines() -> [String] { ((try? sim.commandLines()) ?? []).map(\.line) }
        waitUntil(timeout: 10, poll: 0.02) { lines().contains("event json DTMF") && lines().contains("event json CHANNEL_ANSWER") }
        XCTAssertTrue(lines().contains("event json DTMF"), log(h))
        h.stop()
        XCTAssertTrue(lines().contains("nixevent DTMF"), "\(lines())")
        XCTAssertTrue(lines().contains("nixevent CHANNEL_ANSWER"), "\(lines())")
        XCTAssertFalse(h.messages.contains { $0.contains("failed") || $0.contains("not answered") }, log(h))
    }

    /// A text/event-json event whose body is not JSON is not raised (OpenSIPS parses the body to find the name): one
    /// log line, which quotes only the start of the body; the valid event after it is raised on the same connection.
    func testInvalidJSONEventIsNotRaised() throws {
        let box = try FakeESLBox(mode: .acceptAndServe)
        defer { box.stop() }
        let h = harness(port: box.port)
        XCTAssertEqual(h.prepare().map(\.description), [], log(h))
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(waitUntil(timeout: 10) { box.commands.filter { $0.hasPrefix("event json") }.count >= 2 }, "\(box.commands)")
        let broken = #"{"Event-Name":"DTMF","DTMF-Digit":"3", broken"# + String(repeating: "x", count: 2000)
        XCTAssertTrue(box.push(FakeESLBox.jsonEvent(broken) + FakeESLBox.jsonEvent(#"{"Event-Name":"DTMF","DTMF-Digit":"5"}"#)))
        XCTAssertTrue(h.waitFor("FSEV name=DTMF sender=127.0.0.1 digit=5", timeout: 10), log(h))
        XCTAssertEqual(h.messages.filter { $0.contains("FSEV ") }.count, 1, log(h))
        let ignored = h.messages.filter { $0.contains("undecodable event ignored") }
        XCTAssertEqual(ignored.count, 1, log(h))
        XCTAssertTrue(ignored.allSatisfy { $0.contains("not valid JSON") && $0.count < 400 }, ignored.joined(separator: "\n"))
        XCTAssertEqual(box.arrivals.count, 1, log(h))
        XCTAssertFalse(h.messages.contains { $0.contains("connection lost") }, log(h))
    }

    /// A connected box that loses its last subscription says once that it is closed, though its I/O thread asks
    /// whether to reap it at every housekeeping pass while it waits (up to 1 s) for the unanswered unsubscriptions.
    func testUnusedBoxSaysClosingOnce() throws {
        let box = try FakeESLBox(mode: .acceptAndServe)
        defer { box.stop() }
        let h = harness(port: box.port, extra: "log_level = 3") // the line is INFO
        XCTAssertEqual(h.prepare().map(\.description), [], log(h))
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(waitUntil(timeout: 10) { box.commands.filter { $0.hasPrefix("event json") }.count >= 2 }, "\(box.commands)")
        box.answering = false
        _ = mi(h, "fs_unsubscribe", #"{"freeswitch_url":"127.0.0.1:\#(box.port)","events":["DTMF","CHANNEL_ANSWER"]}"#)
        let closing = { h.messages.filter { $0.contains("127.0.0.1:\(box.port): no longer used, closing") }.count }
        XCTAssertTrue(waitUntil(timeout: 5) { closing() >= 1 }, log(h))
        // The I/O thread ends once the grace for the replies is over: the box sees the connection close.
        XCTAssertTrue(waitUntil(timeout: 5) { box.connectionClosed }, log(h))
        XCTAssertEqual(closing(), 1, log(h))
    }
}
