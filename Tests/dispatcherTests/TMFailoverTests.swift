import Foundation
import XCTest
import Synchronization
import SwitchyardJSON
@testable import SwitchyardCore
import SwitchyardTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// dispatcher with tm, as OpenSIPS users write it: `ds_select_dst` + `t_on_failure` + `t_relay`, and in the failure
/// route `ds_mark_dst("p")` + `ds_next_dst()` + `t_relay()`. sipp calls through the proxy to sipp UAS boxes; the first
/// box answers 503 (or nothing: tm's local 408 after fr_timeout), the caller gets the second box's 200 and never the
/// 503, and the first box is in probing in ds_list.
final class TMFailoverTests: XCTestCase {
    private var cleanups: [() -> Void] = []
    private var workDir = ""

    private static func port() -> Int { Ports.udp() }

    override func setUpWithError() throws {
        guard Repo.which("sipp") != nil else { throw XCTSkip("sipp is not on PATH (Debian: sip-tester)") }
        workDir = FileManager.default.temporaryDirectory.appendingPathComponent("ds-tm-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for c in cleanups.reversed() { c() }
        cleanups = []
        try? FileManager.default.removeItem(atPath: workDir)
    }

    /// The proxy: INVITEs pick a box of set 1 with `algorithm` and fail over in failure_route; in-dialog requests (the
    /// sipp caller sends ACK and BYE to the proxy) go to the first active box, which is the one that answered once
    /// the failed box is in probing.
    private func proxy(db: String, port: Int, algorithm: Int, params: [String] = [], tmParams: [String] = [],
                       extra: String = "", select: String = "$rm == \"INVITE\"") throws -> Harness {
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(port)
        loadmodule "proto_udp.so"
        loadmodule "tm.so"
        loadmodule "db_sqlite.so"
        \(extra)
        loadmodule "dispatcher.so"
        \(tmParams.map { "modparam(\"tm\", \($0))" }.joined(separator: "\n"))
        modparam("dispatcher", "db_url", "sqlite://\(db)")
        modparam("dispatcher", "ds_probing_threshold", 1)
        \(params.map { "modparam(\"dispatcher\", \($0))" }.joined(separator: "\n"))
        route {
            if (\(select)) {
                if (!ds_select_dst(1, \(algorithm), "f")) { t_reply(503, "No destination"); exit; }
                xlog("L_NOTICE", "first choice $du\\n");
                t_on_failure("next");
            } else if (!ds_select_dst(1, 8)) {
                t_reply(503, "No destination");
                exit;
            }
            t_relay();
        }
        failure_route[next] {
            if (t_was_cancelled()) exit;
            if (t_check_status("503") || t_local_replied("all")) {
                xlog("L_NOTICE", "failure $T_reply_code from $avp(ds_dst_failover), marking it\\n");
                ds_mark_dst("p");
                if (ds_next_dst()) {
                    xlog("L_NOTICE", "next destination $du\\n");
                    t_on_failure("next");
                    t_relay();
                    exit;
                }
            }
        }
        """)
        try h.prepareAndStart()
        cleanups.append { h.stop() }
        return h
    }

    private func uas(_ scenario: String, port: Int) throws -> TracedSipp {
        let s = try TracedSipp(name: "uas-\(port)", dir: workDir,
                               args: ["-sf", scenario, "-i", "127.0.0.1", "-p", String(port)])
        cleanups.append { s.stop() }
        XCTAssertTrue(waitUntil(10) { Ports.inUse(port) }, "sipp UAS on \(port)")
        return s
    }

    private func uac(proxy: Int, calls: Int) throws -> (Int32?, TracedSipp) {
        let p = Self.port()
        let s = try TracedSipp(name: "uac-\(p)", dir: workDir,
                               args: ["-sf", Repo.sip("uac.xml"), "-s", "1000", "-i", "127.0.0.1", "-p", String(p),
                                      "127.0.0.1:\(proxy)", "-m", String(calls), "-r", "5", "-l", "1",
                                      "-recv_timeout", "20000", "-timeout", "40s"])
        cleanups.append { s.stop() }
        return (s.wait(timeout: 50), s)
    }

    private func dests(_ h: Harness) -> [JSONValue] {
        guard let d = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"], case .array(let a) = d else { return [] }
        return a
    }

    private func state(_ h: Harness, _ uri: String) -> String? {
        dests(h).first { $0["URI"]?.stringValue == uri }?["state"]?.stringValue
    }

    /// Round robin (alg 4) lands the first call on the box answering 503: the failure route marks it, ds_next_dst
    /// moves to the second box, whose 200 the caller gets. The 503 is ACKed by the proxy and never reaches the
    /// caller; the failed box is then in probing and the next calls go straight to the second box.
    func testFailoverOn503WithDsNextDst() throws {
        let (gw1, gw2, port) = (Self.port(), Self.port(), Self.port())
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, weight, priority) VALUES
              (1, 'sip:127.0.0.1:\(gw1)', '1', 10), (1, 'sip:127.0.0.1:\(gw2)', '1', 0);
            """)
        let h = try proxy(db: db, port: port, algorithm: 4)
        let bad = try uas(TMFailoverTests.scenario("uas_503.xml"), port: gw1)
        let good = try uas(Repo.sip("uas.xml"), port: gw2)
        let (status, caller) = try uac(proxy: port, calls: 3)
        let context = "\(caller.report)\n--- proxy:\n\(h.log.suffix(4000))"
        XCTAssertEqual(status, 0, context)
        XCTAssertEqual(caller.stat("SuccessfulCall(C)"), 3, context)
        XCTAssertEqual(caller.received("SIP/2.0 503"), 0, "the 503 never reaches the caller\n\(context)")
        XCTAssertEqual(bad.received("INVITE "), 1, bad.report)
        XCTAssertTrue(waitUntil(5) { bad.received("ACK ") == 1 }, "the proxy ACKs the 503\n\(bad.report)")
        XCTAssertTrue(waitUntil(5) { good.received("BYE ") == 3 }, good.report)
        XCTAssertEqual(good.received("INVITE "), 3, good.report)
        XCTAssertTrue(h.log.contains("first choice sip:127.0.0.1:\(gw1)"), h.log)
        XCTAssertTrue(h.log.contains("failure 503 from sip:127.0.0.1:\(gw1), marking it"), h.log)
        XCTAssertTrue(h.log.contains("next destination sip:127.0.0.1:\(gw2)"), h.log)
        XCTAssertEqual(state(h, "sip:127.0.0.1:\(gw1)"), "Probing", "\(dests(h))")
        XCTAssertEqual(state(h, "sip:127.0.0.1:\(gw2)"), "Active", "\(dests(h))")
    }

