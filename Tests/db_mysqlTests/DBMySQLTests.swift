// db_mysql against the private MariaDB of .ci/servers.sh (SY_TEST_MYSQL_URL): the DB API through the C table,
// drouting and freeswitch_scripting on the shipped MySQL schemas, startup errors, Unix sockets, a server restart.
import SwitchyardTestSupport
import SwitchyardCore
import Foundation
import XCTest

final class DBMySQLTests: XCTestCase {
    static func createTable(_ t: String) -> String {
        "CREATE TABLE \(t) (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL UNIQUE, weight DOUBLE, "
            + "prefix VARCHAR(64), attrs BLOB, flag BOOLEAN)"
    }

    private func withDriver(timeout: Int = 2, _ body: (SQLDriverChecks) throws -> Void) throws {
        let url = try TestServers.mysqlURL()
        let s = try InProcessServer("loadmodule \"db_mysql.so\"\nmodparam(\"db_mysql\", \"timeout_interval\", \(timeout))\n")
        defer { s.stop() }
        try body(SQLDriverChecks(api: try s.db("mysql"), url: url, createTable: Self.createTable,
                                 sessionIdSQL: "SELECT CONNECTION_ID()", serverName: "mysql",
                                 messages: { s.collector.messages }))
    }

    private var scenarios: ScenarioChecks {
        get throws { ScenarioChecks(cli: SQLCLI(.mysql, url: try TestServers.mysqlURL()), module: "db_mysql", schema: "mysql") }
    }

    func testSelectInsertUpdateDeleteRawWithEveryType() throws { try withDriver { try $0.crud() } }
    func testTransactions() throws { try withDriver { try $0.transactions() } }
    func testOneSessionPerWorkerThread() throws { try withDriver { try $0.sessionPerWorker() } }
    func testServerRestartCostsOnlyTheOutage() throws { try withDriver { try $0.reconnectAfterRestart() } }
    func testServerRestartWithSeveralSessions() throws { try withDriver { try $0.reconnectAfterRestartWithSeveralSessions() } }

    func testDroutingFromMySQLSchema() throws { try scenarios.drouting() }
    func testFreeswitchTableFromMySQLSchema() throws { try scenarios.freeswitchTable() }

    func testWrongPasswordStopsStartupWithMaskedURL() throws {
        let u = ServerURL(try TestServers.mysqlURL())
        let url = "mysql://\(u.user):Wr0ngSecret@\(u.host):\(u.port)/\(u.database)"
        try scenarios.startupFails(url: url, password: "Wr0ngSecret", expect: "Access denied")
    }

    /// A password holding '@' (written %40), ':', '/', '?', '#' and ';': OpenSIPS reads the credentials first, so
    /// everything up to the '@' after the user's ':' is the password; no log line and no error shows it.
    func testPasswordWithSpecialCharacters() throws {
        let u = ServerURL(try TestServers.mysqlURL())
        let cli = SQLCLI(.mysql, url: try TestServers.mysqlURL())
        let user = "sy_pw_\(UUID().uuidString.prefix(6).lowercased())"
        let password = "p@ss:w/rd?#x;y"
        try cli.run("CREATE USER '\(user)'@'%' IDENTIFIED BY '\(password)'")
        defer { _ = try? cli.run("DROP USER '\(user)'@'%'") }
        let s = try InProcessServer("loadmodule \"db_mysql.so\"\nmodparam(\"db_mysql\", \"timeout_interval\", 2)\n")
        defer { s.stop() }
        let api = try s.db("mysql")
        // information_schema: the one database a user without grants may open.
        let url = "mysql://\(user):p%40ss:w/rd?#x;y@\(u.host):\(u.port)/information_schema"
        let (c, err) = api.connect(url)
        let db = try XCTUnwrap(c, err.message)
        defer { db.close() }
        XCTAssertEqual(db.raw("SELECT CURRENT_USER()").rows, [[.text("\(user)@%")]])
        let (bad, badErr) = api.connect("mysql://\(user):p%40ss:w/rd?#x;z@\(u.host):\(u.port)/information_schema")
        XCTAssertNil(bad)
        XCTAssertTrue(badErr.message.contains("Access denied"), badErr.message)
        for text in [badErr.message] + s.collector.messages {
            XCTAssertFalse(text.contains("w/rd") || text.contains("ss:w") || text.contains("#x;"), "password shown: \(text)")
        }
    }

    func testUnreachableServerStopsStartup() throws {
        _ = try TestServers.mysqlURL()
        try scenarios.startupFails(url: "mysql://u:Secret99@127.0.0.1:\(TestServers.closedPort())/db", password: "Secret99", expect: "Can't connect")
    }

    /// `localhost` is libmariadb's Unix socket (MYSQL_UNIX_PORT names it), and unix(/path) names one in the URL.
    func testLocalhostAndUnixFormUseTheSocket() throws {
        let u = ServerURL(try TestServers.mysqlURL())
        let socket = try TestServers.env("SY_TEST_MYSQL_SOCKET", server: "MariaDB")
        for (url, env) in [("mysql://\(u.user):\(u.password)@localhost/\(u.database)", ["MYSQL_UNIX_PORT": socket]),
                           ("mysql://\(u.user):\(u.password)@unix(\(socket))/\(u.database)", [:])] {
            let cfg = writeTemp("""
                loadmodule "db_mysql.so"
                loadmodule "drouting.so"
                modparam("drouting", "db_url", "\(url)")
                """)
            defer { try? FileManager.default.removeItem(atPath: cfg) }
            // -c runs init: drouting connects and loads; an empty database lacks the tables, so accept either "ok"
            // or a missing-table error, but never a connection error.
            let (status, out) = try BinaryRunner.run(["-c", "-f", cfg], env: env, timeout: 30)
            XCTAssertFalse(out.contains("cannot connect"), "\(url): \(out)")
            XCTAssertNotNil(status, out)
        }
    }

