// db_postgres against the private PostgreSQL of .ci/servers.sh (SY_TEST_POSTGRES_URL): the DB API through the C
// table, drouting and freeswitch_scripting on the shipped PostgreSQL schemas, startup errors, Unix sockets, a restart.
import SwitchyardTestSupport
import SwitchyardCore
import Foundation
import XCTest

final class DBPostgresTests: XCTestCase {
    static func createTable(_ t: String) -> String {
        "CREATE TABLE \(t) (id SERIAL PRIMARY KEY, name VARCHAR(64) NOT NULL UNIQUE, weight DOUBLE PRECISION, "
            + "prefix VARCHAR(64), attrs BYTEA, flag BOOLEAN)"
    }

    private func withDriver(_ extra: String = "", _ body: (SQLDriverChecks) throws -> Void) throws {
        let url = try TestServers.postgresURL()
        let s = try InProcessServer("loadmodule \"db_postgres.so\"\nmodparam(\"db_postgres\", \"timeout\", 2)\n\(extra)\n")
        defer { s.stop() }
        try body(SQLDriverChecks(api: try s.db("postgres"), url: url, createTable: Self.createTable,
                                 sessionIdSQL: "SELECT pg_backend_pid()", serverName: "postgres",
                                 messages: { s.collector.messages }))
    }

    private var scenarios: ScenarioChecks {
        get throws {
            ScenarioChecks(cli: SQLCLI(.postgres, url: try TestServers.postgresURL()), module: "db_postgres", schema: "postgres")
        }
    }

    func testSelectInsertUpdateDeleteRawWithEveryType() throws { try withDriver { try $0.crud() } }
    func testTransactions() throws { try withDriver { try $0.transactions() } }
    func testOneSessionPerWorkerThread() throws { try withDriver { try $0.sessionPerWorker() } }
    func testServerRestartCostsOnlyTheOutage() throws { try withDriver { try $0.reconnectAfterRestart() } }
    func testServerRestartWithSeveralSessions() throws { try withDriver { try $0.reconnectAfterRestartWithSeveralSessions() } }

    func testDroutingFromPostgresSchema() throws { try scenarios.drouting() }
    func testFreeswitchTableFromPostgresSchema() throws { try scenarios.freeswitchTable() }

    func testWrongPasswordStopsStartupWithMaskedURL() throws {
        let u = ServerURL(try TestServers.postgresURL())
        let url = "postgres://\(u.user):Wr0ngSecret@\(u.host):\(u.port)/\(u.database)"
        try scenarios.startupFails(url: url, password: "Wr0ngSecret", expect: "password authentication failed")
    }

    func testUnreachableServerStopsStartup() throws {
        _ = try TestServers.postgresURL()
        try scenarios.startupFails(url: "postgres://u:Secret99@127.0.0.1:\(TestServers.closedPort())/db", password: "Secret99", expect: "Connection refused")
    }

    /// An empty host is libpq's Unix socket (PGHOST names its directory), and unix(/dir) names one in the URL.
    func testEmptyHostAndUnixFormUseTheSocket() throws {
        let u = ServerURL(try TestServers.postgresURL())
        let dir = try TestServers.env("SY_TEST_POSTGRES_SOCKET_DIR", server: "PostgreSQL")
        for (url, env) in [("postgres://\(u.user):\(u.password)@/\(u.database)", ["PGHOST": dir, "PGPORT": String(u.port)]),
                           ("postgres://\(u.user):\(u.password)@unix(\(dir)):\(u.port)/\(u.database)", [:])] {
            let cfg = writeTemp("""
                loadmodule "db_postgres.so"
                loadmodule "drouting.so"
                modparam("drouting", "db_url", "\(url)")
                """)
            defer { try? FileManager.default.removeItem(atPath: cfg) }
            let (status, out) = try BinaryRunner.run(["-c", "-f", cfg], env: env, timeout: 30)
            XCTAssertFalse(out.contains("cannot connect"), "\(url): \(out)")
            XCTAssertNotNil(status, out)
        }
    }

    func testQueryTimeoutKeepsTheOtherSessions() throws {
        try withDriver("modparam(\"db_postgres\", \"query_timeout\", 300)") {
            try $0.queryTimeoutKeepsTheOtherSessions(slowSQL: "SELECT pg_sleep(3)", liveSessionsSQL: "SELECT pid FROM pg_stat_activity")
        }
    }

    func testTransactionReportsAnOutage() throws { try withDriver { try $0.transactionReportsAnOutage() } }

    func testQueryTimeoutCutsASlowQuery() throws {
        try withDriver("modparam(\"db_postgres\", \"query_timeout\", 300)") { try $0.queryTimeout(slowSQL: "SELECT pg_sleep(3)", expect: "statement timeout") }
    }

    /// The core statistics sql:sql_total_queries (every call) and sql:sql_slow_queries (calls above
    /// exec_query_threshold), as OpenSIPS counts them. Margins far above any scheduling stall of a busy machine: a
    /// 1.5 s call against a 1 s threshold, fast calls against a 30 s one.
    func testSQLStatistics() throws {
        let url = try TestServers.postgresURL()
        for (threshold, sql, slow) in [(30_000_000, "SELECT 2", false), (1_000_000, "SELECT pg_sleep(1.5)", true)] {
            let s = try InProcessServer("loadmodule \"db_postgres.so\"\nmodparam(\"db_postgres\", \"exec_query_threshold\", \(threshold))\n")
            defer { s.stop() }
            let (c, err) = try s.db("postgres").connect(url)
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
