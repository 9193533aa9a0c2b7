import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardESL
import SwitchyardTestSupport

/// The box's I/O thread runs an event's route itself when every worker sleeps with nothing queued and nothing else of
/// the box waits (core rt_event_raise_here, freeswitch API box_burst): one thread wake-up less per event. Its own
/// command's reply is then read by that thread; a slow route holds neither other boxes' events nor the replies
/// workers wait for; TCP still pushes back, nothing is lost, order is kept. Real TCP: the esl-simulator and a
/// scripted box, the server in-process.
final class FreeSwitchInlineRouteTests: XCTestCase {
    static let password = "Inline-ClueCon"

    private func config(_ urls: [String], extra: String = "", route: String) -> String {
        """
        mpath = "\(BinaryRunner.buildDirectory.path)"
        \(extra)
        loadmodule "json.so"
        loadmodule "statistics.so"
        loadmodule "freeswitch.so"
        loadmodule "freeswitch_scripting.so"
        modparam("statistics", "variable", "fsev")
        \(urls.map { "modparam(\"freeswitch_scripting\", \"fs_subscribe\", \"\($0)\")" }.joined(separator: "\n"))
        event_route[E_FREESWITCH] {
        \(route)
        }
        event_route[E_GO] {
            $var(out) = "";
            freeswitch_esl("api echo $param(word)", $param(box), $var(out));
            xlog("GOT $var(out)");
        }
        """
    }

    private func url(_ port: Int) -> String { "fs://:\(Self.password)@127.0.0.1:\(port)/?DTMF" }

    private func digits(_ h: ServerHarness, _ tag: String) -> String {
        h.messages.compactMap { m in m.range(of: tag + " ").map { String(m[$0.upperBound...].prefix(1)) } }.joined()
    }

