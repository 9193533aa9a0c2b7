import Foundation
import XCTest
import SwitchyardTestSupport

/// A dispatcher destination whose name's NAPTR record chooses TCP: ds_select_dst puts the URI (no transport) in $du,
/// and t_relay resolves it as OpenSIPS's tm does (NAPTR SIP+D2T, then SRV _sip._tcp), so the call reaches the box
/// over TCP at the SRV port (the dispatcher keeps only IP and port per address; the transport comes from t_relay's own
/// resolution of $du).
final class DispatcherNAPTRTests: TMTestCase {
    func testNAPTRTransportReachesTheBoxOverTCP() throws {
        let p = LocalPorts.freePorts(4)
        let (proxy, proxyTCP, caller, box) = (p[0], p[1], p[2], p[3])
        let dns = try FakeDNSServer()
        cleanups.append { dns.stop() }
        dns.add("fs.test", .naptr(order: 10, preference: 10, flags: "s", services: "SIP+D2T", regexp: "",
                                  replacement: "_sip._tcp.fs.test"))
        dns.add("_sip._tcp.fs.test", .srv(priority: 1, weight: 0, port: box, target: "box.fs.test"))
        dns.add("box.fs.test", .a("127.0.0.1"))
        let db = "\(workDir)/ds.db"
        let provision = "\(workDir)/provision.sql"
        try """
        INSERT INTO dispatcher (setid, destination, weight, priority, attrs, description) VALUES (1, 'sip:fs.test', '1', 0, '', '');

        """.write(toFile: provision, atomically: true, encoding: .utf8)
        let schema = Self.repoRoot.appendingPathComponent("Plugins/dispatcher/schema/sqlite.sql").path
        let uas = try startUAS(port: box, tcp: true)
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        socket = tcp:127.0.0.1:\(proxyTCP)
        loadmodule "proto_tcp.so"
        loadmodule "db_sqlite.so"
        loadmodule "dispatcher.so"
        modparam("db_sqlite", "init_sql", "\(schema)")
        modparam("db_sqlite", "init_sql", "\(provision)")
        modparam("dispatcher", "db_url", "sqlite://\(db)")
        """) + """
        route {
            if (!ds_select_dst(1, 8)) { t_reply(503, "No destination"); exit; }
            xlog("L_NOTICE", "selected $du\\n");
            t_relay();
        }
        """, port: proxy, env: ["SWITCHYARD_DNS_SERVER": dns.address])
        let run = try runUAC("uac.xml", local: caller, target: proxy, calls: 1, timeout: 15)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "BYE ", calls: 1), uas.report)
        XCTAssertTrue(sy.output.contains("selected sip:fs.test"), sy.output)
        XCTAssertEqual(dns.asked("_sip._udp.fs.test", type: FakeDNSServer.typeSRV), 0, "\(dns.questions)")
    }
}
