import Foundation
import XCTest
import SwitchyardJSON
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The module in a whole server (in-process, SIP over UDP on 127.0.0.1): loading, ds_list's shape, algorithms on real
/// requests ($du answered back in the reply's reason phrase), the failover list and ds_next_dst, ds_mark_dst,
/// ds_count, ds_is_in_list, ds_set_state with E_DISPATCHER_STATUS, persistent_state, ds_reload (and a failed one),
/// partitions, ds_select_domain.
final class DispatcherModuleTests: XCTestCase {
    private var cleanups: [() -> Void] = []

    override func tearDown() {
        for c in cleanups.reversed() { c() }
        cleanups = []
    }

    /// The spec's fixture: set 1 = .1 prio 0 w1, .2 prio 10 w1, .3 prio 5 w2 (memory order .2, .3, .1); set 2 one entry.
    static let fixture = """
        INSERT INTO dispatcher (setid, destination, weight, priority, attrs, description) VALUES
          (1, 'sip:10.0.0.1', '1', 0, 'a1', 'one'),
          (1, 'sip:10.0.0.2', '1', 10, 'a2', 'two'),
          (1, 'sip:10.0.0.3', '2', 5, 'gw=3', 'three'),
          (2, 'sip:user@127.0.0.1:5099;transport=udp', '1', 0, NULL, NULL);
        """