    /// Events one at a time (each sent once the last one's route ended): each runs on the I/O thread (no worker
    /// woken), and its freeswitch_esl reply, read by that same thread, is the right one.
    func testPacedEventsRunOnTheReaderWhichReadsItsOwnReply() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let h = ServerHarness(config([url(sim.port)], route: """
                $json(ev) := $param(body);
                $var(out) = "";
                freeswitch_esl("api echo r$json(ev/DTMF-Digit)", "127.0.0.1:\(sim.port)", $var(out));
                xlog("FSEV $json(ev/DTMF-Digit) $var(out)");
            """))
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))
        let uuid = try sim.call("1000", "-")
        let sent = "0123456789"
        for (i, d) in sent.enumerated() {
            XCTAssertEqual(try sim.control("dtmf \(uuid) \(d)").first, "+OK")
            XCTAssertTrue(waitUntil(timeout: 10) { h.messages.filter { $0.contains("FSEV ") }.count == i + 1 }, h.messages.joined(separator: "\n"))
        }
        XCTAssertEqual(h.messages.filter { $0.contains("FSEV ") }.map { String($0[$0.range(of: "FSEV ")!.upperBound...]) },
                       sent.map { "\($0) r\($0)" })
        XCTAssertEqual(h.server.bus?.ranInline.load(ordering: .relaxed), sent.count, "every event ran on the I/O thread")
    }

    /// Two digits sent together (the second right behind the first in the stream, as a late sender's pair at a
    /// paced rate): both run on the I/O thread, each with its own reply. A backlog makes a burst only when the box's
    /// next event has one too; waking a worker for the second would cost more wake-ups than running it in turn.
    func testAPairArrivingTogetherRunsOnTheReader() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let h = ServerHarness(config([url(sim.port)], route: """
                $json(ev) := $param(body);
                $var(out) = "";
                freeswitch_esl("api echo r$json(ev/DTMF-Digit)", "127.0.0.1:\(sim.port)", $var(out));
                xlog("FSEV $json(ev/DTMF-Digit) $var(out)");
            """))
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))
        let uuid = try sim.call("1000", "-")
        let pairs = ["12", "34", "56"]
        for (i, pair) in pairs.enumerated() {
            XCTAssertEqual(try sim.control("dtmf \(uuid) \(pair)").first, "+OK")
            XCTAssertTrue(waitUntil(timeout: 10) { h.messages.filter { $0.contains("FSEV ") }.count == 2 * (i + 1) },
                          h.messages.joined(separator: "\n"))
        }
        XCTAssertEqual(h.messages.filter { $0.contains("FSEV ") }.map { String($0[$0.range(of: "FSEV ")!.upperBound...]) },
                       pairs.joined().map { "\($0) r\($0)" })
        XCTAssertEqual(h.server.bus?.ranInline.load(ordering: .relaxed), 2 * pairs.count, "both events of each pair ran on the I/O thread")
    }

    /// The burst state belongs to the box's reader and ends with its connection: two events read with part of a third
    /// frame behind them (the second a burst: queued), then the connection drops. After the reconnection a pair arriving together runs on
    /// the I/O thread, as on any new connection: a burst takes a backlog behind two events of one connection.
    func testABurstDoesNotOutliveItsConnection() throws {
        let box = try PlainESLBox(password: Self.password)
        defer { box.stop() }
        let h = ServerHarness(config([url(box.port)], route: """
                $json(ev) := $param(body);
                xlog("FSEV $json(ev/DTMF-Digit)");
            """))
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        defer { h.stop() }
        func subscriptions() -> Int { box.commands.filter { $0.hasPrefix("event json DTMF") }.count }
        XCTAssertTrue(waitUntil(timeout: 10) { subscriptions() == 1 }, h.messages.joined(separator: "\n"))
        func event(_ digit: String) -> [UInt8] {
            ESLEncoder.event(ESLEvent(headers: [ESLHeader("Event-Name", "DTMF"), ESLHeader("Unique-ID", "u-\(digit)"),
                                                ESLHeader("DTMF-Digit", digit)]), format: .json)
        }
        let half = event("9")
        box.send(event("1") + event("2") + half.prefix(half.count / 2))
        XCTAssertTrue(waitUntil(timeout: 10) { digits(h, "FSEV").count == 2 }, h.messages.joined(separator: "\n"))
        // The precondition: the three arrived in one read, so 2 was a burst (queued) and the reader ends this
        // connection with "more behind the last event" set. Read apart, 2 would have run inline too.
        XCTAssertEqual(h.server.bus?.ranInline.load(ordering: .relaxed), 1, "2 came behind 1 with more behind it")
        box.dropClient()
        XCTAssertTrue(waitUntil(timeout: 20) { subscriptions() == 2 }, h.messages.joined(separator: "\n"))
        box.send(event("3") + event("4"))
        XCTAssertTrue(waitUntil(timeout: 10) { digits(h, "FSEV").count == 4 }, h.messages.joined(separator: "\n"))
        XCTAssertEqual(digits(h, "FSEV"), "1234", "the half-sent event went with its connection")
        XCTAssertEqual(h.server.bus?.ranInline.load(ordering: .relaxed), 3, "the new connection's pair ran on the I/O thread")
    }

    /// Bursts of digits with one worker: some run on the I/O thread, the rest queue to the worker; the routes still
    /// start in stream order, none is lost.
    func testBurstsKeepTheirOrderBetweenTheReaderAndTheWorker() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let h = ServerHarness(config([url(sim.port)], route: """
                $json(ev) := $param(body);
                xlog("FSEV start $json(ev/DTMF-Digit)");
                freeswitch_esl("api echo x", "127.0.0.1:\(sim.port)", $var(out));
                xlog("FSEV end $json(ev/DTMF-Digit)");
            """))
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))
        let rounds = 20
        let uuid = try sim.call("1000", "-")
        // One paced digit first: it runs on the I/O thread (the feature is on).
        XCTAssertEqual(try sim.control("dtmf \(uuid) 9").first, "+OK")
        XCTAssertTrue(waitUntil(timeout: 10) { digits(h, "FSEV end").count == 1 })
        XCTAssertEqual(h.server.bus?.ranInline.load(ordering: .relaxed), 1)
        for _ in 0..<rounds { XCTAssertEqual(try sim.control("dtmf \(uuid) 0123456789").first, "+OK") }
        XCTAssertTrue(waitUntil(timeout: 30) { digits(h, "FSEV end").count == rounds * 10 + 1 }, "\(digits(h, "FSEV end").count) routes")
        XCTAssertEqual(digits(h, "FSEV start"), "9" + String(repeating: "0123456789", count: rounds))
        // Each route ends before the next starts, whichever thread ran it.
        let marks = h.messages.compactMap { m -> String? in
            guard let r = m.range(of: "FSEV ") else { return nil }
            return String(m[r.upperBound...].prefix(while: { $0 != " " }))
        }
        XCTAssertEqual(marks, Array(repeating: ["start", "end"], count: rounds * 10 + 1).flatMap { $0 })
        let inline = h.server.bus?.ranInline.load(ordering: .relaxed) ?? 0
        XCTAssertGreaterThan(inline, 0)
        XCTAssertLessThan(inline, rounds * 10 + 1, "a burst's events behind the first are queued")
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
    }

    /// Box A's route waits on box B (B holds its reply: a slow dependency, as a database call). Meanwhile a worker's
    /// command to A gets its reply (the worker reads A's socket itself), B's own event runs its route, and a flood
    /// on A stalls (nobody reads A's events: TCP pushes back). Once B answers, every event of the flood runs.
    func testASlowRouteOnTheReaderHoldsNoOtherBoxNorOtherRepliesAndTCPPushesBack() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let slow = try PlainESLBox(password: Self.password)
        defer { slow.stop() }
        slow.hold("api hold")
        let h = ServerHarness(config([url(sim.port), url(slow.port)], extra: "event_queue_size = 16", route: """
                $json(ev) := $param(body);
                $var(dest) = $json(ev/Caller-Destination-Number);
                if ($var(dest) == "hold") {
                    xlog("HOLD start");
                    freeswitch_esl("api hold", "127.0.0.1:\(slow.port)", $var(out));
                    xlog("HOLD done");
                } else if ($var(dest) == "fromB") {
                    xlog("FROMB ran");
                } else {
                    update_stat("fsev", 1);
                }
            """))
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(waitUntil(timeout: 10) { h.messages.filter { $0.contains("connected and authenticated") }.count == 2 },
                      h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))
        XCTAssertTrue(waitUntil(timeout: 5) { slow.commands.contains { $0.hasPrefix("event json DTMF") } })

        // A's event: its route runs on A's I/O thread (the workers sleep) and waits for B.
        _ = try sim.call("hold", "5")
        XCTAssertTrue(h.waitFor("HOLD start", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertEqual(h.server.bus?.ranInline.load(ordering: .relaxed), 1, "the HOLD route runs on A's I/O thread")
        XCTAssertTrue(waitUntil(timeout: 5) { slow.commands.contains("api hold") })

        // A worker's command to A: answered although A's I/O thread is held in the route.
        XCTAssertEqual(h.server.raiseEvent("E_GO", [("word", .str("past-the-reader")), ("box", .str("127.0.0.1:\(sim.port)"))]), 0)
        XCTAssertTrue(h.waitFor("GOT past-the-reader", timeout: 10), h.messages.joined(separator: "\n"))

        // B's own event runs its route.
        let headers = [ESLHeader("Event-Name", "DTMF"), ESLHeader("Unique-ID", "b-1"), ESLHeader("DTMF-Digit", "7"),
                       ESLHeader("Caller-Destination-Number", "fromB")]
        slow.send(ESLEncoder.event(ESLEvent(headers: headers), format: .json))
        XCTAssertTrue(h.waitFor("FROMB ran", timeout: 10), h.messages.joined(separator: "\n"))

        // A flood on A: nobody reads A's events now, so the simulator's writes stall below n.
        let n = 10_000
        let flood = try ControlLine(port: sim.controlPort, "flood \(n)")
        defer { flood.close() }
        // Stalled: events_sent has not moved for 300 ms (there is no event to wait for; the quiet time defines it).
        var last = -1, lastMoved = Date(), stalled: Int? = nil
        waitUntil(timeout: 20, poll: 0.02) {
            let sent = sim.stats()["events_sent"] ?? 0
            if sent != last { last = sent; lastMoved = Date(); return false }
            if Date().timeIntervalSince(lastMoved) < 0.3 { return false }
            stalled = sent
            return true
        }
        XCTAssertNotNil(stalled, "the simulator kept writing")
        XCTAssertLessThan(stalled ?? n, n, "TCP pushed back on the simulator")
        XCTAssertFalse(h.messages.contains { $0.contains("HOLD done") })

        slow.release()
        XCTAssertTrue(h.waitFor("HOLD done", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(waitUntil(timeout: 120) { statValue(h, "fsev") == n }, "ran \(statValue(h, "fsev") ?? -1) of \(n)")
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
        XCTAssertTrue(flood.readLine(timeout: 10)?.hasPrefix("+OK \(n) events") ?? false)
    }

    /// A route that runs 10 ms or more on one I/O thread stops inline runs on the others while it runs (B's event goes
    /// to a worker), and once it ended slow (it waited InlineRunners.blockedNs or more) the route is queued until a
    /// run of it (on a worker) is quick again.
    func testASlowRouteIsNotRunInlineWhileItRunsNorAfterItWasSlow() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let slow = try PlainESLBox(password: Self.password)
        defer { slow.stop() }
        slow.hold("api hold")
        let h = ServerHarness(config([url(sim.port), url(slow.port)], route: """
                $json(ev) := $param(body);
                if ($json(ev/Caller-Destination-Number) == "hold") {
                    freeswitch_esl("api hold", "127.0.0.1:\(slow.port)", $var(out));
                    xlog("HOLD done");
                } else {
                    xlog("FSEV $json(ev/DTMF-Digit)");
                }
            """))
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(waitUntil(timeout: 10) { h.messages.filter { $0.contains("connected and authenticated") }.count == 2 },
                      h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))
        XCTAssertTrue(waitUntil(timeout: 5) { slow.commands.contains { $0.hasPrefix("event json DTMF") } })
        guard let bus = h.server.bus, let route = bus.routes.current.events["E_FREESWITCH"] else { return XCTFail("no bus") }
        let fresh = RouteBox(kind: route.kind, name: "fresh", location: route.location)

        _ = try sim.call("hold", "5")
        XCTAssertTrue(waitUntil(timeout: 10) { slow.commands.contains("api hold") })
        // The run started before its command reached the box: it has lasted at least as long as the box has held it.
        let held = ContinuousClock.now
        XCTAssertEqual(bus.ranInline.load(ordering: .relaxed), 1, "the HOLD route runs on A's I/O thread")
        // Once it has run 10 ms, no other route may run inline, B's included.
        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.002) { !bus.inline.allowed(fresh) })
        let headers = [ESLHeader("Event-Name", "DTMF"), ESLHeader("Unique-ID", "b-1"), ESLHeader("DTMF-Digit", "7"),
                       ESLHeader("Caller-Destination-Number", "fromB")]
        slow.send(ESLEncoder.event(ESLEvent(headers: headers), format: .json))
        XCTAssertTrue(h.waitFor("FSEV 7", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertEqual(bus.ranInline.load(ordering: .relaxed), 1, "B's event went to a worker")

        // Held past the bar of a route that waits: slow after this one run.
        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.01) {
            ContinuousClock.now - held >= .nanoseconds(Int64(InlineRunners.blockedNs))
        })
        slow.release()
        XCTAssertTrue(h.waitFor("HOLD done", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(waitUntil(timeout: 5) { route.slow.load(ordering: .relaxed) })
        // After the 1 s pause a fresh route could run inline again, but this one is known to be slow: queued.
        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.01) { bus.inline.allowed(fresh) })
        let uuid = try sim.call("1000", "-")
        XCTAssertEqual(try sim.control("dtmf \(uuid) 1").first, "+OK")
        XCTAssertTrue(h.waitFor("FSEV 1", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertEqual(bus.ranInline.load(ordering: .relaxed), 1, "the route known to be slow went to a worker")
        // That worker run was quick: the next event runs inline again.
        XCTAssertTrue(waitUntil(timeout: 5) { bus.inline.allowed(route) })
        XCTAssertEqual(try sim.control("dtmf \(uuid) 2").first, "+OK")
        XCTAssertTrue(h.waitFor("FSEV 2", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertEqual(bus.ranInline.load(ordering: .relaxed), 2)
    }

    /// A box that has `n` DTMF events ready to send before its reply to "api burst", and a server whose route sends that
    /// command when the "burst" event comes (any other event bumps stat fsev). Returns once that event is sent.
    /// The box's i-th event before the reply.
    private static func burstFrame(_ i: Int) -> [UInt8] {
        let headers = [ESLHeader("Event-Name", "DTMF"), ESLHeader("Unique-ID", "u-\(i)"), ESLHeader("DTMF-Digit", "1"),
                       ESLHeader("Caller-Destination-Number", "flood\(i)")]
        return ESLEncoder.event(ESLEvent(headers: headers), format: .json)
    }

    private func startBurstBeforeReply(_ n: Int, cmdTimeoutMS: Int) throws -> (PlainESLBox, ServerHarness) {
        let box = try PlainESLBox(password: Self.password)
        var events: [UInt8] = []
        for i in 0..<n { events += Self.burstFrame(i) }
        box.sendBefore("api burst", events)
        let h = ServerHarness(config([url(box.port)], extra: "event_queue_size = 16", route: """
                $json(ev) := $param(body);
                if ($json(ev/Caller-Destination-Number) == "burst") {
                    if (freeswitch_esl("api burst", "127.0.0.1:\(box.port)", $var(out))) { xlog("BURST ok"); } else { xlog("BURST failed"); }
                } else {
                    update_stat("fsev", 1);
                }
            """) + "\nmodparam(\"freeswitch\", \"esl_cmd_timeout\", \(cmdTimeoutMS))\n")
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        do { try h.start() } catch { box.stop(); throw error }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(waitUntil(timeout: 5) { box.commands.contains { $0.hasPrefix("event json DTMF") } })
        let trigger = [ESLHeader("Event-Name", "DTMF"), ESLHeader("Unique-ID", "b-0"), ESLHeader("DTMF-Digit", "9"),
                       ESLHeader("Caller-Destination-Number", "burst")]
        box.send(ESLEncoder.event(ESLEvent(headers: trigger), format: .json))
        return (box, h)
    }

    /// A route run on the I/O thread sends a command; the box sends 3,000 events before its reply (more than a
    /// caller reads ahead, BoxReader.heldMax). Only that thread can read them, so it reads on to its reply (no wait
    /// for esl_cmd_timeout), then every event runs.
    func testTheReaderRunningARouteReadsPastTheBoundToItsOwnReply() throws {
        let n = 3000
        let (box, h) = try startBurstBeforeReply(n, cmdTimeoutMS: 30000)
        defer { box.stop() }
        defer { h.stop() }
        // Well inside esl_cmd_timeout (30 s): the reply was read, not waited out.
        XCTAssertTrue(h.waitFor("BURST ok", timeout: 15), h.messages.suffix(5).joined(separator: "\n"))
        XCTAssertEqual(h.server.bus?.ranInline.load(ordering: .relaxed) ?? 0 >= 1, true, "the trigger ran on the I/O thread")
        XCTAssertTrue(waitUntil(timeout: 60) { statValue(h, "fsev") == n }, "ran \(statValue(h, "fsev") ?? -1) of \(n)")
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
    }

    /// The same with more events before the reply than the I/O thread holds (BoxReader.heldHardMax): the command
    /// fails as unreachable at once (not after esl_cmd_timeout), then every event runs.
    func testTheReaderStopsReadingPastTheHardCap() throws {
        let n = ReadAheadCap.eventsPast(smallestFrame: Self.burstFrame(0).count)
        let (box, h) = try startBurstBeforeReply(n, cmdTimeoutMS: 60000)
        defer { box.stop() }
        defer { h.stop() }
        // Well inside esl_cmd_timeout (60 s): failed at the cap, not waited out.
        XCTAssertTrue(h.waitFor("BURST failed", timeout: 30), h.messages.suffix(5).joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.contains("events ahead of a command's reply") })
        XCTAssertTrue(waitUntil(timeout: 60) { statValue(h, "fsev") == n }, "ran \(statValue(h, "fsev") ?? -1) of \(n)")
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
    }

    private func statValue(_ h: ServerHarness, _ name: String) -> Int? {
        let reply = h.server.mi.dispatcher.response(
            toText: #"{"jsonrpc":"2.0","method":"get_statistics","params":{"statistics":["all"]},"id":1}"#)
        guard let result = reply?["result"]?.objectValue, let key = result.keys.first(where: { $0.hasSuffix(":" + name) }) else {
            return nil
        }
        return result[key]?.intValue.map { Int($0) }
    }
}