    /// Two failure rounds: boxes 1 and 2 answer 503, box 3 200. What ds_next_dst consumed in the first failure route
    /// is still consumed in the second (tm keeps the AVPs between rounds), so the list walks 1 → 2 → 3, and both
    /// failed boxes are marked.
    func testTwoFailureRoundsWalkTheWholeList() throws {
        let (gw1, gw2, gw3, port) = (Self.port(), Self.port(), Self.port(), Self.port())
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, weight, priority) VALUES
              (1, 'sip:127.0.0.1:\(gw1)', '1', 10), (1, 'sip:127.0.0.1:\(gw2)', '1', 5), (1, 'sip:127.0.0.1:\(gw3)', '1', 0);
            """)
        let h = try proxy(db: db, port: port, algorithm: 8)
        let bad1 = try uas(TMFailoverTests.scenario("uas_503.xml"), port: gw1)
        let bad2 = try uas(TMFailoverTests.scenario("uas_503.xml"), port: gw2)
        let good = try uas(Repo.sip("uas.xml"), port: gw3)
        let (status, caller) = try uac(proxy: port, calls: 2)
        let context = "\(caller.report)\n--- proxy:\n\(h.log.suffix(4000))"
        XCTAssertEqual(status, 0, context)
        XCTAssertEqual(caller.stat("SuccessfulCall(C)"), 2, context)
        XCTAssertEqual(caller.received("SIP/2.0 503"), 0, context)
        XCTAssertEqual(bad1.received("INVITE "), 1, bad1.report)
        XCTAssertEqual(bad2.received("INVITE "), 1, bad2.report)
        XCTAssertTrue(waitUntil(5) { good.received("BYE ") == 2 }, good.report)
        XCTAssertTrue(h.log.contains("failure 503 from sip:127.0.0.1:\(gw2), marking it"), h.log)
        XCTAssertTrue(h.log.contains("next destination sip:127.0.0.1:\(gw3)"), h.log)
        XCTAssertEqual([gw1, gw2, gw3].map { state(h, "sip:127.0.0.1:\($0)") }, ["Probing", "Probing", "Active"], "\(dests(h))")
    }

    /// The first box (alg 8: the highest priority) never answers: tm's fr_timeout makes a local 408, which
    /// `t_local_replied("all")` recognises; the call fails over to the second box; the caller sees no 408.
    func testFailoverOnTimeoutWithDsNextDst() throws {
        let silent = try Responder(answer: 0, port: Self.port())
        cleanups.append { silent.stop() }
        let (gw2, port) = (Self.port(), Self.port())
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, weight, priority) VALUES
              (1, 'sip:127.0.0.1:\(silent.port)', '1', 10), (1, 'sip:127.0.0.1:\(gw2)', '1', 0);
            """)
        let h = try proxy(db: db, port: port, algorithm: 8, tmParams: ["\"fr_timeout\", 2"])
        let good = try uas(Repo.sip("uas.xml"), port: gw2)
        let (status, caller) = try uac(proxy: port, calls: 1)
        let context = "\(caller.report)\n--- proxy:\n\(h.log.suffix(4000))"
        XCTAssertEqual(status, 0, context)
        XCTAssertEqual(caller.stat("SuccessfulCall(C)"), 1, context)
        XCTAssertEqual(caller.received("SIP/2.0 408"), 0, context)
        XCTAssertGreaterThanOrEqual(silent.methods.withLock { $0.filter { $0 == "INVITE" }.count }, 1)
        XCTAssertTrue(waitUntil(5) { good.received("BYE ") == 1 }, good.report)
        XCTAssertTrue(h.log.contains("failure 408 from sip:127.0.0.1:\(silent.port), marking it"), h.log)
        XCTAssertTrue(h.log.contains("next destination sip:127.0.0.1:\(gw2)"), h.log)
        XCTAssertEqual(state(h, "sip:127.0.0.1:\(silent.port)"), "Probing", "\(dests(h))")
    }

    /// A FreeSWITCH-weighted set behind tm: two boxes whose weights come from their esl-simulator heartbeats (90 and
    /// 30), picked with alg 6 (random, weighted); box 1 answers 503. Every call ends on box 2 with a 200, the caller
    /// sees no 503, box 1 gets exactly one INVITE (then it is in probing) and the rest of each call (ACK, BYE) follows
    /// the box that answered, remembered in cache_local by the request route and again by the failure route.
    func testFreeSwitchWeightedSetFailsOverWithTM() throws {
        let sims = try [90.0, 30.0].map { idle in
            let s = try Simulator(["--idle-cpu", String(idle), "--max-sessions", "100", "--session-count", "0", "--heartbeat", "0.3"])
            cleanups.append { s.kill() }
            return s
        }
        let (gw1, gw2, port) = (Self.port(), Self.port(), Self.port())
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, weight) VALUES
              (1, 'sip:127.0.0.1:\(gw1)', 'fs://:ClueCon@127.0.0.1:\(sims[0].port)'),
              (1, 'sip:127.0.0.1:\(gw2)', 'fs://:ClueCon@127.0.0.1:\(sims[1].port)');
            """)
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(port)
        loadmodule "proto_udp.so"
        loadmodule "tm.so"
        loadmodule "cache_local.so"
        loadmodule "db_sqlite.so"
        loadmodule "freeswitch.so"
        loadmodule "dispatcher.so"
        modparam("dispatcher", "db_url", "sqlite://\(db)")
        modparam("dispatcher", "fetch_freeswitch_stats", 1)
        modparam("dispatcher", "ds_probing_threshold", 1)
        modparam("dispatcher", "random_seed", 20261206)
        route {
            if ($rm == "INVITE") {
                if (!ds_select_dst(1, 6, "f")) { t_reply(503, "No box"); exit; }
                cache_store("local", "call_$ci", "$du", 120);
                t_on_failure("next_box");
                t_relay();
                exit;
            }
            if (!cache_fetch("local", "call_$ci", $var(box))) { t_reply(481, "Call/Transaction Does Not Exist"); exit; }
            $du = $var(box);
            t_relay();
        }
        failure_route[next_box] {
            if (t_was_cancelled()) exit;
            if (t_check_status("5[0-9][0-9]") || t_local_replied("all")) {
                ds_mark_dst("p");
                if (ds_next_dst()) {
                    xlog("L_NOTICE", "box failed, next box $du\\n");
                    cache_store("local", "call_$ci", "$du", 120);
                    t_on_failure("next_box");
                    t_relay();
                    exit;
                }
            }
        }
        """)
        try h.prepareAndStart()
        cleanups.append { h.stop() }
        let full = { h.mi("ds_list", #"{"full":1}"#)?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"] }
        XCTAssertTrue(waitUntil(10) { full().map { d in (0..<2).compactMap { d[$0]?["weight"]?.intValue } == [90, 30] } ?? false },
                      "\(String(describing: full()))\n\(h.log)")
        let bad = try uas(TMFailoverTests.scenario("uas_503.xml"), port: gw1)
        let good = try uas(Repo.sip("uas.xml"), port: gw2)
        let (status, caller) = try uac(proxy: port, calls: 8)
        let context = "\(caller.report)\n--- proxy:\n\(h.log.suffix(4000))"
        XCTAssertEqual(status, 0, context)
        XCTAssertEqual(caller.stat("SuccessfulCall(C)"), 8, context)
        XCTAssertEqual(caller.received("SIP/2.0 503"), 0, context)
        XCTAssertEqual(bad.received("INVITE "), 1, bad.report)
        XCTAssertTrue(waitUntil(5) { good.received("BYE ") == 8 }, good.report)
        XCTAssertEqual(good.received("INVITE "), 8, good.report)
        XCTAssertTrue(h.log.contains("box failed, next box sip:127.0.0.1:\(gw2)"), h.log)
        XCTAssertEqual(state(h, "sip:127.0.0.1:\(gw1)"), "Probing", "\(dests(h))")
    }

    /// The socket column reaches t_relay: ds_select_dst sets $du and $fs, tm sends from that socket (the proxy listens
    /// on two), and after ds_next_dst the next entry's socket is used.
    func testTRelayHonoursTheDestinationsSocket() throws {
        let a = try Responder(answer: 503, port: Self.port()), b = try Responder(answer: 200, port: Self.port())
        cleanups.append { a.stop(); b.stop() }
        let (port, port2) = (Self.port(), Self.port())
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, socket, priority) VALUES
              (1, 'sip:127.0.0.1:\(a.port)', 'udp:127.0.0.1:\(port2)', 10), (1, 'sip:127.0.0.1:\(b.port)', 'udp:127.0.0.1:\(port)', 0);
            """)
        let h = try proxy(db: db, port: port, algorithm: 8, extra: "socket = udp:127.0.0.1:\(port2)",
                          select: "$rm == \"OPTIONS\"")
        let c = try UDPSocket()
        XCTAssertEqual(c.request(server: port, method: "OPTIONS"), "SIP/2.0 200 Answer", h.log)
        XCTAssertEqual(a.sourcePorts.withLock { $0 }, [port2], h.log)
        XCTAssertEqual(b.sourcePorts.withLock { $0 }, [port], h.log)
    }

    static func scenario(_ name: String) -> String { Repo.root.appendingPathComponent("Tests/SIP/tm/\(name)").path }
}

/// A sipp process whose screen, statistics and message trace go to files of a work directory (as in tmTests).
typealias TracedSipp = SippProcess

extension SippProcess {
    /// sipp from PATH (skips the test without it), no error log.
    convenience init(name: String, dir: String, args: [String]) throws {
        guard let sipp = Repo.which("sipp") else { throw XCTSkip("sipp is not on PATH (Debian: sip-tester)") }
        try self.init(sipp: sipp, name: name, dir: dir, args: args, traceErrors: false)
    }
}
