// What every SQL server driver must do through the DB API, checked the same way for db_mysql and db_postgres: the
// table's functions called through their C pointers, as drouting and freeswitch_scripting call them.
import Foundation
import SwitchyardABI
import XCTest

public struct SQLDriverChecks {
    public let api: DBAPI
    public let url: String
    /// The DDL of the scratch table: (id auto, name text unique, weight double, prefix text, attrs blob, flag bool).
    public let createTable: (String) -> String
    /// SQL that returns this session's server-side id (CONNECTION_ID(), pg_backend_pid()).
    public let sessionIdSQL: String
    /// The `servers.sh` name of the server.
    public let serverName: String
    /// The log lines of the server the driver runs in, so far.
    public let messages: () -> [String]
    /// SQL that holds its session about 100 ms.
    var sleepSQL: String { serverName == "mysql" ? "SELECT SLEEP(0.1)" : "SELECT pg_sleep(0.1)" }

    public init(api: DBAPI, url: String, createTable: @escaping (String) -> String, sessionIdSQL: String, serverName: String,
                messages: @escaping () -> [String] = { [] }) {
        self.api = api
        self.url = url
        self.createTable = createTable
        self.sessionIdSQL = sessionIdSQL
        self.serverName = serverName
        self.messages = messages
    }

    /// This call's server-side session id.
    func sessionId(_ db: DBConn) -> Int64? { Self.sessionId(db, sessionIdSQL) }

    static func sessionId(_ db: DBConn, _ sql: String) -> Int64? {
        if case .int(let id)? = db.raw(sql).rows.first?.first { return id }
        return nil
    }

    /// Queries from several threads at once until the pool holds at least `n` sessions; their ids. Each thread
    /// holds its session 100 ms (`sleepSQL`) so that the calls overlap.
    func poolOf(_ n: Int, _ db: DBConn) -> Set<Int64> {
        let ids = LockedBox<Set<Int64>>([])
        let sql = sessionIdSQL, sleep = sleepSQL
        XCTAssertTrue(TestServers.waitUntil(20) {
            OnThreads.run(n + 1) { _ in
                for _ in 0..<3 {
                    _ = db.raw(sleep)
                    if let id = Self.sessionId(db, sql) { ids.update { $0.insert(id) } }
                }
            }
            return ids.get().count >= n
        }, "the pool never held \(n) sessions")
        return ids.get()
    }

    public static let OK = Int64(SY_DB_OK.rawValue), E_CONNECT = Int64(SY_DB_E_CONNECT.rawValue)
    public static let E_NO_TABLE = Int64(SY_DB_E_NO_TABLE.rawValue), E_CONSTRAINT = Int64(SY_DB_E_CONSTRAINT.rawValue)
    public static let E_BAD_ARG = Int64(SY_DB_E_BAD_ARG.rawValue)

    func connect(file: StaticString = #filePath, line: UInt = #line) throws -> DBConn {
        let (c, err) = api.connect(url)
        return try XCTUnwrap(c, err.message, file: file, line: line)
    }

    func scratchTable() -> String { "t_" + UUID().uuidString.prefix(8).lowercased() }

