import Foundation
import XCTest
import SwitchyardJSON
@testable import SwitchyardCore
import SwitchyardTestSupport

/// Probes as tm local requests (tm loaded): a sipp UAS answering the OPTIONS 200 brings its destination back to
/// active; a silent destination gets tm's 408 after fr_timeout, counted as failures until it is in probing, probed
/// every ds_ping_interval while earlier probes are pending (as OpenSIPS); the script's local_route sees every probe;
/// ds_ping_maxfwd sets Max-Forwards (with and without tm).
final class TMProbingTests: XCTestCase {
    private var cleanups: [() -> Void] = []
    private var workDir = ""

    override func setUpWithError() throws {
        guard Repo.which("sipp") != nil else { throw XCTSkip("sipp is not on PATH (Debian: sip-tester)") }
        workDir = FileManager.default.temporaryDirectory.appendingPathComponent("ds-tmping-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for c in cleanups.reversed() { c() }
        cleanups = []
        try? FileManager.default.removeItem(atPath: workDir)
    }

    private func server(_ db: String, tm: Bool, frTimeout: Int = 2, params: [String]) throws -> Harness {
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        log_level = 3
        socket = udp:127.0.0.1:\(Ports.udp())
        loadmodule "proto_udp.so"
        \(tm ? "loadmodule \"tm.so\"\nmodparam(\"tm\", \"fr_timeout\", \(frTimeout))" : "")
        loadmodule "db_sqlite.so"
        loadmodule "dispatcher.so"
        modparam("dispatcher", "db_url", "sqlite://\(db)")
        \(params.map { "modparam(\"dispatcher\", \($0))" }.joined(separator: "\n"))
        route { exit; }
        \(tm ? "local_route { xlog(\"L_NOTICE\", \"LOCAL $rm $ru mf=$hdr(Max-Forwards)\\n\"); }" : "")
        event_route[E_DISPATCHER_STATUS] {
            xlog("L_NOTICE", "EVENT $param(address) $param(status) $param(reason)\\n");
        }
        """)
        try h.prepareAndStart()
        cleanups.append { h.stop() }
        return h
    }

    /// A sipp UAS answering each OPTIONS 200 after 1 s (so tm retransmits it over UDP).
    private func uas() throws -> (SippProcess, Int) {
        let port = Ports.udp()
        let s = try SippProcess(name: "uas-\(port)", dir: workDir,
                                args: ["-sf", TMFailoverTests.scenario("uas_options.xml"), "-i", "127.0.0.1", "-p", String(port)])
        cleanups.append { s.stop() }
        XCTAssertTrue(waitUntil(10) { Ports.inUse(port) }, "sipp UAS on \(port)")
        return (s, port)
    }

    private func states(_ h: Harness) -> [String] {
        guard case .array(let a)? = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"] else { return [] }
        return a.compactMap { $0["state"]?.stringValue }
    }

    private func uacTransactions(_ h: Harness) -> Int {
        h.mi("get_statistics", #"{"statistics":["tm:UAC_transactions"]}"#)?["result"]?["tm:UAC_transactions"]?.intValue.map(Int.init) ?? 0
    }

    func testProbesAreTMTransactionsThroughLocalRoute() throws {
        let (sipp, good) = try uas()
        let silent = try Responder(answer: 0)
        cleanups.append { silent.stop() }
        // The answering box starts in probing (state 2): its 200 makes it active; the silent one starts active.
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, state, priority) VALUES
              (1, 'sip:127.0.0.1:\(good)', 2, 1), (1, 'sip:127.0.0.1:\(silent.port)', 0, 0);
            """)
        let h = try server(db, tm: true, params: ["\"ds_ping_interval\", 1", "\"ds_probing_mode\", 1", "\"ds_probing_threshold\", 2",
                                                  "\"ds_ping_maxfwd\", 7", "\"ds_ping_from\", \"sip:pinger@switchyard\""])
        XCTAssertTrue(waitUntil(20) { self.states(h) == ["Active", "Probing"] }, "\(states(h))\n\(h.log)")
        XCTAssertTrue(h.log.contains("EVENT sip:127.0.0.1:\(good) active 200 OK probing reply"), h.log)
        XCTAssertTrue(waitUntil(5) { h.log.contains("EVENT sip:127.0.0.1:\(silent.port) inactive negative probing reply") }, h.log)
        // local_route saw both probes, with ds_ping_maxfwd's Max-Forwards.
        XCTAssertTrue(h.log.contains("LOCAL OPTIONS sip:127.0.0.1:\(good) mf=7"), h.log)
        XCTAssertTrue(h.log.contains("LOCAL OPTIONS sip:127.0.0.1:\(silent.port) mf=7"), h.log)
        // Real transactions: counted by tm, and the silent box got each probe more than once (UDP retransmissions).
        XCTAssertGreaterThanOrEqual(uacTransactions(h), 3)
        XCTAssertGreaterThan(silent.received.load(ordering: .relaxed), 2)
        XCTAssertTrue(waitUntil(5) { sipp.trace.contains("Max-Forwards: 7") }, sipp.trace)
        XCTAssertTrue(sipp.trace.contains("From: <sip:pinger@switchyard>"), sipp.trace)
    }

