import Foundation
import XCTest
import SwitchyardJSON
@testable import SwitchyardCore
import SwitchyardTestSupport
import Synchronization

/// Destinations resolved at load by the core's resolver (ABI 1.12): a name without a port gives its SRV targets'
/// addresses at their ports (a NAPTR record's SRV name included). A ds_reload while DNS is silent keeps the old sets
/// (ABI 1.13 tells a failed query from no such name). A FakeDNSServer answers (SWITCHYARD_DNS_SERVER, in this in-process server's own
/// environment: no setenv while other threads run).
final class DispatcherSRVTests: XCTestCase {
    func testSRVNameGivesItsTargets() throws {
        let dns = try FakeDNSServer()
        defer { dns.stop() }
        dns.add("_sip._udp.farm.test", .srv(priority: 20, weight: 0, port: 5080, target: "fs2.farm.test"),
                .srv(priority: 10, weight: 0, port: 5070, target: "fs1.farm.test"))
        dns.add("fs1.farm.test", .a("10.0.0.7"))
        dns.add("fs2.farm.test", .a("10.0.0.8"))
        dns.add("tcp.test", .naptr(order: 10, preference: 10, flags: "s", services: "SIP+D2T", regexp: "",
                                   replacement: "_sip._tcp.pool.test"))
        dns.add("_sip._tcp.pool.test", .srv(priority: 1, weight: 0, port: 5090, target: "fs3.farm.test"))
        dns.add("fs3.farm.test", .a("10.0.0.9"))
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, weight, priority, attrs, description) VALUES
              (1, 'sip:farm.test', '1', 0, '', ''), (1, 'sip:10.0.0.1', '1', 0, '', ''), (1, 'sip:nowhere.test', '1', 0, '', ''),
              (1, 'sip:tcp.test', '1', 0, '', ''), (1, 'sip:10.0.0.2;transport=tcp', '1', 0, '', '');
            """)
        let port = Ports.udp()
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(port)
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "db_sqlite.so"
        loadmodule "dispatcher.so"
        modparam("dispatcher", "db_url", "sqlite://\(db)")
        route { sl_send_reply(200, "OK"); }
        """, environment: ["SWITCHYARD_DNS_SERVER": dns.address])
        try h.prepareAndStart()
        defer { h.stop() }
        let dests = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]
        var resolved: [String: [String]] = [:]
        for i in 0..<5 {
            guard let uri = dests?[i]?["URI"]?.stringValue else { continue }
            resolved[uri] = (0..<4).compactMap { dests?[i]?["resolved_addresses"]?[$0]?.stringValue }
        }
        XCTAssertEqual(resolved, ["sip:farm.test": ["10.0.0.7:5070", "10.0.0.8:5080"], "sip:10.0.0.1": ["10.0.0.1:5060"],
                                  "sip:tcp.test": ["10.0.0.9:5090"], "sip:10.0.0.2;transport=tcp": ["10.0.0.2:5060"]])
        // ds_list shows IP and port, as OpenSIPS's. The NAPTR record's transport is not kept: t_relay resolves $du
        // again when it sends (DispatcherNAPTRTests).
        XCTAssertEqual(dns.asked("_sip._udp.farm.test", type: FakeDNSServer.typeSRV), 1, "\(dns.questions)")
    }

    /// DNS goes silent for a destination's name: once its cached answer (TTL 1 s) expired, ds_reload answers 500
    /// "ERROR Reloading data" naming the host, and the set keeps the destination with its address.
    func testReloadWhileDNSIsSilentKeepsTheOldSets() throws {
        let dns = try FakeDNSServer()
        defer { dns.stop() }
        dns.add("box.test", .a("10.0.0.7"))
        dns.ttl("box.test", 1)
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, weight, priority, attrs, description) VALUES
              (1, 'sip:box.test:5070', '1', 0, '', ''), (1, 'sip:10.0.0.1', '1', 0, '', '');
            """)
        let h = dispatcher(db: db, dns: dns, retryTime: 1)
        try h.prepareAndStart()
        defer { h.stop() }
        func uris() -> [String: String] {
            let dests = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]
            var out: [String: String] = [:]
            for i in 0..<3 {
                guard let uri = dests?[i]?["URI"]?.stringValue else { continue }
                out[uri] = dests?[i]?["resolved_addresses"]?[0]?.stringValue ?? ""
            }
            return out
        }
        XCTAssertEqual(uris(), ["sip:box.test:5070": "10.0.0.7:5070", "sip:10.0.0.1": "10.0.0.1:5060"])
        dns.silence("box.test")
        var reply: JSONValue? = nil
        XCTAssertTrue(waitUntil(timeout: 15) {
            reply = h.mi("ds_reload")
            return reply?["error"] != nil
        }, "\(String(describing: reply))")
        XCTAssertEqual(reply?["error"]?["code"]?.intValue, 500, "\(String(describing: reply))")
        XCTAssertEqual(reply?["error"]?["message"]?.stringValue, "ERROR Reloading data", "\(String(describing: reply))")
        XCTAssertTrue(reply?["error"]?["data"]?.stringValue?.contains("DNS did not answer for host 'box.test'") == true,
                      "\(String(describing: reply))")
        XCTAssertEqual(uris(), ["sip:box.test:5070": "10.0.0.7:5070", "sip:10.0.0.1": "10.0.0.1:5060"])
    }

    /// A state change made while ds_reload waits for DNS is kept: the new destination takes the old one's state (and
    /// its pending write to the table) only after the lookups, right before the new sets are published.
    func testStateChangedWhileReloadResolvesIsKept() throws {
        let dns = try FakeDNSServer()
        defer { dns.stop() }
        dns.add("box.test", .a("10.0.0.7"))
        dns.ttl("box.test", 1) // kept 1 s (the resolver's floor): a reload after that asks again
        let db = try SQLiteCLI.database("""
            INSERT INTO dispatcher (setid, destination, weight, priority, attrs, description) VALUES
              (1, 'sip:10.0.0.1', '1', 0, '', ''), (1, 'sip:box.test:5070', '1', 0, '', '');
            """)
        let h = dispatcher(db: db, dns: dns, retryTime: 10)
        try h.prepareAndStart()
        var stopped = false
        defer { if !stopped { h.stop() } }
        func state(_ uri: String) -> String? {
            let dests = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]
            return (0..<3).compactMap { dests?[$0] }.first { $0["URI"]?.stringValue == uri }?["state"]?.stringValue
        }
        XCTAssertEqual(state("sip:10.0.0.1"), "Active")
        dns.hold("box.test")
        // Reloads until one asks DNS (the cached answer expired) and so waits for the held answer.
        let reloaded = Mutex<JSONValue?>(nil)
        var waiting = false
        XCTAssertTrue(waitUntil(15) {
            reloaded.withLock { $0 = nil }
            let asked = dns.asked("box.test", type: FakeDNSServer.typeA)
            Thread { let r = h.mi("ds_reload"); reloaded.withLock { $0 = r } }.start()
            waitUntil(10) { reloaded.withLock { $0 } != nil || dns.asked("box.test", type: FakeDNSServer.typeA) > asked }
            waiting = dns.asked("box.test", type: FakeDNSServer.typeA) > asked
            return waiting
        }, "\(dns.questions)")
        guard waiting else { return }
        // The reload is inside its lookup of box.test: set 10.0.0.1 inactive now.
        XCTAssertEqual(h.mi("ds_set_state", #"{"state":"i","group":"1","address":"sip:10.0.0.1"}"#)?["result"]?.stringValue, "OK")
        XCTAssertNil(reloaded.withLock { $0 }, "the reload did not wait for DNS")
        dns.release("box.test")
        XCTAssertTrue(waitUntil(10) { reloaded.withLock { $0 } != nil })
        XCTAssertEqual(reloaded.withLock { $0 }?["result"]?.stringValue, "OK", "\(String(describing: reloaded.withLock { $0 }))")
        XCTAssertEqual(state("sip:10.0.0.1"), "Inactive", h.log)
        XCTAssertEqual(state("sip:box.test:5070"), "Active")
        // The pending write went with it: the shutdown flush writes state 1 (inactive) to the table.
        h.stop()
        stopped = true
        XCTAssertEqual(try SQLiteCLI.run(db, "SELECT destination, state FROM dispatcher ORDER BY id;"),
                       ["sip:10.0.0.1|1", "sip:box.test:5070|0"])
    }

    /// A server with the dispatcher on `db`, asking `dns` with one try of `retryTime` seconds per query.
    private func dispatcher(db: String, dns: FakeDNSServer, retryTime: Int) -> Harness {
        Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(Ports.udp())
        dns_retr_time = \(retryTime)
        dns_retr_no = 1
        dns_use_search_list = 0
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "db_sqlite.so"
        loadmodule "dispatcher.so"
        modparam("dispatcher", "db_url", "sqlite://\(db)")
        route { sl_send_reply(200, "OK"); }
        """, environment: ["SWITCHYARD_DNS_SERVER": dns.address])
    }
}