    /// select/insert/update/delete/raw_query with every value type, NULL conditions, quoting, placeholders.
    public func crud() throws {
        let db = try connect()
        defer { db.close() }
        let t = scratchTable()
        let schema = db.raw(createTable(t))
        XCTAssertEqual(schema.code, Self.OK, schema.message)
        defer { _ = db.raw("DROP TABLE \(t)") }

        let blob: [UInt8] = [0x00, 0xFF, 0x27, 0x00, 0x22, 0x5C]
        let evil = "x'); DROP TABLE \(t); --"
        XCTAssertEqual(db.insert(t, [("name", .text("a")), ("weight", .double(1.5)), ("prefix", .text("49")),
                                     ("attrs", .blob(blob)), ("flag", .int(1))]).rc, 1)
        XCTAssertEqual(db.insert(t, [("name", .text("b")), ("weight", .double(-0.25)), ("prefix", .null),
                                     ("flag", .int(0))]).rc, 1)
        XCTAssertEqual(db.insert(t, [("name", .text(evil)), ("weight", .int(3)), ("prefix", .text(""))]).rc, 1)
        XCTAssertEqual(db.insert(t, [("name", .text("ünï ✓")), ("weight", .null), ("prefix", .text("4930"))]).rc, 1)
        let dup = db.insert(t, [("name", .text("a"))])
        XCTAssertEqual(dup.code, Self.E_CONSTRAINT, dup.message)

        let all = db.select(t, ["name"], orderBy: "id DESC")
        XCTAssertEqual(all.rc, 4, all.message)
        XCTAssertEqual(all.rows, [[.text("ünï ✓")], [.text(evil)], [.text("b")], [.text("a")]])

        // Types come back as stored: double, NULL, blob with NUL bytes and a backslash, booleans as 0/1 integers.
        let a = db.select(t, ["weight", "prefix", "attrs", "flag"], where: [("name", .eq, .text("a"))])
        XCTAssertEqual(a.rows, [[.double(1.5), .text("49"), .blob(blob), .int(1)]], a.message)
        let b = db.select(t, ["weight", "prefix", "attrs", "flag"], where: [("name", .eq, .text("b"))])
        XCTAssertEqual(b.rows, [[.double(-0.25), .null, .null, .int(0)]], b.message)
        XCTAssertEqual(db.select(t, ["name", "prefix"], where: [("name", .eq, .text(evil))]).rows, [[.text(evil), .text("")]])

        // NULL conditions, ranges, ANDed conditions, early stop.
        XCTAssertEqual(db.select(t, ["name"], where: [("prefix", .eq, .null)]).rows, [[.text("b")]])
        XCTAssertEqual(db.select(t, ["name"], where: [("prefix", .ne, .null)], orderBy: "id").rows.count, 3)
        XCTAssertEqual(db.select(t, ["name"], where: [("weight", .ge, .int(1)), ("weight", .lt, .double(3))]).rows, [[.text("a")]])
        XCTAssertEqual(db.select(t, ["name"], where: [("weight", .gt, .int(0))], orderBy: "weight ASC").rows,
                       [[.text("a")], [.text(evil)]])
        let first = db.select(t, ["name"], orderBy: "id", stopAfter: 1)
        XCTAssertEqual(first.rc, 1)
        XCTAssertEqual(first.rows, [[.text("a")]])

        // update/remove report rows affected; raw queries take `?` placeholders in every dialect.
        XCTAssertEqual(db.update(t, where: [("prefix", .ne, .null)], set: [("weight", .int(10)), ("attrs", .null)]).rc, 3)
        XCTAssertEqual(db.remove(t, where: [("weight", .eq, .int(10)), ("prefix", .eq, .text("49"))]).rc, 1)
        let r = db.raw("SELECT name FROM \(t) WHERE weight = ? AND name <> ? ORDER BY name", [.int(10), .text(evil)])
        XCTAssertEqual(r.rows, [[.text("ünï ✓")]], r.message)
        XCTAssertEqual(db.raw("SELECT count(*) FROM \(t) WHERE name = '?' OR name = ?", [.text("b")]).rows, [[.int(1)]])
        XCTAssertEqual(db.raw("UPDATE \(t) SET weight = ? WHERE weight = ?", [.double(2), .int(10)]).rc, 2)
        // A ';' inside a string literal or a comment, or a trailing one, leaves one statement whose rows come back.
        XCTAssertEqual(db.raw("SELECT 'a;b' /* ; SELECT 2 */ -- ; x\n ;").rows, [[.text("a;b")]])
        XCTAssertEqual(db.raw("SELECT count(*) FROM \(t) WHERE name <> 'x;y'").rows, [[.int(3)]])

        // Errors: a missing table, a bad operator, a placeholder count mismatch.
        XCTAssertEqual(db.select("no_such_table_x", ["a"]).code, Self.E_NO_TABLE)
        XCTAssertEqual(db.select(t, ["name"], where: [("weight", .lt, .null)]).code, Self.E_BAD_ARG)
        XCTAssertEqual(db.raw("SELECT ? FROM \(t)", []).code != Self.OK, true)
        XCTAssertEqual(db.raw("DELETE FROM \(t)").rc, 3)
    }