    /// timeout_interval 0 starts, as in OpenSIPS (the library's "no timeout"), with a warning saying what it means.
    func testTimeoutIntervalZeroIsAccepted() throws {
        let url = try TestServers.mysqlURL()
        let s = try InProcessServer("loadmodule \"db_mysql.so\"\nmodparam(\"db_mysql\", \"timeout_interval\", 0)\n")
        defer { s.stop() }
        let (c, err) = try s.db("mysql").connect(url)
        let db = try XCTUnwrap(c, err.message)
        defer { db.close() }
        XCTAssertEqual(db.raw("SELECT 1").rows, [[.int(1)]])
        XCTAssertTrue(s.collector.messages.contains { $0.contains("timeout_interval 0: no timeout") },
                      s.collector.messages.joined(separator: "\n"))
    }

    func testQueryTimeoutKeepsTheOtherSessions() throws {
        try withDriver(timeout: 1) {
            try $0.queryTimeoutKeepsTheOtherSessions(slowSQL: "SELECT SLEEP(4)", liveSessionsSQL: "SELECT ID FROM information_schema.PROCESSLIST")
        }
    }

    func testTransactionReportsAnOutage() throws { try withDriver { try $0.transactionReportsAnOutage() } }

    func testQueryTimeoutCutsASlowQuery() throws {
        try withDriver(timeout: 1) { try $0.queryTimeout(slowSQL: "SELECT SLEEP(4)", expect: "Lost connection") }
    }

    /// E_MYSQL_CONNECTION: "disconnected" when a call finds the server gone, "connected" when calls work again; the
    /// URL has its password masked.
    func testConnectionEventsOnAnOutage() throws {
        let url = try TestServers.mysqlURL()
        let s = try InProcessServer("""
            loadmodule "db_mysql.so"
            modparam("db_mysql", "timeout_interval", 2)
            event_route[E_MYSQL_CONNECTION] { xlog("L_NOTICE", "MYSQLEV $param(status) $param(url)\\n"); }
            """)
        defer { s.stop() }
        let (c, err) = try s.db("mysql").connect(url)
        let db = try XCTUnwrap(c, err.message)
        defer { db.close() }
        XCTAssertEqual(db.raw("SELECT 1").rows, [[.int(1)]])
        try TestServers.control("stopone", "mysql")
        XCTAssertEqual(db.raw("SELECT 2").code, SQLDriverChecks.E_CONNECT)
        try TestServers.control("startone", "mysql")
        XCTAssertTrue(TestServers.waitUntil(20) { db.raw("SELECT 3").rows == [[.int(3)]] })
        let masked = SQLCLI.maskedForm(url)
        XCTAssertTrue(TestServers.waitUntil(5) {
            let events = s.collector.messages.filter { $0.contains("MYSQLEV") }
            return events.contains { $0.contains("MYSQLEV disconnected \(masked)") }
                && events.contains { $0.contains("MYSQLEV connected \(masked)") }
        }, s.collector.messages.joined(separator: "\n"))
        XCTAssertFalse(s.collector.messages.contains { $0.contains(ServerURL(url).password) })
    }

    /// The core statistics sql:sql_total_queries (every call) and sql:sql_slow_queries (calls above
    /// exec_query_threshold), as OpenSIPS counts them. Margins far above any scheduling stall of a busy machine: a
    /// 1.5 s call against a 1 s threshold, fast calls against a 30 s one.
    func testSQLStatistics() throws {
        let url = try TestServers.mysqlURL()
        for (threshold, sql, slow) in [(30_000_000, "SELECT 2", false), (1_000_000, "SELECT SLEEP(1.5)", true)] {
            let s = try InProcessServer("loadmodule \"db_mysql.so\"\nmodparam(\"db_mysql\", \"exec_query_threshold\", \(threshold))\n"
                + "modparam(\"db_mysql\", \"timeout_interval\", 10)\n")
            defer { s.stop() }
            let (c, err) = try s.db("mysql").connect(url)
            let db = try XCTUnwrap(c, err.message)
            defer { db.close() }
            func stat(_ name: String) -> Int64? { s.server.stats.stat(group: "sql", name: name)?.value }
            let total0 = stat("sql_total_queries") ?? -1, slow0 = stat("sql_slow_queries") ?? -1
            XCTAssertGreaterThanOrEqual(total0, 0, "sql:sql_total_queries is not registered")
            XCTAssertEqual(db.raw("SELECT 1").rows, [[.int(1)]])
            XCTAssertEqual(db.raw(sql).code, SQLDriverChecks.OK)
            XCTAssertEqual(stat("sql_total_queries"), total0 + 2)
            if slow {
                XCTAssertGreaterThanOrEqual(stat("sql_slow_queries") ?? -1, slow0 + 1, "the 1.5 s call is not counted")
            } else {
                XCTAssertEqual(stat("sql_slow_queries"), slow0, "a fast call counted as slow")
            }
        }
    }
}
