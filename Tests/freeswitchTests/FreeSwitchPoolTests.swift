import Foundation
import XCTest
import SwitchyardMI
@testable import SwitchyardCore
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardTestSupport

/// `freeswitch` + `freeswitch_scripting` as a pool of boxes: boxes from the SQL table and `fs_reload`, liveness
/// (heartbeat watchdog), pipelined `freeswitch_esl` from several workers at once, and the ESL password kept out of
/// logs and MI. Real `esl-simulator` processes on loopback (driven over their control ports), a real SQLite file
/// (written with the `sqlite3` CLI while the server runs), the server in-process.
final class FreeSwitchPoolTests: XCTestCase {
    typealias Sim = SimulatorProcess

    private var dir: URL!

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: BinaryRunner.buildDirectory.appendingPathComponent("esl-simulator").path) else {
            throw XCTSkip("needs a built esl-simulator")
        }
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sy-fspool-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        if let dir { try? FileManager.default.removeItem(at: dir) }
    }

    // MARK: helpers

    private func mi(_ h: ServerHarness, _ method: String, _ params: String = "{}") -> String {
        h.server.mi.dispatcher.response(toText: #"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#)?.description ?? "(no reply)"
    }

    private func log(_ h: ServerHarness) -> String { h.collector.all.suffix(200).joined(separator: "\n") }

    /// Runs SQL on the SQLite file with the sqlite3 CLI (a second process writing while the server reads).
    private func sql(_ db: String, _ statements: String, file: StaticString = #filePath, line: UInt = #line) throws {
        do { try SQLiteCLI.run(db, statements) } catch { XCTFail("sqlite3: \(error)", file: file, line: line) }
    }

    private func waitUntil(_ what: String, timeout: TimeInterval, file: StaticString = #filePath, line: UInt = #line,
                           _ cond: () -> Bool) -> Bool {
        if SwitchyardTestSupport.waitUntil(timeout: timeout, poll: 0.02, cond) { return true }
        XCTFail("timed out (\(timeout) s) waiting for \(what)", file: file, line: line)
        return false
    }

    private func count(_ h: ServerHarness, _ s: String) -> Int { h.messages.filter { $0.contains(s) }.count }

    /// The box is connected, authenticated and has received `event json <E>` for every one of `events`.
    private func subscribed(_ sim: Sim, _ events: [String]) -> Bool {
        let lines = Set(sim.poolCommands().map(\.line))
        return events.allSatisfy { lines.contains("event json \($0)") } && sim.stats()["authed"] == 1
    }

    private static let modules = """
        loadmodule "json.so"
        loadmodule "freeswitch.so"
        loadmodule "freeswitch_scripting.so"
        modparam("freeswitch", "esl_connect_timeout", 2000)
        modparam("freeswitch", "esl_cmd_timeout", 3000)
        """

    // MARK: a. boxes from the SQL table, fs_list, fs_reload

    func testBoxesFromTableAndReload() throws {
        let pw = "TablePw-31337"
        let a = try Sim(password: pw, heartbeat: 0.5)
        let b = try Sim(password: pw, heartbeat: 0.5)
        let c = try Sim(password: pw, heartbeat: 0.5)
        let db = dir.appendingPathComponent("fs.db").path
        let schema = Repo.root.appendingPathComponent("Plugins/freeswitch_scripting/schema/sqlite.sql").path
        try sql(db, try String(contentsOfFile: schema, encoding: .utf8) + """
            INSERT INTO freeswitch (username, password, ip, port, events_csv) VALUES (NULL, '\(pw)', '127.0.0.1', \(a.port), 'DTMF,CHANNEL_ANSWER');
            INSERT INTO freeswitch (username, password, ip, port, events_csv) VALUES (NULL, '\(pw)', '127.0.0.1', \(b.port), 'DTMF');
            """)

        let h = ServerHarness("""
        log_level = 3
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "db_sqlite.so"
        \(Self.modules)
        modparam("freeswitch_scripting", "db_url", "sqlite://\(db)")
        event_route[E_FREESWITCH] {
            $json(ev) := $param(body);
            xlog("FSEV name=$param(name) box=$json(ev/Box) seq=$json(ev/Seq)");
        }
        """)
        XCTAssertEqual(h.prepare().map(\.description), [], log(h))
        try h.start()
        defer { h.stop() }
        guard waitUntil("box A subscribed", timeout: 10, { subscribed(a, ["HEARTBEAT", "DTMF", "CHANNEL_ANSWER"]) }),
              waitUntil("box B subscribed", timeout: 10, { subscribed(b, ["HEARTBEAT", "DTMF"]) }) else { return XCTFail(log(h)) }
        XCTAssertTrue(h.waitFor("2 FreeSWITCH box(es) loaded from freeswitch"), log(h))
        XCTAssertEqual(c.stats()["accepted"], 0)

        // Events of each box reach the event_route.
        a.fire("DTMF Box=A Seq=1 DTMF-Digit=1")
        a.fire("CHANNEL_ANSWER Box=A Seq=2")
        b.fire("DTMF Box=B Seq=1 DTMF-Digit=2")
        b.fire("CHANNEL_ANSWER Box=B Seq=2")  // not subscribed on B: never delivered
        XCTAssertTrue(h.waitFor("FSEV name=DTMF box=A seq=1", timeout: 10), log(h))
        XCTAssertTrue(h.waitFor("FSEV name=CHANNEL_ANSWER box=A seq=2", timeout: 10), log(h))
        XCTAssertTrue(h.waitFor("FSEV name=DTMF box=B seq=1", timeout: 10), log(h))

        // fs_list shows both boxes with their events, in table order.
        var list = mi(h, "fs_list")
        XCTAssertTrue(list.contains("127.0.0.1:\(a.port)"), list)
        XCTAssertTrue(list.contains("127.0.0.1:\(b.port)"), list)
        XCTAssertFalse(list.contains("127.0.0.1:\(c.port)"), list)
        XCTAssertEqual(Self.listedEvents(list, "127.0.0.1:\(a.port)"), ["DTMF", "CHANNEL_ANSWER"], list)
        XCTAssertEqual(Self.listedEvents(list, "127.0.0.1:\(b.port)"), ["DTMF"], list)
        XCTAssertFalse(list.contains(pw), list)

        // Change the table: B removed, C added, A kept (with one more event).
        try sql(db, """
            DELETE FROM freeswitch WHERE port = \(b.port);
            UPDATE freeswitch SET events_csv = 'DTMF,CHANNEL_ANSWER,CHANNEL_HANGUP' WHERE port = \(a.port);
            INSERT INTO freeswitch (username, password, ip, port, events_csv) VALUES (NULL, '\(pw)', '127.0.0.1', \(c.port), 'DTMF');
            """)
        let aConnBefore = Set(a.poolCommands().map(\.conn))
        XCTAssertEqual(aConnBefore.count, 1)
        let reload = mi(h, "fs_reload")
        XCTAssertTrue(reload.contains("\"OK\""), reload)

        // C: connected and subscribed. B: its connection closed. A: the same connection, one more subscription.
        guard waitUntil("box C subscribed after fs_reload", timeout: 10, { subscribed(c, ["HEARTBEAT", "DTMF"]) }) else { return XCTFail(log(h)) }
        XCTAssertTrue(waitUntil("box B's connection closed", timeout: 10, { b.stats()["connections"] == 0 }), "\(b.stats())\n" + log(h))
        XCTAssertTrue(waitUntil("A subscribed to CHANNEL_HANGUP", timeout: 10, {
            a.poolCommands().contains { $0.line == "event json CHANNEL_HANGUP" }
        }), log(h))
        var aStats = a.stats()
        XCTAssertEqual(aStats["accepted"], 1, "box A was reconnected by the reload: \(aStats)")
        XCTAssertEqual(aStats["connections"], 1, "\(aStats)")
        let aCmds = a.poolCommands()
        XCTAssertEqual(Set(aCmds.map(\.conn)), aConnBefore, "A's commands came on another connection: \(aCmds)")
        XCTAssertEqual(aCmds.filter { $0.line.hasPrefix("auth") }.count, 1, "\(aCmds)")
        XCTAssertEqual(aCmds.filter { $0.line.hasPrefix("nixevent") }.map(\.line), [], "unchanged events were nixed on A")
        XCTAssertEqual(b.stats()["accepted"], 1)

        list = mi(h, "fs_list")
        XCTAssertEqual(Self.listedEvents(list, "127.0.0.1:\(a.port)"), ["DTMF", "CHANNEL_ANSWER", "CHANNEL_HANGUP"], list)
        XCTAssertEqual(Self.listedEvents(list, "127.0.0.1:\(c.port)"), ["DTMF"], list)
        XCTAssertNil(Self.listedEvents(list, "127.0.0.1:\(b.port)"), list)

        // Events keep flowing from A (same connection), start from C, stop from B.
        a.fire("DTMF Box=A Seq=3 DTMF-Digit=3")
        a.fire("CHANNEL_HANGUP Box=A Seq=4")
        c.fire("DTMF Box=C Seq=1 DTMF-Digit=4")
        b.fire("DTMF Box=B Seq=3 DTMF-Digit=5")
        XCTAssertTrue(h.waitFor("FSEV name=DTMF box=A seq=3", timeout: 10), log(h))
        XCTAssertTrue(h.waitFor("FSEV name=CHANNEL_HANGUP box=A seq=4", timeout: 10), log(h))
        XCTAssertTrue(h.waitFor("FSEV name=DTMF box=C seq=1", timeout: 10), log(h))

        // A broken table: the reload answers an error and the old pool keeps serving.
        try sql(db, "DROP TABLE freeswitch;")
        let broken = mi(h, "fs_reload")
        XCTAssertTrue(broken.contains("\"error\"") && broken.contains("500"), broken)
        XCTAssertFalse(broken.contains(pw), broken)
        XCTAssertEqual(mi(h, "fs_list"), list)
        a.fire("DTMF Box=A Seq=5 DTMF-Digit=6")
        c.fire("DTMF Box=C Seq=2 DTMF-Digit=7")
        XCTAssertTrue(h.waitFor("FSEV name=DTMF box=A seq=5", timeout: 10), log(h))
        XCTAssertTrue(h.waitFor("FSEV name=DTMF box=C seq=2", timeout: 10), log(h))
        // Later events on the same connections, handled: anything duplicated or still coming from B came before them.
        a.fire("DTMF Box=A Seq=6 DTMF-Digit=8")
        c.fire("DTMF Box=C Seq=3 DTMF-Digit=9")
        XCTAssertTrue(h.waitFor("FSEV name=DTMF box=A seq=6", timeout: 10), log(h))
        XCTAssertTrue(h.waitFor("FSEV name=DTMF box=C seq=3", timeout: 10), log(h))
        aStats = a.stats()
        XCTAssertEqual(aStats["accepted"], 1, "\(aStats)")
        XCTAssertEqual(aStats["connections"], 1, "\(aStats)")
        XCTAssertEqual(c.stats()["accepted"], 1)
        XCTAssertEqual(c.stats()["connections"], 1)
        XCTAssertEqual(b.stats()["connections"], 0)
        XCTAssertEqual(a.poolCommands().filter { $0.line.hasPrefix("nixevent") }.map(\.line), [])
        // Nothing from B after the reload, each other event exactly once.
        XCTAssertEqual(count(h, "box=B seq=3"), 0, log(h))
        XCTAssertEqual(count(h, "box=B seq=2"), 0, log(h))
        for s in ["box=A seq=1", "box=A seq=3", "box=A seq=5", "box=C seq=1", "box=C seq=2", "box=B seq=1"] {
            XCTAssertEqual(count(h, s), 1, s)
        }
        XCTAssertFalse(h.collector.all.contains { $0.contains(pw) }, log(h))
    }

    /// The events listed for `label` by fs_list (nil: not listed).
    static func listedEvents(_ json: String, _ label: String) -> [String]? {
        guard let data = json.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let result = obj["result"] as? [String: Any], let socks = result["Sockets"] as? [[String: Any]] else { return nil }
        return socks.first { ($0["if"] as? String) == label }.flatMap { $0["Events"] as? [String] }
    }

    // MARK: b. liveness

    func testDeadBoxDetectedAfterThreeHeartbeatsHealthyBoxKept() throws {
        let pw = "LivePw-2718"
        let dead = try Sim(password: pw, heartbeat: 1.5)   // limit 3 × 1.5 s = 4.5 s (above the 3 s floor)
        let healthy = try Sim(password: pw, heartbeat: 0.5) // limit: the 3 s floor
        let h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        \(Self.modules)
        modparam("freeswitch_scripting", "fs_subscribe", "fs://:\(pw)@127.0.0.1:\(dead.port)?DTMF")
        modparam("freeswitch_scripting", "fs_subscribe", "fs://:\(pw)@127.0.0.1:\(healthy.port)?DTMF")
        event_route[E_FREESWITCH] { xlog("FSEV $param(name)"); }
        """)
        XCTAssertEqual(h.prepare().map(\.description), [], log(h))
        try h.start()
        defer { h.stop() }
        guard waitUntil("both boxes subscribed", timeout: 10, { subscribed(dead, ["HEARTBEAT", "DTMF"]) && subscribed(healthy, ["HEARTBEAT", "DTMF"]) })
        else { return XCTFail(log(h)) }

        // Two heartbeats received: the box has shown its period. Then it falls silent (the heartbeat loop may still
        // send the one it was sleeping for). Track when its last event went out, and when it was reconnected.
        guard waitUntil("two heartbeats from the dying box", timeout: 6, { (dead.stats()["events_sent"] ?? 0) >= 2 }) else { return XCTFail(log(h)) }
        XCTAssertEqual(try dead.control("set heartbeat 0"), ["+OK"])
        var lastSent = dead.stats()["events_sent"] ?? 0
        var lastSentAt = Date()
        var reconnectedAt: Date? = nil
        SwitchyardTestSupport.waitUntil(timeout: 12, poll: 0.025) {
            let s = dead.stats()
            let now = Date()
            if let n = s["events_sent"], n != lastSent { lastSent = n; lastSentAt = now }
            if (s["accepted"] ?? 0) >= 2 { reconnectedAt = now; return true }
            return false
        }
        guard let reconnectedAt else { return XCTFail("the silent box was never declared dead: \(dead.stats())\n" + log(h)) }
        let silence = reconnectedAt.timeIntervalSince(lastSentAt)
        // 3 × 1.5 s after the last received byte, plus the 200 ms poll of the I/O thread, the reconnect and our 25 ms
        // polling; clearly more than the 3 s floor.
        XCTAssertGreaterThanOrEqual(silence, 4.3, "declared dead too early")
        XCTAssertLessThanOrEqual(silence, 5.6, "declared dead too late")
        let line = h.messages.first { $0.contains("127.0.0.1:\(dead.port): connection lost (nothing received for") } ?? ""
        print(String(format: "FreeSwitchPoolTests: silent box reconnected %.2f s after its last heartbeat went out; log: %@", silence, line))
        XCTAssertFalse(line.isEmpty, log(h))
        // "nothing received for <limit> ms (heartbeat every <hb> ms)"
        let nums = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.filter { $0 > 1000 && $0 != dead.port }
        if nums.count >= 2 {
            let (limit, hb) = (nums[nums.count - 2], nums[nums.count - 1])
            XCTAssertEqual(limit, 3 * hb, line)
            XCTAssertTrue((1400...1700).contains(hb), line)
        } else {
            XCTFail("cannot read the limit and period in: \(line)")
        }
        // Reconnected and re-subscribed on the new connection.
        XCTAssertTrue(waitUntil("re-subscription", timeout: 5, {
            dead.poolCommands().filter { $0.line == "event json DTMF" }.count == 2 && dead.stats()["authed"] == 1
        }), log(h))
        dead.fire("DTMF DTMF-Digit=1")
        XCTAssertTrue(h.waitFor("FSEV DTMF", timeout: 5), log(h))

        // The healthy box (heartbeat every 0.5 s) was never reconnected: one accepted connection in the whole test,
        // two more of its heartbeats sent after all of the above.
        let healthySent = healthy.stats()["events_sent"] ?? 0
        XCTAssertTrue(waitUntil("two more heartbeats from the healthy box", timeout: 5, { (healthy.stats()["events_sent"] ?? 0) >= healthySent + 2 }))
        XCTAssertEqual(healthy.stats()["accepted"], 1, log(h))
        XCTAssertEqual(healthy.stats()["connections"], 1)
        XCTAssertFalse(h.messages.contains { $0.contains("127.0.0.1:\(healthy.port): connection lost") }, log(h))
        // Without heartbeats the reconnected box has no period to judge by: it stays connected.
        XCTAssertEqual(dead.stats()["accepted"], 2, log(h))
    }

    // MARK: c. pipelining under load

    func testPipelinedCommandsFromFourWorkersGetTheirOwnAnswers() throws {
        let pw = "PipePw-1414"
        let sim = try Sim(password: pw, heartbeat: 0.5)
        let workers = 4, perWorker = 1000, flood = 2000
        // Each worker has its own scripted command whose answer differs (and grows: up to ~12 KB, several TCP
        // segments), and alternates it with `echo` of a unique string.
        var answers: [String] = []
        for w in 0..<workers {
            let ans = "worker\(w)-" + String(repeating: Array("abcdefghij")[w], count: 10 + w * 4000) + "-end\(w)"
            answers.append(ans)
            XCTAssertEqual(try sim.control("answer pipecmd\(w) \(ans)"), ["+OK"])
        }
        let h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        udp_workers = \(workers)
        loadmodule "cache_local.so"
        \(Self.modules)
        modparam("freeswitch_scripting", "fs_subscribe", "fs://:\(pw)@127.0.0.1:\(sim.port)?DTMF")
        event_route[E_FREESWITCH] { xlog("FSEV $param(name)"); }
        event_route[E_PIPE] {
            $var(w) = $param(w);
            $var(exp) = $param(exp);
            # A barrier: every worker starts its loop once all have arrived.
            cache_add("local", "pipe_barrier", 1, 0);
            $var(c) = 0; $var(spin) = 0;
            while ($var(c) < \(workers) && $var(spin) < 3000000) {
                cache_counter_fetch("local", "pipe_barrier", $var(c));
                $var(spin) = $var(spin) + 1;
            }
            $var(i) = 0; $var(ok) = 0; $var(bad) = 0; $var(lost) = 0; $var(err) = 0;
            while ($var(i) < $param(n)) {
                $var(out) = "none";
                $var(odd) = $var(i) % 2;
                if ($var(odd) == 0) {
                    $var(rc) = freeswitch_esl("api pipecmd$var(w)", "127.0.0.1:\(sim.port)", $var(out));
                    $var(want) = $var(exp);
                } else {
                    $var(rc) = freeswitch_esl("api echo w$var(w)-i$var(i)-x", "127.0.0.1:\(sim.port)", $var(out));
                    pv_printf($var(want), "w$var(w)-i$var(i)-x");
                }
                if ($var(rc) == -2) {
                    $var(lost) = $var(lost) + 1;
                    xlog("PIPELOST w=$var(w) i=$var(i)");
                } else if ($var(rc) != 1) {
                    $var(err) = $var(err) + 1;
                    xlog("PIPEERR w=$var(w) i=$var(i) rc=$var(rc) out=$(var(out){s.substr,0,40})");
                } else if ($var(out) != $var(want)) {
                    $var(bad) = $var(bad) + 1;
                    xlog("PIPEMIX w=$var(w) i=$var(i) got=$(var(out){s.substr,0,40}) len=$(var(out){s.len})");
                } else {
                    $var(ok) = $var(ok) + 1;
                }
                $var(i) = $var(i) + 1;
            }
            xlog("PIPEDONE w=$var(w) ok=$var(ok) bad=$var(bad) lost=$var(lost) err=$var(err) spin=$var(spin) c=$var(c)");
        }
        """)
        XCTAssertEqual(h.prepare(workers: workers).map(\.description), [], log(h))
        try h.start()
        defer { h.stop() }
        guard waitUntil("subscribed", timeout: 10, { subscribed(sim, ["HEARTBEAT", "DTMF"]) }) else { return XCTFail(log(h)) }
        _ = try sim.control("clear")

        let t0 = Date()
        for w in 0..<workers {
            XCTAssertEqual(h.server.raiseEvent("E_PIPE", [("w", .int(w)), ("exp", .str(answers[w])), ("n", .int(perWorker))]), 0)
        }
        // Events interleaved with the replies on the same connection (delivered once a worker is free): the flood
        // starts once the workers' first commands have arrived.
        XCTAssertTrue(waitUntil("the workers' first commands", timeout: 10, { ((try? sim.commandLines()) ?? []).contains { $0.line.hasPrefix("api ") } }))
        let fl = try sim.control("flood \(flood)")
        XCTAssertTrue(fl.first?.hasPrefix("+OK") ?? false, "\(fl)")
        guard waitUntil("all workers done", timeout: 15, { count(h, "PIPEDONE") == workers }) else { return XCTFail(log(h)) }
        let secs = Date().timeIntervalSince(t0)
        for w in 0..<workers {
            let done = h.messages.first { $0.contains("PIPEDONE w=\(w) ") } ?? "(none)"
            XCTAssertTrue(done.contains("PIPEDONE w=\(w) ok=\(perWorker) bad=0 lost=0 err=0 "), done)
            XCTAssertTrue(done.contains(" c=\(workers)"), "worker \(w) started before all had arrived: \(done)")
        }
        XCTAssertEqual(count(h, "PIPEMIX"), 0, log(h))
        XCTAssertEqual(count(h, "PIPELOST"), 0, log(h))
        // Every command reached the box once, on the one connection.
        let cmds = sim.poolCommands()
        XCTAssertEqual(cmds.filter { $0.line.hasPrefix("api ") }.count, workers * perWorker)
        XCTAssertEqual(Set(cmds.map(\.conn)).count, 1)
        XCTAssertEqual(sim.stats()["accepted"], 1)
        XCTAssertTrue(waitUntil("the flood delivered", timeout: 10, { count(h, "FSEV DTMF") == flood }), "\(count(h, "FSEV DTMF"))")
        print("FreeSwitchPoolTests: \(workers * perWorker) pipelined api commands from \(workers) workers + \(flood) events in \(String(format: "%.2f", secs)) s")
    }

    // MARK: d. the password stays secret

    func testPasswordNeverLoggedAtDebugNorListed() throws {
        let pw = "Modparam-Secret-8861"
        let dbPw = "Table-Secret-5123"
        let wrongPw = "Wrong-Secret-4471"
        let miPw = "MI-Secret-9034"
        let scriptPw = "Script-Secret-2206"
        let unreachablePw = "Unreachable-Secret-7730"
        let secrets = [pw, dbPw, wrongPw, miPw, scriptPw, unreachablePw]
        let s1 = try Sim(password: pw, heartbeat: 0.5)
        let s2 = try Sim(password: dbPw, heartbeat: 0.5)
        let s3 = try Sim(password: dbPw, heartbeat: 0.5)  // the table row for it has the wrong password
        let s4 = try Sim(password: miPw, heartbeat: 0.5)
        let s5 = try Sim(password: scriptPw, heartbeat: 0.5)
        let db = dir.appendingPathComponent("fs.db").path
        let schema = Repo.root.appendingPathComponent("Plugins/freeswitch_scripting/schema/sqlite.sql").path
        try sql(db, try String(contentsOfFile: schema, encoding: .utf8) + """
            INSERT INTO freeswitch (username, password, ip, port, events_csv) VALUES (NULL, '\(dbPw)', '127.0.0.1', \(s2.port), 'DTMF');
            INSERT INTO freeswitch (username, password, ip, port, events_csv) VALUES ('1000@default', '\(wrongPw)', '127.0.0.1', \(s3.port), 'DTMF');
            """)
        let h = ServerHarness("""
        log_level = 4
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "db_sqlite.so"
        \(Self.modules)
        modparam("freeswitch_scripting", "db_url", "sqlite://\(db)")
        modparam("freeswitch_scripting", "fs_subscribe", "fs://:\(pw)@127.0.0.1:\(s1.port)?DTMF")
        event_route[E_FREESWITCH] { xlog("FSEV $param(name) from $param(sender)"); }
        event_route[E_FSTEST] {
            $var(out) = "unset";
            $var(rc) = freeswitch_esl($param(cmd), $param(url), $var(out));
            xlog("FSCMD $param(case) rc=$var(rc) out=$var(out)");
        }
        """)
        XCTAssertEqual(h.prepare().map(\.description), [], log(h))
        try h.start()
        defer { h.stop() }
        guard waitUntil("s1 and s2 subscribed", timeout: 10, { subscribed(s1, ["DTMF"]) && subscribed(s2, ["DTMF"]) }) else { return XCTFail(log(h)) }
        XCTAssertTrue(h.waitFor("127.0.0.1:\(s3.port): cannot connect (authentication refused", timeout: 10), log(h))

        // MI subscribe with a password URL, a script command with one, one to an unreachable box with one.
        XCTAssertTrue(mi(h, "fs_subscribe", #"{"freeswitch_url":"fs://:\#(miPw)@127.0.0.1:\#(s4.port)","events":["DTMF"]}"#).contains("OK"))
        XCTAssertTrue(waitUntil("s4 subscribed", timeout: 10, { subscribed(s4, ["DTMF"]) }), log(h))
        for (name, cmd, url) in [("script", "api echo hi", "fs://:\(scriptPw)@127.0.0.1:\(s5.port)"),
                                 ("unreachable", "api status", "fs://:\(unreachablePw)@127.0.0.1:1"),
                                 ("nopassword", "api status", "fs://127.0.0.1:2")] {
            XCTAssertEqual(h.server.raiseEvent("E_FSTEST", [("case", .str(name)), ("cmd", .str(cmd)), ("url", .str(url))]), 0)
            XCTAssertTrue(h.waitFor("FSCMD \(name) ", timeout: 10), log(h))
        }
        XCTAssertTrue(h.waitFor("FSCMD script rc=1 out=hi"), log(h))
        XCTAssertTrue(h.waitFor("FSCMD unreachable rc=-2"), log(h))
        s1.fire("DTMF DTMF-Digit=1")
        s2.fire("DTMF DTMF-Digit=2")
        XCTAssertTrue(waitUntil("two events", timeout: 10, { count(h, "FSEV DTMF") >= 2 }), log(h))
        let list = mi(h, "fs_list")
        // Connection loss and reconnect are logged too.
        _ = try s1.control("drop")
        XCTAssertTrue(h.waitFor("127.0.0.1:\(s1.port): connection lost", timeout: 10), log(h))
        XCTAssertTrue(waitUntil("s1 reconnected", timeout: 10, { s1.stats()["accepted"] == 2 && s1.stats()["authed"] == 1 }), log(h))
        // A reload (the table's boxes again; the modparam and MI boxes leave the pool).
        let reload = mi(h, "fs_reload")
        XCTAssertTrue(reload.contains("\"OK\""), reload)
        let list2 = mi(h, "fs_list")
        XCTAssertTrue(list2.contains("127.0.0.1:\(s2.port)") && list2.contains("127.0.0.1:\(s3.port)"), list2)
        // The MI box has left the pool: what the reload logs about its boxes is in the log.
        XCTAssertTrue(waitUntil("the MI box closed", timeout: 10, { s4.stats()["connections"] == 0 }), "\(s4.stats())\n" + log(h))

        // The log really is at debug level, and shows the boxes by host:port only.
        let lines = h.collector.all
        XCTAssertTrue(lines.contains { $0.contains(" DBG:") }, "no debug line at log_level = 4:\n" + log(h))
        XCTAssertTrue(lines.contains { $0.contains("127.0.0.1:\(s1.port)") }, log(h))
        for secret in secrets {
            XCTAssertFalse(lines.contains { $0.contains(secret) }, "\(secret) logged:\n" + lines.filter { $0.contains(secret) }.joined(separator: "\n"))
            for out in [list, list2, reload] { XCTAssertFalse(out.contains(secret), "\(secret) in MI output \(out)") }
        }
        XCTAssertTrue(list.contains("127.0.0.1:\(s1.port)") && list.contains("127.0.0.1:\(s2.port)") && list.contains("127.0.0.1:\(s4.port)"), list)
        // The simulators did get the passwords (the secrets were really used).
        XCTAssertTrue(s1.poolCommands().contains { $0.line == "auth \(pw)" })
        XCTAssertTrue(s3.poolCommands().contains { $0.line == "userauth 1000@default:\(wrongPw)" }, "\(s3.poolCommands())")
    }
}

extension SimulatorProcess {
    convenience init(password: String, heartbeat: Double) throws {
        try self.init(arguments: ["--port", "0", "--password", password, "--heartbeat", String(heartbeat)])
    }

    func fire(_ event: String) {
        XCTAssertEqual(try? control("event " + event), ["+OK"])
    }
}

extension SimulatorProcess {
    /// The ESL commands received so far as (connection id, line); empty if the simulator does not answer.
    func poolCommands() -> [(conn: String, line: String)] { (try? commandLines()) ?? [] }
}