    /// Distinct probes (Call-IDs) in the order they first reached `box`, with that time.
    private func probes(_ box: Responder) -> [(callID: String, at: ContinuousClock.Instant)] {
        var seen = Set<String>()
        return box.arrivals.withLock { $0 }.filter { seen.insert($0.callID).inserted }
    }

    private func count(_ text: String, in log: String) -> Int { log.components(separatedBy: text).count - 1 }

    /// OpenSIPS's pinger probes every ds_ping_interval whatever is pending: with interval 1, threshold 3 and
    /// fr_timeout 3 a box that never answers is in probing about 1 × 3 + 3 s after its first probe (one probe at a
    /// time would take 3 × 3 s plus the rounds missed in between), each failed probe counted once and one event per
    /// change; when it answers again it is active again, once.
    func testSilentBoxIsProbedEveryIntervalWhileProbesArePendingAndComesBack() throws {
        let box = try Responder(answer: 0)
        cleanups.append { box.stop() }
        let db = try SQLiteCLI.database("INSERT INTO dispatcher (setid, destination, state) VALUES (1, 'sip:127.0.0.1:\(box.port)', 0);")
        let h = try server(db, tm: true, frTimeout: 3, params: ["\"ds_ping_interval\", 1", "\"ds_probing_mode\", 1",
                                                                 "\"ds_probing_threshold\", 3"])
        // tm (API 1.3) tells dispatcher its fr_timeout: at most 3 / 1 + 1 probes pending.
        XCTAssertTrue(h.log.contains("probes are tm local requests (fr_timeout 3000 ms)"), h.log)
        let inactive = "EVENT sip:127.0.0.1:\(box.port) inactive negative probing reply"
        let active = "EVENT sip:127.0.0.1:\(box.port) active 200 OK probing reply"
        XCTAssertTrue(waitUntil(10) { !self.probes(box).isEmpty }, h.log)
        let first = probes(box)[0]
        XCTAssertTrue(waitUntil(20) { self.states(h) == ["Probing"] }, "\(states(h))\n\(h.log)")
        let tookOut = ContinuousClock.now - first.at
        // interval × threshold + fr_timeout = 6 s; one probe at a time: about 11 s.
        XCTAssertLessThan(tookOut, .seconds(8.5), "\(tookOut)")
        XCTAssertGreaterThanOrEqual(tookOut, .seconds(4.5), "the third probe's 408 comes fr_timeout after it: \(tookOut)")
        // Three distinct probes went out before the first one's 408 (fr_timeout after it), and the first was still
        // being retransmitted after the second went out: they were in flight together.
        let sent = probes(box)
        XCTAssertGreaterThanOrEqual(sent.count, 3)
        XCTAssertLessThan(sent[2].at - first.at, .seconds(3), "\(sent.map { $0.at - first.at })")
        XCTAssertTrue(box.arrivals.withLock { $0 }.contains { $0.callID == first.callID && $0.at > sent[1].at },
                      "a retransmission of the first probe after the second probe")
        XCTAssertTrue(waitUntil(5) { h.log.contains(inactive) }, h.log)
        // More failed probes change nothing: one event for the change.
        XCTAssertTrue(waitUntil(10) { self.probes(box).count >= sent.count + 4 }, h.log)
        XCTAssertEqual(states(h), ["Probing"])
        XCTAssertEqual(count(inactive, in: h.log), 1, h.log)

        // The box answers again: its next reply makes it active, once, and it stays so (the probes that went
        // unanswered before count one failure each, fewer than the threshold, and the next 200 resets them).
        box.code.store(200, ordering: .relaxed)
        XCTAssertTrue(waitUntil(10) { self.states(h) == ["Active"] }, "\(states(h))\n\(h.log)")
        let back = probes(box).count
        XCTAssertTrue(waitUntil(15) { self.probes(box).count >= back + 5 }, h.log)
        XCTAssertEqual(states(h), ["Active"])
        XCTAssertEqual(count(active, in: h.log), 1, h.log)
        XCTAssertEqual(count(inactive, in: h.log), 1, h.log)
    }

    func testStatelessProbesWithoutTMCarryMaxForwards() throws {
        let (sipp, good) = try uas()
        let db = try SQLiteCLI.database("INSERT INTO dispatcher (setid, destination, state) VALUES (1, 'sip:127.0.0.1:\(good)', 2);")
        let h = try server(db, tm: false, params: ["\"ds_ping_interval\", 1", "\"ds_ping_timeout\", 3000", "\"ds_ping_maxfwd\", 5"])
        XCTAssertTrue(waitUntil(10) { self.states(h) == ["Active"] }, "\(states(h))\n\(h.log)")
        XCTAssertTrue(waitUntil(5) { sipp.trace.contains("Max-Forwards: 5") }, sipp.trace)
        XCTAssertFalse(sipp.trace.contains("Max-Forwards: 70"), sipp.trace)
    }
}
