import Foundation
import XCTest
import SwitchyardJSON
@testable import SwitchyardCore
import SwitchyardTestSupport

/// Destinations resolved at load by the core's resolver (ABI 1.12): a name without a port gives its SRV targets'
/// addresses at their ports, a NAPTR record the transport kept with each address. A FakeDNSServer answers (SWITCHYARD_DNS_SERVER, in this in-process server's own
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
        // The NAPTR record's transport is kept with the address (DispatcherNAPTRTests sends over it); ds_list shows
        // only IP and port, as OpenSIPS's.
        XCTAssertEqual(dns.asked("_sip._udp.farm.test", type: FakeDNSServer.typeSRV), 1, "\(dns.questions)")
    }
}