    /// transaction(): commit, rollback, a nested savepoint undone alone.
    public func transactions() throws {
        let db = try connect()
        defer { db.close() }
        let t = scratchTable()
        XCTAssertEqual(db.raw(createTable(t)).code, Self.OK)
        defer { _ = db.raw("DROP TABLE \(t)") }
        let committed = db.transaction { c in
            _ = c.insert(t, [("name", .text("kept"))])
            let inner = c.transaction { c2 in
                _ = c2.insert(t, [("name", .text("undone"))])
                return 1
            }
            return inner.rc == Int64(SY_DB_E_OTHER.rawValue) ? 0 : 5
        }
        XCTAssertEqual(committed.rc, 0, committed.message)
        let rolled = db.transaction { c in
            _ = c.insert(t, [("name", .text("gone"))])
            return 1
        }
        XCTAssertNotEqual(rolled.rc, 0)
        XCTAssertEqual(db.select(t, ["name"], orderBy: "name").rows, [[.text("kept")]])

        // A row callback that runs the same query again on the transaction's session: the statement being
        // fetched is not reused, both results arrive whole.
        _ = db.insert(t, [("name", .text("more"))])
        let sql = "SELECT name FROM \(t) WHERE name <> ? ORDER BY name"
        var inner: [[[DBValue]]] = []
        var outer = DBResult(rc: 0, rows: [], code: 0, message: "")
        let nested = db.transaction { c in
            outer = c.raw(sql, [.text("x")], each: { _ in inner.append(c.raw(sql, [.text("x")]).rows) })
            return 0
        }
        XCTAssertEqual(nested.rc, 0, nested.message)
        XCTAssertEqual(outer.rows, [[.text("kept")], [.text("more")]], outer.message)
        XCTAssertEqual(inner, [[[.text("kept")], [.text("more")]], [[.text("kept")], [.text("more")]]])
    }

