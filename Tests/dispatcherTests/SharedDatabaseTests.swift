import Foundation
import XCTest
import SwitchyardJSON
@testable import SwitchyardCore
import SwitchyardTestSupport

/// Two proxies on one MariaDB or PostgreSQL dispatcher table (SY_TEST_MYSQL_URL, SY_TEST_POSTGRES_URL,
/// .ci/servers.sh): a state set by MI on one reaches the table (persistent_state) even when a ds_reload came between
/// the change and the write, and the other proxy sees it on `ds_reload inherit_state=no`; a reload while the server is
/// down fails and keeps the old sets, the next one after the restart works. The server is running again when the test
/// ends, whatever failed. The MI error codes are checked on sqlite (DispatcherModuleTests), so they run without a server.
final class SharedDatabaseTests: XCTestCase {
    private func proxy(_ url: String, driver: String = "db_mysql") throws -> Harness {
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(Ports.udp())
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "\(driver).so"
        loadmodule "dispatcher.so"
        modparam("dispatcher", "db_url", "\(url)")
        route { sl_send_reply(200, "OK"); }
        """)
        try h.prepareAndStart()
        return h
    }

    /// The state of each destination of set 1, by URI (not by position: a missing one is simply absent).
    private func states(_ h: Harness) -> [String: String] {
        let d = h.mi("ds_list")?["result"]?["PARTITIONS"]?[0]?["SETS"]?[0]?["Destinations"]
        var out: [String: String] = [:]
        for i in 0..<8 {
            guard let uri = d?[i]?["URI"]?.stringValue else { break }
            out[uri] = d?[i]?["state"]?.stringValue ?? ""
        }
        return out
    }

    private let allActive = ["sip:10.0.0.1": "Active", "sip:10.0.0.2": "Active", "sip:10.0.0.3": "Active"]
    private let thirdInactive = ["sip:10.0.0.1": "Active", "sip:10.0.0.2": "Active", "sip:10.0.0.3": "Inactive"]

    func testStateSurvivesReloadToTheTableAndReachesTheOtherProxy() throws {
        try sharedTable(.mysql, server: "mysql", driver: "db_mysql", url: try TestServers.mysqlURL())
    }

    /// The same on PostgreSQL: two proxies, one table, states written back and read, a server outage.
    func testStateSharedThroughPostgres() throws {
        try sharedTable(.postgres, server: "postgres", driver: "db_postgres", url: try TestServers.postgresURL())
    }

    /// The core's db_default_url gives its URL to every module with a db_url it was not given (dispatcher here, on
    /// MariaDB), while a module's own db_url wins (drouting here, on another database), as in OpenSIPS.
    func testDbDefaultURL() throws {
        let cli = SQLCLI(.mysql, url: try TestServers.mysqlURL())
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let dsName = "sy_ds_default_\(suffix)", drName = "sy_dr_own_\(suffix)"
        let dsURL = try cli.createDatabase(dsName)
        defer { cli.dropDatabase(dsName) }
        let drURL = try cli.createDatabase(drName)
        defer { cli.dropDatabase(drName) }
        try cli.load("Plugins/dispatcher/schema/mysql.sql", database: dsName)
        try cli.run(DispatcherModuleTests.fixture, database: dsName)
        try cli.load("Plugins/drouting/schema/mysql.sql", database: drName)
        try cli.run("INSERT INTO dr_gateways (gwid, type, address) VALUES ('gw-own', 0, '10.0.0.7')", database: drName)
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(Ports.udp())
        db_default_url = "\(dsURL)"
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "db_mysql.so"
        loadmodule "dispatcher.so"
        loadmodule "drouting.so"
        modparam("drouting", "db_url", "\(drURL)")
        route { sl_send_reply(200, "OK"); }
        """)
        try h.prepareAndStart()
        defer { h.stop() }
        XCTAssertEqual(states(h), allActive, h.log)
        let gws = h.mi("dr_gw_status")?["result"]?["Gateways"]
        XCTAssertEqual(gws?[0]?["ID"]?.stringValue, "gw-own", "\(String(describing: gws))\n\(h.log)")
        XCTAssertNil(gws?[1])
    }

    /// drouting under a server restart and an outage: dr_reload right after a restart works at once (its dead
    /// session is replaced), during the outage it fails with OpenSIPS's 500 "Failed to reload" and keeps the gateways,
    /// after it works again and sees the new row.
    func testDrReloadAcrossRestartMySQL() throws {
        try drReloadAcrossRestart(.mysql, server: "mysql", driver: "db_mysql", url: try TestServers.mysqlURL())
    }

    func testDrReloadAcrossRestartPostgres() throws {
        try drReloadAcrossRestart(.postgres, server: "postgres", driver: "db_postgres", url: try TestServers.postgresURL())
    }

    private func drReloadAcrossRestart(_ kind: SQLCLI.Kind, server: String, driver: String, url serverURL: String) throws {
        let cli = SQLCLI(kind, url: serverURL)
        let name = "sy_dr_restart_\(UUID().uuidString.prefix(8).lowercased())"
        let url = try cli.createDatabase(name)
        defer { cli.dropDatabase(name) }
        try cli.load("Plugins/drouting/schema/\(server).sql", database: name)
        try cli.run("INSERT INTO dr_gateways (gwid, type, address) VALUES ('gw1', 0, '10.0.0.1')", database: name)
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        socket = udp:127.0.0.1:\(Ports.udp())
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "\(driver).so"
        loadmodule "drouting.so"
        modparam("drouting", "db_url", "\(url)")
        route { sl_send_reply(200, "OK"); }
        """)
        try h.prepareAndStart()
        defer { h.stop() }
        func gateways() -> [String] {
            (0..<8).compactMap { h.mi("dr_gw_status")?["result"]?["Gateways"]?[$0]?["ID"]?.stringValue }
        }
        XCTAssertEqual(gateways(), ["gw1"], h.log)
        // Registered before the first restart: a restart whose start half fails leaves the server running again too.
        defer {
            do { try TestServers.control("startone", server) } catch { XCTFail("cannot start \(server) again: \(error)") }
            XCTAssertTrue(TestServers.waitUntil(60) { (try? cli.run("SELECT 1")) == ["1"] }, "\(server) does not accept connections")
        }
        try TestServers.control("restart", server)
        XCTAssertEqual(h.mi("dr_reload")?["result"]?.stringValue, "OK", h.log)
        try TestServers.control("stopone", server)
        let t0 = Date()
        let err = h.mi("dr_reload")?["error"]
        XCTAssertLessThan(Date().timeIntervalSince(t0), 3, "dr_reload waited for a down server")
        XCTAssertEqual(err?["code"]?.intValue, 500, h.log)
        XCTAssertEqual(err?["message"]?.stringValue, "Failed to reload")
        XCTAssertEqual(gateways(), ["gw1"])
        try TestServers.control("startone", server)
        XCTAssertTrue(TestServers.waitUntil(60) { (try? cli.run("SELECT 1")) == ["1"] }, "\(server) does not accept connections")
        try cli.run("INSERT INTO dr_gateways (gwid, type, address) VALUES ('gw2', 0, '10.0.0.2')", database: name)
        XCTAssertEqual(h.mi("dr_reload")?["result"]?.stringValue, "OK", h.log)
        XCTAssertEqual(gateways().sorted(), ["gw1", "gw2"])
    }

    private func sharedTable(_ kind: SQLCLI.Kind, server: String, driver: String, url serverURL: String) throws {
        let cli = SQLCLI(kind, url: serverURL)
        let name = "sy_ds_shared_\(UUID().uuidString.prefix(8).lowercased())"
        let url = try cli.createDatabase(name)
        defer { cli.dropDatabase(name) }
        try cli.load("Plugins/dispatcher/schema/\(server).sql", database: name)
        try cli.run(DispatcherModuleTests.fixture, database: name)

        let a = try proxy(url, driver: driver)
        var aStopped = false
        defer { if !aStopped { a.stop() } } // also when starting b throws
        let b = try proxy(url, driver: driver)
        defer { b.stop() }
        XCTAssertEqual(states(a), allActive)
        XCTAssertEqual(a.mi("ds_set_state", #"{"state":"i","group":"1","address":"sip:10.0.0.3"}"#)?["result"]?.stringValue, "OK")
        // A reload before the state was written back: the change is inherited, and still written back later.
        XCTAssertEqual(a.mi("ds_reload")?["result"]?.stringValue, "OK", a.log)
        XCTAssertEqual(states(a), thirdInactive)
        a.stop() // writes dirty states back (as the 30 s ds-flusher does)
        aStopped = true
        XCTAssertEqual(try cli.run("SELECT destination, state FROM dispatcher WHERE setid = 1 ORDER BY id", database: name),
                       ["sip:10.0.0.1\t0", "sip:10.0.0.2\t0", "sip:10.0.0.3\t1"])
        // The other proxy keeps its own state on a plain reload and takes the table's with inherit_state=no.
        XCTAssertEqual(b.mi("ds_reload")?["result"]?.stringValue, "OK")
        XCTAssertEqual(states(b), allActive)
        XCTAssertEqual(b.mi("ds_reload", #"{"inherit_state":"no"}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(states(b), thirdInactive)

        // The server down: the reload fails with OpenSIPS's error and the sets stay; after the restart it works again.
        // The server is shared with the tests after this one: whatever happens here, it is started again and this
        // test waits until it accepts connections (over TCP, as they connect).
        defer {
            do { try TestServers.control("startone", server) } catch { XCTFail("cannot start \(server) again: \(error)") }
            XCTAssertTrue(TestServers.waitUntil(60) { (try? cli.run("SELECT 1")) == ["1"] }, "\(server) does not accept connections")
        }
        try TestServers.control("stopone", server)
        let err = b.mi("ds_reload")?["error"]
        XCTAssertEqual(err?["code"]?.intValue, 500)
        XCTAssertEqual(err?["message"]?.stringValue, "ERROR Reloading data")
        XCTAssertEqual(states(b), thirdInactive)
        try TestServers.control("startone", server)
        XCTAssertTrue(TestServers.waitUntil(60) { (try? cli.run("SELECT 1")) == ["1"] }, "\(server) does not accept connections")
        try cli.run("UPDATE dispatcher SET state = 0 WHERE destination = 'sip:10.0.0.3'", database: name)
        XCTAssertEqual(b.mi("ds_reload", #"{"inherit_state":"no"}"#)?["result"]?.stringValue, "OK", b.log)
        XCTAssertEqual(states(b), allActive)
        XCTAssertFalse(b.log.contains("sy-test-pw"), "the password reached the log")
    }
}
