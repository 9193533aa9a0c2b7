import Foundation
import XCTest
import SwitchyardJSON
@testable import SwitchyardCore
import SwitchyardTestSupport

/// Two proxies on one MariaDB dispatcher table (SY_TEST_MYSQL_URL, .ci/servers.sh): a state set by MI on one reaches
/// the table (persistent_state) even when a ds_reload came between the change and the write, and the other proxy
/// sees it on `ds_reload inherit_state=no`; a reload while MariaDB is down fails and keeps the old sets, the next one
/// after the restart works.
final class SharedDatabaseTests: XCTestCase {
    private func proxy(_ url: String) throws -> Harness {
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(Ports.udp())
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "db_mysql.so"
        loadmodule "dispatcher.so"
        modparam("dispatcher", "db_url", "\(url)")
        route { sl_send_reply(200, "OK"); }
        """)
        try h.prepareAndStart()
        return h
    }

    private func states(_ h: Harness) -> [String] {
        let d = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]
        return (0..<3).compactMap { d?[$0]?["state"]?.stringValue }
    }

    func testStateSurvivesReloadToTheTableAndReachesTheOtherProxy() throws {
        let cli = SQLCLI(.mysql, url: try TestServers.mysqlURL())
        let name = "sy_ds_shared_\(UUID().uuidString.prefix(8).lowercased())"
        let url = try cli.createDatabase(name)
        defer { cli.dropDatabase(name) }
        try cli.load("Plugins/dispatcher/schema/mysql.sql", database: name)
        try cli.run(DispatcherModuleTests.fixture, database: name)

        let a = try proxy(url)
        let b = try proxy(url)
        defer { b.stop() }
        XCTAssertEqual(states(a), ["Active", "Active", "Active"])
        XCTAssertEqual(a.mi("ds_set_state", #"{"state":"i","group":"1","address":"sip:10.0.0.3"}"#)?["result"]?.stringValue, "OK")
        // A reload before the state was written back: the change is inherited, and still written back later.
        XCTAssertEqual(a.mi("ds_reload")?["result"]?.stringValue, "OK", a.log)
        XCTAssertEqual(states(a), ["Active", "Inactive", "Active"])
        a.stop() // writes dirty states back (as the 30 s ds-flusher does)
        XCTAssertEqual(try cli.run("SELECT destination, state FROM dispatcher WHERE setid = 1 ORDER BY id", database: name),
                       ["sip:10.0.0.1\t0", "sip:10.0.0.2\t0", "sip:10.0.0.3\t1"])
        // The other proxy keeps its own state on a plain reload and takes the table's with inherit_state=no.
        XCTAssertEqual(b.mi("ds_reload")?["result"]?.stringValue, "OK")
        XCTAssertEqual(states(b), ["Active", "Active", "Active"])
        XCTAssertEqual(b.mi("ds_reload", #"{"inherit_state":"no"}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(states(b), ["Active", "Inactive", "Active"])

        // MariaDB down: the reload fails with OpenSIPS's error and the sets stay; after the restart it works again.
        try TestServers.control("stopone", "mysql")
        var restarted = false
        defer { if !restarted { try? TestServers.control("startone", "mysql") } }
        let err = b.mi("ds_reload")?["error"]
        XCTAssertEqual(err?["code"]?.intValue, 500)
        XCTAssertEqual(err?["message"]?.stringValue, "ERROR Reloading data")
        XCTAssertEqual(states(b), ["Active", "Inactive", "Active"])
        try TestServers.control("startone", "mysql")
        restarted = true
        try cli.run("UPDATE dispatcher SET state = 0 WHERE destination = 'sip:10.0.0.3'", database: name)
        XCTAssertEqual(b.mi("ds_reload", #"{"inherit_state":"no"}"#)?["result"]?.stringValue, "OK", b.log)
        XCTAssertEqual(states(b), ["Active", "Active", "Active"])
        XCTAssertFalse(b.log.contains("sy-test-pw"), "the password reached the log")

        // OpenSIPS's error codes: ds_reload of an unknown partition is 500 (ds_set_state's is 404); a group that is
        // not a number is 500 "bad group value".
        let unknown = b.mi("ds_reload", #"{"partition":"nope"}"#)?["error"]
        XCTAssertEqual(unknown?["code"]?.intValue, 500)
        XCTAssertEqual(unknown?["message"]?.stringValue, "ERROR Unknown partition")
        let badGroup = b.mi("ds_set_state", #"{"state":"i","group":"one","address":"sip:10.0.0.3"}"#)?["error"]
        XCTAssertEqual(badGroup?["code"]?.intValue, 500)
        XCTAssertEqual(badGroup?["message"]?.stringValue, "bad group value")
        // ds_set_state p counts failures: the destination enters probing at the third (ds_probing_threshold 3).
        for n in 1...3 {
            XCTAssertEqual(b.mi("ds_set_state", #"{"state":"p","group":"1","address":"sip:10.0.0.1"}"#)?["result"]?.stringValue, "OK")
            XCTAssertEqual(states(b)[2], n < 3 ? "Active" : "Probing", "after \(n) p")
        }
        // ds_push_script_attrs: shown as script_attr by ds_list; empty attrs are 500 "Bad attrs value".
        XCTAssertEqual(b.mi("ds_push_script_attrs", #"{"attrs":"load=3","ip":"10.0.0.2","port":0,"set":1}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(b.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]?[0]?["script_attr"]?.stringValue, "load=3")
        XCTAssertEqual(b.mi("ds_push_script_attrs", #"{"attrs":"","ip":"10.0.0.2","port":0,"set":1}"#)?["error"]?["message"]?.stringValue,
                       "Bad attrs value")
    }
}