    /// Eight threads querying at once each get a session of their own, and never more sessions than threads.
    public func sessionPerWorker() throws {
        let db = try connect()
        defer { db.close() }
        let ids = LockedBox<[Int64]>([])
        let failures = LockedBox<[String]>([])
        let sql = sessionIdSQL
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<50 {
                let r = db.raw(sql)
                if r.code != Self.OK { failures.update { $0.append(r.message) } }
                if case .int(let id)? = r.rows.first?.first { ids.update { $0.append(id) } }
            }
        }
        XCTAssertEqual(failures.get(), [])
        XCTAssertEqual(ids.get().count, 400)
        let distinct = Set(ids.get())
        XCTAssertGreaterThanOrEqual(distinct.count, 1)
        XCTAssertLessThanOrEqual(distinct.count, 8, "more server sessions than threads querying")
    }

    /// The server restarts: the calls of the outage fail, the first call after it reconnects, no restart needed.
    public func reconnectAfterRestart() throws {
        let db = try connect()
        defer { db.close() }
        XCTAssertEqual(db.raw("SELECT 1").rows, [[.int(1)]])
        // A restart between two calls: the next call finds its session dead and is retried on a new one.
        try TestServers.control("restart", serverName)
        let after = db.raw("SELECT 2")
        XCTAssertEqual(after.rows, [[.int(2)]], after.message)
        // An outage: calls fail (E_CONNECT) without hanging; when the server is back, calls work again.
        try TestServers.control("stopone", serverName)
        let down = db.raw("SELECT 3")
        XCTAssertEqual(down.code, Self.E_CONNECT, down.message)
        try TestServers.control("startone", serverName)
        XCTAssertTrue(TestServers.waitUntil(20) { db.raw("SELECT 4").rows == [[.int(4)]] })
    }

    /// Several workers each hold a session when the server restarts: every one of them is dead, and the next call
    /// still works (OpenSIPS: each process's next query reconnects; a retry must never take another dead session).
    public func reconnectAfterRestartWithSeveralSessions() throws {
        let db = try connect()
        defer { db.close() }
        // Threads querying at once until the pool holds at least two sessions (a retry on the second dead one failed).
        let before = poolOf(2, db)
        let mark = messages().count
        try TestServers.control("restart", serverName)
        // A transaction first: its BEGIN finds a dead session and starts again on a fresh one.
        var inside = DBResult(rc: 0, rows: [], code: 0, message: "")
        let tx = db.transaction { c in inside = c.raw("SELECT 7"); return 0 }
        XCTAssertEqual(tx.rc, 0, tx.message)
        XCTAssertEqual(inside.rows, [[.int(7)]], inside.message)
        for n in 1...4 {
            let r = db.raw("SELECT \(n)")
            XCTAssertEqual(r.rows, [[.int(Int64(n))]], "call \(n) after the restart: \(r.message)")
        }
        // The first dead session found closed the other idle ones with it (the server is gone): one line, not one
        // per session, and the calls since then ran on one new session.
        let lost = messages().dropFirst(mark).filter { $0.contains("connection lost") }
        XCTAssertEqual(lost.count, 1, lost.joined(separator: "\n"))
        let after = Set((1...3).compactMap { _ in sessionId(db) })
        XCTAssertEqual(after.count, 1, "\(after)")
        XCTAssertTrue(after.isDisjoint(with: before), "\(after) reused a session of \(before)")
    }

    /// A query that hits the driver's timeout loses its own session only: the other idle sessions are healthy and
    /// stay open (closing them would make every worker reconnect), unlike after a restart.
    /// `liveSessionsSQL`: the ids of the sessions open on the server.
    public func queryTimeoutKeepsTheOtherSessions(slowSQL: String, liveSessionsSQL: String) throws {
        let db = try connect()
        defer { db.close() }
        let before = poolOf(3, db)
        XCTAssertNotEqual(db.raw(slowSQL).code, Self.OK, "the slow query was not cut short")
        // The next call takes a session opened before the timeout, not a new one.
        let next = sessionId(db)
        XCTAssertTrue(next.map { before.contains($0) } ?? false, "\(String(describing: next)) not in \(before)")
        let live = Set(db.raw(liveSessionsSQL).rows.compactMap { row -> Int64? in
            if case .int(let id)? = row.first { return id }
            return nil
        })
        XCTAssertGreaterThanOrEqual(before.intersection(live).count, before.count - 1, "\(before) vs \(live)")
    }

    /// An outage first met by a transaction is reported as one met by a query: "cannot connect" and "disconnected"
    /// (the driver's connection event), then "connected again" when a transaction works again.
    public func transactionReportsAnOutage() throws {
        let db = try connect()
        defer { db.close() }
        XCTAssertEqual(db.raw("SELECT 1").rows, [[.int(1)]])
        let mark = messages().count
        try TestServers.control("stopone", serverName)
        var down = true
        defer { if down { try? TestServers.control("startone", serverName) } }
        let tx = db.transaction { _ in 0 }
        XCTAssertEqual(tx.code, Self.E_CONNECT, tx.message)
        var lines = messages().dropFirst(mark)
        XCTAssertTrue(lines.contains { $0.contains("cannot connect") }, lines.joined(separator: "\n"))
        XCTAssertTrue(lines.contains { $0.hasSuffix("disconnected") }, lines.joined(separator: "\n"))
        try TestServers.control("startone", serverName)
        down = false
        XCTAssertTrue(TestServers.waitUntil(20) { db.transaction { c in c.raw("SELECT 1").rows.isEmpty ? 1 : 0 }.rc == 0 })
        lines = messages().dropFirst(mark)
        XCTAssertTrue(lines.contains { $0.hasSuffix("connected again") }, lines.joined(separator: "\n"))
    }

    /// A query that runs past the driver's timeout fails (it does not hang the worker), and the next call works.
    public func queryTimeout(slowSQL: String, expect: String) throws {
        let db = try connect()
        defer { db.close() }
        let slow = db.raw(slowSQL)
        XCTAssertNotEqual(slow.code, Self.OK, "the slow query was not cut short")
        XCTAssertTrue(slow.message.contains(expect), slow.message)
        XCTAssertEqual(db.raw("SELECT 5").rows, [[.int(5)]])
    }
}