    private func server(db: String, port: Int, params: [String] = [], route: String, extra: String = "") throws -> Harness {
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(port)
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "db_sqlite.so"
        loadmodule "dispatcher.so"
        modparam("dispatcher", "db_url", "sqlite://\(db)")
        \(params.map { "modparam(\"dispatcher\", \($0))" }.joined(separator: "\n"))
        route {
        \(route)
        }
        \(extra)
        """)
        try h.prepareAndStart()
        cleanups.append { h.stop() }
        return h
    }

    /// The reason phrase of the reply to one request (the route answers `sl_send_reply(200, "<what it saw>")`).
    private func ask(_ client: UDPSocket, _ port: Int, callID: String = UUID().uuidString, from: String = "sip:alice@127.0.0.1") -> String? {
        guard let line = client.request(server: port, callID: callID, from: from) else { return nil }
        return line.split(separator: " ", maxSplits: 2).dropFirst(2).first.map(String.init)
    }

    func testListShapeOrderAndStates() throws {
        let db = try SQLiteCLI.database(Self.fixture)
        let port = Ports.udp()
        let h = try server(db: db, port: port, route: "sl_send_reply(200, \"OK\");")
        let r = h.mi("ds_list", #"{"full":1}"#)?["result"]
        let part = r?["PARTITIONS"]?[0]
        XCTAssertEqual(part?["name"]?.stringValue, "default")
        let set1 = part?["SETS"]?[0]
        XCTAssertEqual(set1?["id"]?.intValue, 1)
        let uris = (0..<3).compactMap { set1?["Destinations"]?[$0]?["URI"]?.stringValue }
        XCTAssertEqual(uris, ["sip:10.0.0.2", "sip:10.0.0.3", "sip:10.0.0.1"]) // highest priority first
        let d3 = set1?["Destinations"]?[1]
        XCTAssertEqual(d3?["state"]?.stringValue, "Active")
        XCTAssertEqual(d3?["weight"]?.intValue, 2)
        XCTAssertEqual(d3?["priority"]?.intValue, 5)
        XCTAssertEqual(d3?["attr"]?.stringValue, "gw=3")
        XCTAssertEqual(d3?["description"]?.stringValue, "three")
        XCTAssertEqual(d3?["first_hit_counter"]?.intValue, 0)
        XCTAssertEqual(d3?["resolved_addresses"]?[0]?.stringValue, "10.0.0.3:5060")
        // Without full: no weight/priority/description.
        let short = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]?[0]
        XCTAssertNil(short?["weight"])
        XCTAssertNil(short?["description"])
        XCTAssertEqual(h.mi("ds_list", #"{"partition":"nope"}"#)?["error"]?["message"]?.stringValue, "ERROR Unknown partition")
    }

    func testAlgorithmsFailoverListAndNextDst() throws {
        let db = try SQLiteCLI.database(Self.fixture)
        let port = Ports.udp()
        let h = try server(db: db, port: port, params: ["\"attrs_avp\", \"$avp(attrs)\""], route: """
            if ($rU == "rr") {
                if (!ds_select_dst(1, 4)) { sl_send_reply(500, "none"); exit; }
                sl_send_reply(200, "$du");
                exit;
            }
            if ($rU == "first") { ds_select_dst(1, 8); sl_send_reply(200, "$du"); exit; }
            if ($rU == "nope") { if (!ds_select_dst(99, 0)) { sl_send_reply(200, "failed"); } exit; }
            if ($rU == "failover") {
                ds_select_dst(1, 8, "f", , 2);
                pv_printf($var(l), "$du $avp(attrs) $avp(ds_cnt_failover)");
                while (ds_next_dst()) { $var(l) = $var(l) + "," + $du + " " + $avp(attrs); }
                sl_send_reply(200, "$var(l)");
                exit;
            }
            if ($rU == "all") {
                ds_select_dst(1, 0, "f");
                $var(l) = $du;
                while (ds_next_dst()) { $var(l) = $var(l) + "," + $du; }
                sl_send_reply(200, "$var(l)");
                exit;
            }
            if ($rU == "user") { ds_select_dst(2, 0, "f"); $var(l) = $du + " " + $avp(ds_dst_failover); sl_send_reply(200, "$var(l)"); exit; }
            if ($rU == "domain") { ds_select_domain(1, 8); sl_send_reply(200, "$ru"); exit; }
            if ($rU == "callid") { ds_select_dst(1, 0); sl_send_reply(200, "$du"); exit; }
            """)
        let c = try UDPSocket()
        func q(_ user: String, callID: String = UUID().uuidString) -> String? {
            guard let line = c.request(server: port, user: user, callID: callID) else { return nil }
            return line.split(separator: " ", maxSplits: 2).dropFirst(2).first.map(String.init)
        }
        // Weighted round-robin from a fresh load: .2, .3, .3, .1, .2, ...
        XCTAssertEqual((0..<5).compactMap { _ in q("rr") }, ["sip:10.0.0.2", "sip:10.0.0.3", "sip:10.0.0.3", "sip:10.0.0.1", "sip:10.0.0.2"])
        XCTAssertEqual(q("first"), "sip:10.0.0.2")
        XCTAssertEqual(q("nope"), "failed")
        // Failover list with max_res 2: the chosen one, the next; attrs follow; cnt = 2.
        XCTAssertEqual(q("failover"), "sip:10.0.0.2 a2 2,sip:10.0.0.3 gw=3")
        // Whole list from a hash pick wraps around the set.
        let all = q("all")?.split(separator: ",").map(String.init) ?? []
        XCTAssertEqual(Set(all), ["sip:10.0.0.1", "sip:10.0.0.2", "sip:10.0.0.3"])
        // A user part is stripped from $du; the first failover entry keeps the URI as written.
        XCTAssertEqual(q("user"), "sip:127.0.0.1:5099;transport=udp sip:user@127.0.0.1:5099;transport=udp")
        XCTAssertEqual(q("domain"), "sip:domain@10.0.0.2")
        // Call-ID hash: the same Call-ID always picks the same destination.
        let a = q("callid", callID: "fixed-call-1"), b = q("callid", callID: "fixed-call-1")
        XCTAssertNotNil(a)
        XCTAssertEqual(a, b)
        // first_hit_counter counts selections.
        let hits = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]?[0]?["first_hit_counter"]?.intValue ?? 0
        XCTAssertGreaterThanOrEqual(hits, 4)
    }

    func testMarkCountIsInListSetStateEventAndPersistence() throws {
        let db = try SQLiteCLI.database(Self.fixture)
        let port = Ports.udp()
        let h = try server(db: db, port: port, params: ["\"ds_probing_threshold\", 2"], route: """
            if ($rU == "mark") { ds_select_dst(1, 8, "f"); ds_mark_dst("p"); ds_mark_dst("p"); sl_send_reply(200, "$du"); exit; }
            if ($rU == "count") {
                ds_count(1, "a", $var(a)); ds_count(1, "ip", $var(ip)); ds_count(1, "", $var(n));
                sl_send_reply(200, "$var(a)/$var(ip)/$var(n)"); exit;
            }
            if ($rU == "inlist") {
                $var(r) = "";
                if (ds_is_in_list("10.0.0.3", 5060)) { $var(r) = $var(r) + "y"; } else { $var(r) = $var(r) + "n"; }
                if (ds_is_in_list("10.0.0.3", 5070)) { $var(r) = $var(r) + "y"; } else { $var(r) = $var(r) + "n"; }
                if (ds_is_in_list("10.0.0.3", 0, 2)) { $var(r) = $var(r) + "y"; } else { $var(r) = $var(r) + "n"; }
                if (ds_is_in_list("10.0.0.3", 0, 1, , 0, "gw=*")) { $var(r) = $var(r) + "y"; } else { $var(r) = $var(r) + "n"; }
                if (ds_is_in_list("10.0.0.2", 0, 1, , 1)) { $var(r) = $var(r) + "y"; } else { $var(r) = $var(r) + "n"; }
                sl_send_reply(200, "$var(r)"); exit;
            }
            """, extra: """
            event_route[E_DISPATCHER_STATUS] {
                xlog("L_NOTICE", "EVENT group=$param(group) address=$param(address) status=$param(status) reason=$param(reason)\\n");
            }
            """)
        let c = try UDPSocket()
        func q(_ user: String) -> String? {
            c.request(server: port, user: user).flatMap { $0.split(separator: " ", maxSplits: 2).dropFirst(2).first.map(String.init) }
        }
        XCTAssertEqual(q("inlist"), "ynnyy")
        // Two "p" marks reach the threshold (2): .2 goes to probing, event status=inactive.
        XCTAssertEqual(q("mark"), "sip:10.0.0.2")
        XCTAssertTrue(waitUntil(5) { h.log.contains("EVENT group=1 address=sip:10.0.0.2 status=inactive reason=script function ds_mark()") }, h.log)
        XCTAssertEqual(q("count"), "2/1/3")
        XCTAssertEqual(q("inlist"), "ynnyn") // active_only now skips .2
        // MI: .3 inactive; the event; ds_list says so.
        XCTAssertEqual(h.mi("ds_set_state", #"{"state":"i","group":"1","address":"sip:10.0.0.3"}"#)?["result"]?.stringValue, "OK")
        XCTAssertTrue(waitUntil(5) { h.log.contains("EVENT group=1 address=sip:10.0.0.3 status=inactive reason=MI command") }, h.log)
        let dests = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]
        XCTAssertEqual(dests?[1]?["state"]?.stringValue, "Inactive")
        XCTAssertEqual(dests?[0]?["state"]?.stringValue, "Probing")
        XCTAssertEqual(h.mi("ds_set_state", #"{"state":"i","group":"1","address":"sip:10.9.9.9"}"#)?["error"]?["code"]?.intValue, 404)
        XCTAssertEqual(h.mi("ds_set_state", #"{"state":"i","group":"x:1","address":"sip:10.0.0.3"}"#)?["error"]?["message"]?.stringValue, "ERROR Unknown partition")
        XCTAssertEqual(h.mi("ds_set_state", #"{"state":"z","group":"1","address":"sip:10.0.0.3"}"#)?["error"]?["message"]?.stringValue, "Bad state value")
        // persistent_state: written back at shutdown (and every 30 s).
        h.stop()
        let rows = try SQLiteCLI.run(db, "SELECT destination, state FROM dispatcher WHERE setid = 1 ORDER BY id;")
        XCTAssertEqual(rows, ["sip:10.0.0.1|0", "sip:10.0.0.2|2", "sip:10.0.0.3|1"])
    }

    func testReloadIsAtomicAndAFailedReloadKeepsTheOldSets() throws {
        let db = try SQLiteCLI.database(Self.fixture)
        let port = Ports.udp()
        let h = try server(db: db, port: port, route: "sl_send_reply(200, \"OK\");")
        XCTAssertEqual(h.mi("ds_set_state", #"{"state":"i","group":"1","address":"sip:10.0.0.1"}"#)?["result"]?.stringValue, "OK")
        try SQLiteCLI.run(db, "INSERT INTO dispatcher (setid, destination, weight) VALUES (3, 'sip:10.0.0.9', '4');")
        XCTAssertEqual(h.mi("ds_reload")?["result"]?.stringValue, "OK")
        let sets = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]
        XCTAssertEqual(sets?[2]?["id"]?.intValue, 3)
        XCTAssertEqual(sets?[0]?["Destinations"]?[2]?["state"]?.stringValue, "Inactive") // state inherited
        // inherit_state=no re-reads the DB state (0: active).
        XCTAssertEqual(h.mi("ds_reload", #"{"inherit_state":"no"}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]?[2]?["state"]?.stringValue, "Active")
        // A weight that is neither an integer nor fs:// fails the whole reload; the old sets stay.
        try SQLiteCLI.run(db, "INSERT INTO dispatcher (setid, destination, weight) VALUES (4, 'sip:10.0.0.10', 'heavy');")
        let err = h.mi("ds_reload")?["error"]
        XCTAssertEqual(err?["code"]?.intValue, 500)
        XCTAssertEqual(err?["message"]?.stringValue, "ERROR Reloading data")
        XCTAssertTrue(err?["data"]?.stringValue?.contains("heavy") ?? false)
        let after = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]
        XCTAssertEqual(after?[2]?["id"]?.intValue, 3)
        XCTAssertNil(after?[3])
        XCTAssertTrue(h.log.contains("keeping its old sets"))
    }

    func testPartitions() throws {
        let db = try SQLiteCLI.database(Self.fixture)
        let db2 = try SQLiteCLI.database("INSERT INTO dispatcher (setid, destination) VALUES (1, 'sip:10.1.1.1:5080');")
        let port = Ports.udp()
        let h = try server(db: db, port: port, params: ["\"partition\", \"trunks: db_url = sqlite://\(db2); ping_method = INFO\""], route: """
            ds_select_dst(1, 8, "f", "trunks");
            pv_printf($var(l), "$du $avp(ds_dst_failover_trunks) $avp(ds_grp_failover_trunks)");
            sl_send_reply(200, "$var(l)");
            """)
        let c = try UDPSocket()
        XCTAssertEqual(c.request(server: port)?.split(separator: " ", maxSplits: 2).last.map(String.init),
                       "sip:10.1.1.1:5080 sip:10.1.1.1:5080 1")
        let parts = h.mi("ds_list")?["result"]?["PARTITIONS"]
        XCTAssertEqual(parts?[0]?["name"]?.stringValue, "default")
        XCTAssertEqual(parts?[1]?["name"]?.stringValue, "trunks")
        XCTAssertEqual(h.mi("ds_set_state", #"{"state":"i","group":"trunks:1","address":"sip:10.1.1.1:5080"}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(h.mi("ds_list", #"{"partition":"trunks"}"#)?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]?[0]?["state"]?.stringValue, "Inactive")
    }

    func testNoPasswordInAnyLogLine() throws {
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination) VALUES (1, 'sip:bob:secret@10.0.0.7'), (1, 'sip:eve:secret@bad host');
            """)
        let h = try server(db: db, port: Ports.udp(), route: "sl_send_reply(200, \"OK\");")
        XCTAssertEqual(h.mi("ds_set_state", #"{"state":"i","group":"1","address":"sip:bob:secret@10.0.0.7"}"#)?["result"]?.stringValue, "OK")
        XCTAssertTrue(waitUntil(5) { h.log.contains("sip:bob:***@10.0.0.7> is now inactive") }, h.log)
        XCTAssertTrue(h.log.contains("sip:eve:***@bad host"), h.log) // the skipped row
        XCTAssertFalse(h.log.contains("secret"), h.log)
    }

    /// Failover with ds_next_dst on real requests, without tm: the first destination cannot be reached from our
    /// sockets (IPv6 while we only listen on IPv4), forward() fails, ds_next_dst() moves to the next box.
    func testFailoverWithNextDstWhenForwardFails() throws {
        let gw = try Responder(answer: 200)
        cleanups.append { gw.stop() }
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, priority) VALUES (1, 'sip:[::1]:5999', 10), (1, 'sip:127.0.0.1:\(gw.port)', 0);
            """)
        let port = Ports.udp()
        let h = try server(db: db, port: port, route: """
            ds_select_dst(1, 8, "f");
            if (!forward()) {
                xlog("L_NOTICE", "forward to $du failed, next\\n");
                ds_mark_dst("p");
                if (!ds_next_dst()) { sl_send_reply(503, "No destination left"); exit; }
                forward();
            }
            """)
        let c = try UDPSocket()
        XCTAssertEqual(c.request(server: port, method: "MESSAGE"), "SIP/2.0 200 Answer", h.log)
        XCTAssertEqual(gw.received.load(ordering: .relaxed), 1)
        XCTAssertTrue(h.log.contains("forward to sip:[::1]:5999 failed, next"), h.log)
    }

    func testSocketColumnBecomesTheSendSocket() throws {
        let gw = try Responder(answer: 200)
        cleanups.append { gw.stop() }
        let p1 = Ports.udp(), p2 = Ports.udp()
        let db = try SQLiteCLI.database(
            "INSERT INTO dispatcher (setid, destination, socket) VALUES (1, 'sip:127.0.0.1:\(gw.port)', 'udp:127.0.0.1:\(p2)');")
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(p1)
        socket = udp:127.0.0.1:\(p2)
        loadmodule "proto_udp.so"
        loadmodule "db_sqlite.so"
        loadmodule "dispatcher.so"
        modparam("dispatcher", "db_url", "sqlite://\(db)")
        route { ds_select_dst(1, 0); forward(); }
        """)
        try h.prepareAndStart()
        cleanups.append { h.stop() }
        let c = try UDPSocket()
        // The reply comes back through the proxy (relayed by Via).
        XCTAssertEqual(c.request(server: p1, method: "MESSAGE"), "SIP/2.0 200 Answer")
        XCTAssertEqual(gw.sourcePorts.withLock { $0 }, [p2], "sent from the destination's socket, not the receiving one")
    }

    func testBadPartitionAndMissingDefaultAreStartupErrors() throws {
        let db = try SQLiteCLI.database(Self.fixture)
        for (param, text) in [("\"partition\", \"p1: colour = red\"", "colour"), ("\"ds_probing_mode\", 3", "ds_probing_mode")] {
            let h = Harness("""
            mpath = "\(Repo.buildDirectory.path)"
            loadmodule "db_sqlite.so"
            loadmodule "dispatcher.so"
            modparam("dispatcher", "db_url", "sqlite://\(db)")
            modparam("dispatcher", \(param))
            """)
            let errs = h.prepare()
            XCTAssertTrue((errs.joined() + h.log).contains(text), errs.joined() + h.log)
        }
        // Literal flags and partition names are checked at startup (OpenSIPS's fixups); variables at each call.
        for (call, text) in [("ds_select_dst(1, 4, \"fx\")", "unknown flag 'x'"), ("ds_select_dst(1, 4, \"f\", \"nope\")", "unknown partition 'nope'"),
                             ("ds_next_dst(\"nope\")", "unknown partition 'nope'"), ("ds_count(1, \"a\", $var(n), \"nope\")", "unknown partition 'nope'"),
                             ("ds_mark_dst(\"i\", \"nope\")", "unknown partition 'nope'"),
                             ("ds_is_in_list(\"10.0.0.1\", 5060, 1, \"nope\")", "unknown partition 'nope'"),
                             ("ds_push_script_attrs(\"z=1\", \"10.0.0.1\", 5060, 1, \"nope\")", "unknown partition 'nope'"),
                             ("ds_get_script_attrs(\"sip:10.0.0.1\", 1, \"nope\", $var(o))", "unknown partition 'nope'")] {
            let h = Harness("""
            mpath = "\(Repo.buildDirectory.path)"
            loadmodule "db_sqlite.so"
            loadmodule "dispatcher.so"
            modparam("dispatcher", "db_url", "sqlite://\(db)")
            route { \(call); $var(f) = "fx"; ds_select_dst(1, 4, $var(f)); }
            """)
            let errs = h.prepare()
            XCTAssertEqual(errs.count, 1, "\(call): \(errs)")
            XCTAssertTrue(errs.joined().contains(text), "\(call): \(errs)")
        }
    }

    /// A partition named by a variable is looked up at each call: an unknown one makes the function return -1 and is
    /// logged once per function and name; a known one works as the literal would.
    func testPartitionInAVariableIsCheckedAtEachCall() throws {
        let db = try SQLiteCLI.database(Self.fixture)
        let port = Ports.udp()
        let h = try server(db: db, port: port, route: """
            $var(p) = $rU;
            $var(r) = "";
            if (ds_is_in_list("10.0.0.1", 5060, 1, $var(p))) { $var(r) = $var(r) + "y"; } else { $var(r) = $var(r) + "n"; }
            if (ds_select_dst(1, 8, "f", $var(p))) { $var(r) = $var(r) + "y"; } else { $var(r) = $var(r) + "n"; }
            ds_select_dst(1, 8, "f");
            if (ds_mark_dst("i", $var(p))) { $var(r) = $var(r) + "y"; } else { $var(r) = $var(r) + "n"; }
            if (ds_push_script_attrs("z=1", "10.0.0.1", 5060, 1, $var(p))) { $var(r) = $var(r) + "y"; } else { $var(r) = $var(r) + "n"; }
            sl_send_reply(200, "$var(r)");
            """)
        let c = try UDPSocket()
        func q(_ user: String) -> String? {
            c.request(server: port, user: user).flatMap { $0.split(separator: " ", maxSplits: 2).dropFirst(2).first.map(String.init) }
        }
        XCTAssertEqual(q("nope"), "nnnn")
        XCTAssertEqual(q("nope"), "nnnn")
        for f in ["ds_is_in_list", "ds_select_dst", "ds_mark_dst", "ds_push_script_attrs"] {
            XCTAssertEqual(h.messages.filter { $0.contains("\(f): unknown partition 'nope'") }.count, 1, "\(f): \(h.log)")
        }
        XCTAssertEqual(q("default"), "yyyy")
        // ds_mark_dst on the known partition did mark the selected destination (10.0.0.2, the first of set 1).
        let dests = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]
        XCTAssertEqual(dests?[0]?["URI"]?.stringValue, "sip:10.0.0.2")
        XCTAssertEqual(dests?[0]?["state"]?.stringValue, "Inactive")
    }

    /// OpenSIPS's MI codes and order of checks, and `p` as its ds_mi_set / ds_mark_dst apply it: on a destination
    /// that is not inactive it counts one failure (probing at the ds_probing_threshold-th, 3 here); on an inactive one
    /// it counts nothing and clears INACTIVE (the destination turns active).
    func testMIErrorCodesAndProbingStep() throws {
        let db = try SQLiteCLI.database(Self.fixture)
        let port = Ports.udp()
        let h = try server(db: db, port: port, route: """
            if ($rU == "markp") {
                $avp(ds_grp_failover) = 1; $avp(ds_dst_failover) = "sip:10.0.0.3";
                if (ds_mark_dst("p")) { sl_send_reply(200, "marked"); } else { sl_send_reply(200, "not marked"); }
                exit;
            }
            sl_send_reply(200, "OK");
            """, extra: """
            event_route[E_DISPATCHER_STATUS] {
                xlog("L_NOTICE", "EVENT address=$param(address) status=$param(status) reason=$param(reason)\\n");
            }
            """)
        func state(_ uri: String) -> String? {
            let dests = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]
            return (0..<3).compactMap { dests?[$0] }.first { $0["URI"]?.stringValue == uri }?["state"]?.stringValue
        }
        func set(_ st: String, _ uri: String) -> String? {
            h.mi("ds_set_state", #"{"state":"\#(st)","group":"1","address":"\#(uri)"}"#)?["result"]?.stringValue
        }
        // ds_reload of an unknown partition is 500 (ds_set_state's is 404); a group that is not a number is 500.
        let unknown = h.mi("ds_reload", #"{"partition":"nope"}"#)?["error"]
        XCTAssertEqual(unknown?["code"]?.intValue, 500)
        XCTAssertEqual(unknown?["message"]?.stringValue, "ERROR Unknown partition")
        let badGroup = h.mi("ds_set_state", #"{"state":"i","group":"one","address":"sip:10.0.0.3"}"#)?["error"]
        XCTAssertEqual(badGroup?["code"]?.intValue, 500)
        XCTAssertEqual(badGroup?["message"]?.stringValue, "bad group value")

        // p on an active destination: probing at the third.
        for n in 1...3 {
            XCTAssertEqual(set("p", "sip:10.0.0.1"), "OK")
            XCTAssertEqual(state("sip:10.0.0.1"), n < 3 ? "Active" : "Probing", "after \(n) p")
        }
        // p on an inactive destination: active at once, nothing counted (two more p leave it active, the third of
        // those puts it in probing).
        XCTAssertEqual(set("i", "sip:10.0.0.2"), "OK")
        XCTAssertEqual(state("sip:10.0.0.2"), "Inactive")
        XCTAssertEqual(set("p", "sip:10.0.0.2"), "OK")
        XCTAssertEqual(state("sip:10.0.0.2"), "Active")
        XCTAssertTrue(waitUntil(5) { h.log.contains("EVENT address=sip:10.0.0.2 status=active reason=MI command") }, h.log)
        for n in 1...3 {
            XCTAssertEqual(set("p", "sip:10.0.0.2"), "OK")
            XCTAssertEqual(state("sip:10.0.0.2"), n < 3 ? "Active" : "Probing", "after \(n) p")
        }
        // The same from the script: ds_mark_dst("p") on an inactive destination makes it active.
        XCTAssertEqual(set("i", "sip:10.0.0.3"), "OK")
        let c = try UDPSocket()
        XCTAssertEqual(c.request(server: port, user: "markp")?.split(separator: " ", maxSplits: 2).last.map(String.init), "marked")
        XCTAssertEqual(state("sip:10.0.0.3"), "Active")
        XCTAssertTrue(waitUntil(5) { h.log.contains("EVENT address=sip:10.0.0.3 status=active reason=script function ds_mark()") }, h.log)

        // ds_push_script_attrs: shown as script_attr; attrs are checked before the partition (empty: 500 even with an
        // unknown partition), then an unknown partition is 404.
        XCTAssertEqual(h.mi("ds_push_script_attrs", #"{"attrs":"load=3","ip":"10.0.0.2","port":0,"set":1}"#)?["result"]?.stringValue, "OK")
        let d2 = (0..<3).compactMap { h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]?[$0] }
            .first { $0["URI"]?.stringValue == "sip:10.0.0.2" }
        XCTAssertEqual(d2?["script_attr"]?.stringValue, "load=3")
        let empty = h.mi("ds_push_script_attrs", #"{"attrs":"","ip":"10.0.0.2","port":0,"set":1,"partition":"nope"}"#)?["error"]
        XCTAssertEqual(empty?["code"]?.intValue, 500)
        XCTAssertEqual(empty?["message"]?.stringValue, "Bad attrs value")
        let noPart = h.mi("ds_push_script_attrs", #"{"attrs":"x","ip":"10.0.0.2","port":0,"set":1,"partition":"nope"}"#)?["error"]
        XCTAssertEqual(noPart?["code"]?.intValue, 404)
        XCTAssertEqual(noPart?["message"]?.stringValue, "ERROR Unknown partition")
    }
}
