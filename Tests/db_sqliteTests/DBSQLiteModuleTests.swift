import Foundation
import XCTest
import SwitchyardABI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The `db_sqlite` driver (Plugins/db_sqlite, libdb_sqlite.so of this build): loaded into a server, its sy_db_api table
/// bound as "db:sqlite" exactly as a module binds it, and every function called through the C pointers on real SQLite
/// files in a temporary directory.
final class DBSQLiteModuleTests: XCTestCase {
    private var dir: URL!

    override func setUp() {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("sy-dbsqlite-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
    }

    private func harness(busyTimeout: Int = 300, extra: String = "") -> ServerHarness {
        ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "db_sqlite.so"
        modparam("db_sqlite", "busy_timeout", \(busyTimeout))
        \(extra)
        """)
    }

    private func start(_ h: ServerHarness, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [], file: file, line: line)
        try h.start()
    }

    private func bind(_ h: ServerHarness) throws -> DBAPI {
        let raw = try h.server.apiBind(name: "db:sqlite", major: UInt32(SY_DB_MAJOR),
                                       minSize: UInt32(MemoryLayout<sy_db_api>.stride)).get()
        let api = raw.assumingMemoryBound(to: sy_db_api.self)
        XCTAssertEqual(api.pointee.header.abi_major, UInt32(SY_DB_MAJOR))
        XCTAssertEqual(api.pointee.header.abi_minor, UInt32(SY_DB_MINOR))
        XCTAssertEqual(api.pointee.header.struct_size, UInt32(MemoryLayout<sy_db_api>.stride))
        return DBAPI(api: api)
    }

    private func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    private func connect(_ api: DBAPI, _ name: String = "test.db", file: StaticString = #filePath,
                         line: UInt = #line) throws -> DBConn {
        let (c, err) = api.connect("sqlite://" + path(name))
        return try XCTUnwrap(c, err.message, file: file, line: line)
    }

    private static let OK = Int64(SY_DB_OK.rawValue), E_CONNECT = Int64(SY_DB_E_CONNECT.rawValue)
    private static let E_NO_TABLE = Int64(SY_DB_E_NO_TABLE.rawValue), E_BUSY = Int64(SY_DB_E_BUSY.rawValue)
    private static let E_CONSTRAINT = Int64(SY_DB_E_CONSTRAINT.rawValue), E_BAD_ARG = Int64(SY_DB_E_BAD_ARG.rawValue)
    private static let E_OTHER = Int64(SY_DB_E_OTHER.rawValue)

    // MARK: -

    func testPublishedAndFoundByDbBind() throws {
        let h = harness()
        try start(h)
        defer { h.stop() }
        let api = try bind(h)
        XCTAssertTrue(h.server.apis.names.contains("db:sqlite"))
        var err = [CChar](repeating: 0, count: 256)
        let viaURL = "SQLite:///x.db".withCString { url in
            HostTable.shared.pointee.db_bind!(url, UInt32(SY_DB_MAJOR), UInt32(MemoryLayout<sy_db_api>.stride), &err, 256)
        }
        XCTAssertNotNil(viaURL, String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        XCTAssertEqual(viaURL.map(UnsafeRawPointer.init), UnsafeRawPointer(api.api))
    }

    /// DB API 1.1: each server's table carries its own db_sqlite instance, whose modparams its connections get. With
    /// two servers in the process, module_connect on the first server's table runs that server's init_sql on a new
    /// file; the 1.0 connect (no handle) reaches the instance of the latest start-up, which has no init_sql.
    func testModuleConnectUsesTheInstanceOfItsTable() throws {
        let schema = path("schema.sql")
        try "CREATE TABLE from_a (x INTEGER);".write(toFile: schema, atomically: true, encoding: .utf8)
        let a = harness(extra: "modparam(\"db_sqlite\", \"init_sql\", \"\(schema)\")")
        try start(a)
        defer { a.stop() }
        let b = harness()
        try start(b)
        defer { b.stop() }
        let api = try bind(a)
        XCTAssertNotEqual(api.api, try bind(b).api, "one table per instance")
        let (own, ownErr) = api.moduleConnect("sqlite://" + path("own.db"))
        let ownConn = try XCTUnwrap(own, ownErr.message)
        defer { ownConn.close() }
        XCTAssertEqual(ownConn.raw("SELECT COUNT(*) FROM from_a").rc, 1, "a's init_sql ran on the file a's instance created")
        let (old, oldErr) = api.connect("sqlite://" + path("old.db"))
        let oldConn = try XCTUnwrap(old, oldErr.message)
        defer { oldConn.close() }
        XCTAssertEqual(oldConn.raw("SELECT COUNT(*) FROM from_a").code, Self.E_NO_TABLE, "the 1.0 connect reached b's instance")
    }

    func testModparamsAreChecked() {
        let h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "db_sqlite.so"
        modparam("db_sqlite", "busy_timeout", -1)
        modparam("db_sqlite", "max_connections", 0)
        """)
        let errors = h.prepare().map(\.description).joined(separator: "\n")
        XCTAssertTrue(errors.contains("busy_timeout"), errors)
        XCTAssertTrue(errors.contains("max_connections"), errors)
    }

    /// OpenSIPS's alloc_limit is accepted (no effect); load_extension and exec_pragma are refused, each by name.
    func testOpenSIPSModparams() {
        let ok = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "db_sqlite.so"
        modparam("db_sqlite", "alloc_limit", 10)
        """)
        XCTAssertEqual(ok.prepare().map(\.description), [])
        let h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "db_sqlite.so"
        modparam("db_sqlite", "load_extension", "/usr/lib/sqlite3/pcre.so")
        modparam("db_sqlite", "exec_pragma", "synchronous = OFF")
        """)
        let errors = h.prepare().map(\.description).joined(separator: "\n")
        XCTAssertTrue(errors.contains("load_extension is not supported"), errors)
        XCTAssertTrue(errors.contains("exec_pragma is not supported"), errors)
    }

    func testCreateInsertSelectUpdateRemove() throws {
        let h = harness()
        try start(h)
        defer { h.stop() }
        let db = try connect(try bind(h))
        defer { db.close() }

        // A schema script: several statements in one raw_query without parameters.
        let schema = db.raw(#"""
            CREATE TABLE gw (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, weight REAL,
                             prefix TEXT, attrs BLOB, "odd ""col""" INTEGER DEFAULT 7);
            CREATE INDEX gw_prefix ON gw (prefix); -- comment
            """#)
        XCTAssertEqual(schema.rc, 0, schema.message)
        XCTAssertEqual(schema.code, Self.OK)

        let blob: [UInt8] = [0x00, 0xFF, 0x27, 0x00, 0x22]
        let evil = "x'); DROP TABLE gw; --"
        XCTAssertEqual(db.insert("gw", [("name", .text("a")), ("weight", .double(1.5)), ("prefix", .text("49")),
                                        ("attrs", .blob(blob))]).rc, 1)
        XCTAssertEqual(db.insert("gw", [("name", .text("b")), ("weight", .double(-0.25)), ("prefix", .null),
                                        ("attrs", .blob([]))]).rc, 1)
        XCTAssertEqual(db.insert("gw", [("name", .text(evil)), ("weight", .int(3)), ("prefix", .text("")),
                                        ("odd \"col\"", .int(9))]).rc, 1)
        XCTAssertEqual(db.insert("gw", [("name", .text("ünï ✓")), ("weight", .null), ("prefix", .text("4930"))]).rc, 1)

        // All columns in table order, ordered by name descending.
        let all = db.select("gw", [], orderBy: "name DESC")
        XCTAssertEqual(all.rc, 4, all.message)
        XCTAssertEqual(all.rows.map { $0.count }, [6, 6, 6, 6])
        XCTAssertEqual(all.rows.map { $0[1] }, [.text("ünï ✓"), .text(evil), .text("b"), .text("a")])

        // Value types come back as stored: double, NULL, blob with NUL bytes, empty blob, empty text, int.
        let a = db.select("gw", ["weight", "prefix", "attrs", "odd \"col\""], where: [("name", .eq, .text("a"))])
        XCTAssertEqual(a.rows, [[.double(1.5), .text("49"), .blob(blob), .int(7)]])
        let b = db.select("gw", ["weight", "prefix", "attrs"], where: [("name", .eq, .text("b"))])
        XCTAssertEqual(b.rows, [[.double(-0.25), .null, .blob([])]])

        // The injection attempt is a plain value: stored verbatim, the table is still there.
        let e = db.select("gw", ["name", "prefix", "odd \"col\""], where: [("name", .eq, .text(evil))])
        XCTAssertEqual(e.rows, [[.text(evil), .text(""), .int(9)]])
        XCTAssertEqual(db.raw("SELECT count(*) FROM gw").rows, [[.int(4)]])

        // NULL conditions: EQ NULL is IS NULL, NE NULL is IS NOT NULL; ranges and AND.
        XCTAssertEqual(db.select("gw", ["name"], where: [("prefix", .eq, .null)]).rows, [[.text("b")]])
        XCTAssertEqual(db.select("gw", ["name"], where: [("prefix", .ne, .null)], orderBy: "id").rows.count, 3)
        XCTAssertEqual(db.select("gw", ["name"], where: [("weight", .ge, .int(1)), ("weight", .lt, .double(3))]).rows,
                       [[.text("a")]])
        XCTAssertEqual(db.select("gw", ["name"], where: [("weight", .gt, .int(0))], orderBy: "weight ASC").rows,
                       [[.text("a")], [.text(evil)]])
        XCTAssertEqual(db.select("gw", ["name"], where: [("weight", .le, .int(0))]).rows, [[.text("b")]])
        XCTAssertEqual(db.select("gw", ["name"], where: [("weight", .lt, .null)]).code, Self.E_BAD_ARG)

        // The callback stops early: not an error, the rows delivered so far are counted.
        let first = db.select("gw", ["name"], orderBy: "id", stopAfter: 1)
        XCTAssertEqual(first.rc, 1)
        XCTAssertEqual(first.rows, [[.text("a")]])
        XCTAssertEqual(first.code, Self.OK)

        // update / remove return the rows affected.
        let up = db.update("gw", where: [("prefix", .ne, .null)], set: [("weight", .int(10)), ("attrs", .null)])
        XCTAssertEqual(up.rc, 3, up.message)
        XCTAssertEqual(db.update("gw", where: [("name", .eq, .text("nobody"))], set: [("weight", .int(1))]).rc, 0)
        XCTAssertEqual(db.remove("gw", where: [("weight", .eq, .int(10)), ("prefix", .eq, .text("49"))]).rc, 1)
        XCTAssertEqual(db.remove("gw", where: [("name", .eq, .text("nobody"))]).rc, 0)
        XCTAssertEqual(db.raw("SELECT count(*) FROM gw").rows, [[.int(3)]])

        // raw_query with parameters; DDL reports 0 rows affected, DML its count.
        let r = db.raw("SELECT name FROM gw WHERE weight = ? AND name <> ? ORDER BY name", [.int(10), .text(evil)])
        XCTAssertEqual(r.rows, [[.text("ünï ✓")]])
        XCTAssertEqual(db.raw("UPDATE gw SET weight = ? WHERE weight = ?", [.double(2), .int(10)]).rc, 2)
        XCTAssertEqual(db.raw("CREATE TABLE other (x)").rc, 0)
        XCTAssertEqual(db.raw("DELETE FROM gw").rc, 3)
        XCTAssertEqual(db.remove("gw", where: []).rc, 0)
    }

    func testErrors() throws {
        let h = harness()
        try start(h)
        defer { h.stop() }
        let db = try connect(try bind(h))
        defer { db.close() }
        XCTAssertEqual(db.raw("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)").code, Self.OK)

        let missing = db.select("nosuch", ["a"])
        XCTAssertEqual(missing.rc, Self.E_NO_TABLE)
        XCTAssertEqual(missing.code, Self.E_NO_TABLE)
        XCTAssertTrue(missing.message.contains("no such table: nosuch"), missing.message)
        XCTAssertEqual(db.insert("nosuch", [("a", .int(1))]).code, Self.E_NO_TABLE)
        XCTAssertEqual(db.select("t", ["nocol"]).code, Self.E_NO_TABLE)
        let noColumn = db.insert("t", [("k", .text("a")), ("nocol", .int(1))])
        XCTAssertEqual(noColumn.code, Self.E_NO_TABLE, noColumn.message)
        XCTAssertEqual(db.raw("SELECT * FROM nosuch WHERE a = ?", [.int(1)]).code, Self.E_NO_TABLE)

        XCTAssertEqual(db.insert("t", [("k", .text("a")), ("v", .int(1))]).rc, 1)
        let dup = db.insert("t", [("k", .text("a")), ("v", .int(2))])
        XCTAssertEqual(dup.code, Self.E_CONSTRAINT)
        XCTAssertTrue(dup.message.contains("UNIQUE constraint failed: t.k"), dup.message)
        XCTAssertEqual(db.insert("t", [("k", .text("b")), ("v", .null)]).code, Self.E_CONSTRAINT)

        XCTAssertEqual(db.raw("SELECT ?, ?", [.int(1)]).code, Self.E_BAD_ARG)
        XCTAssertEqual(db.raw("SELECT 1; SELECT ?", [.int(1)]).code, Self.E_BAD_ARG)
        XCTAssertEqual(db.raw("").code, Self.E_BAD_ARG)
        XCTAssertEqual(db.raw("SELEC 1").code, Self.E_OTHER)
        XCTAssertTrue(db.raw("SELEC 1").message.contains("syntax error"))
        XCTAssertEqual(db.select("", ["a"]).code, Self.E_BAD_ARG)
        XCTAssertEqual(db.select("t", [""]).code, Self.E_BAD_ARG)
        XCTAssertEqual(db.insert("t", []).code, Self.E_BAD_ARG)
        XCTAssertEqual(db.update("t", where: [], set: []).code, Self.E_BAD_ARG)
        XCTAssertEqual(db.select("t", ["k"], orderBy: "v DESC").code, Self.OK)
        XCTAssertEqual(db.insert("t", [("k", .text("c")), ("v", .raw(99))]).code, Self.E_BAD_ARG)

        // A successful call clears the error.
        let ok = db.select("t", ["k"])
        XCTAssertEqual(ok.code, Self.OK)
        XCTAssertEqual(ok.message, "")
    }

    func testURLForms() throws {
        let h = harness()
        try start(h)
        defer { h.stop() }
        let api = try bind(h)

        // Absolute, in directories that do not exist yet.
        let nested = path("a/b/c/nested.db")
        let (c1, e1) = api.connect("sqlite://" + nested)
        XCTAssertNotNil(c1, e1.message)
        XCTAssertTrue(FileManager.default.fileExists(atPath: nested))
        c1?.close()

        // Relative to the working directory (climbing to the temporary directory), percent-decoded.
        let cwd = FileManager.default.currentDirectoryPath
        let up = String(repeating: "../", count: cwd.split(separator: "/").count)
        let (c2, e2) = api.connect("sqlite://" + up + dir.path.dropFirst() + "/rel%20ative.db")
        XCTAssertNotNil(c2, e2.message)
        XCTAssertEqual(c2?.raw("CREATE TABLE r (x)").code, Self.OK)
        c2?.close()
        XCTAssertTrue(FileManager.default.fileExists(atPath: path("rel ative.db")))

        // :memory: — private to the connection, one handle shared by all threads.
        let (m, em) = api.connect("sqlite://:memory:")
        let mem = try XCTUnwrap(m, em.message)
        XCTAssertEqual(mem.raw("CREATE TABLE m (x INTEGER)").code, Self.OK)
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            for j in 0..<25 { XCTAssertEqual(mem.insert("m", [("x", .int(Int64(i * 100 + j)))]).rc, 1) }
        }
        XCTAssertEqual(mem.raw("SELECT count(*) FROM m").rows, [[.int(100)]])
        mem.close()

        // Errors: bad URLs, a path that cannot be a file, a file that is not a database.
        for bad in ["sqlite://", "mysql://x/y", "sqlite:/x.db", "sqlite:///x.db?mode=ro", "sqlite:///x%zz"] {
            let (c, e) = api.connect(bad)
            XCTAssertNil(c, bad)
            XCTAssertEqual(Int64(e.code), Self.E_BAD_ARG, bad + ": " + e.message)
        }
        let (d, ed) = api.connect("sqlite://" + dir.path)
        XCTAssertNil(d)
        XCTAssertEqual(Int64(ed.code), Self.E_CONNECT, ed.message)
        _ = FileManager.default.createFile(atPath: path("junk.db"), contents: Data(repeating: 0x41, count: 4096))
        let (j, ej) = api.connect("sqlite://" + path("junk.db"))
        XCTAssertNil(j)
        XCTAssertEqual(Int64(ej.code), Self.E_CONNECT, ej.message)
        XCTAssertTrue(ej.message.contains("junk.db"), ej.message)
    }

    func testLockedDatabaseIsWaitedForThenBusy() throws {
        let sqlite3 = "/usr/bin/sqlite3"
        guard FileManager.default.isExecutableFile(atPath: sqlite3) else { throw XCTSkip("no sqlite3 CLI") }
        let h = harness(busyTimeout: 1000)
        try start(h)
        defer { h.stop() }
        let db = try connect(try bind(h))
        defer { db.close() }
        XCTAssertEqual(db.raw("CREATE TABLE t (x INTEGER)").code, Self.OK)
        XCTAssertEqual(db.insert("t", [("x", .int(1))]).rc, 1)

        // Another process holds the write lock for longer than busy_timeout.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: sqlite3)
        holder.arguments = [path("test.db")]
        let input = Pipe(), output = Pipe()
        holder.standardInput = input
        holder.standardOutput = output
        holder.standardError = output
        try holder.run()
        input.fileHandleForWriting.write(Data(".timeout 5000\nBEGIN EXCLUSIVE;\nINSERT INTO t VALUES (100);\nSELECT 'locked';\n".utf8))
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("locked") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
        }
        XCTAssertTrue(String(decoding: seen, as: UTF8.self).contains("locked"))

        let started = Date()
        let busy = db.insert("t", [("x", .int(2))])
        let waited = Date().timeIntervalSince(started)
        XCTAssertEqual(busy.code, Self.E_BUSY, busy.message)
        XCTAssertTrue(busy.message.contains("locked"), busy.message)
        XCTAssertGreaterThanOrEqual(waited, 0.9, "busy_timeout was not waited for")
        XCTAssertLessThan(waited, 5)
        let tx = db.transaction { _ in 0 }
        XCTAssertEqual(tx.code, Self.E_BUSY, tx.message)
        // WAL: readers are not blocked by the writer, and do not see its uncommitted row.
        XCTAssertEqual(db.raw("SELECT x FROM t").rows, [[.int(1)]])

        // The lock goes away while a writer waits (well within busy_timeout): the write succeeds.
        let release = DispatchQueue.global()
        release.asyncAfter(deadline: .now() + 0.1) {
            input.fileHandleForWriting.write(Data("COMMIT;\n.quit\n".utf8))
        }
        let late = db.insert("t", [("x", .int(3))])
        XCTAssertEqual(late.rc, 1, late.message)
        holder.waitUntilExit()
        XCTAssertEqual(db.select("t", ["x"], orderBy: "x").rows, [[.int(1)], [.int(3)], [.int(100)]])
    }

    func testTransactions() throws {
        let h = harness(busyTimeout: 2000)
        try start(h)
        defer { h.stop() }
        let api = try bind(h)
        let db = try connect(api)
        defer { db.close() }
        XCTAssertEqual(db.raw("CREATE TABLE t (x INTEGER UNIQUE)").code, Self.OK)

        // Commit: the calls fn makes on its connection are part of the transaction.
        let commit = db.transaction { c in
            XCTAssertEqual(c.insert("t", [("x", .int(1))]).rc, 1)
            XCTAssertEqual(db.insert("t", [("x", .int(2))]).rc, 1) // the outer handle too, same thread
            return 0
        }
        XCTAssertEqual(commit.code, Self.OK, commit.message)
        XCTAssertEqual(commit.rc, 0)
        XCTAssertEqual(db.select("t", ["x"], orderBy: "x").rows, [[.int(1)], [.int(2)]])

        // Rollback: fn fails → nothing stays; a positive return becomes SY_DB_E_OTHER, a negative code is kept.
        let rollback = db.transaction { c in
            XCTAssertEqual(c.insert("t", [("x", .int(3))]).rc, 1)
            XCTAssertEqual(c.select("t", ["x"]).rows.count, 3) // sees its own write
            return 1
        }
        XCTAssertEqual(rollback.rc, Self.E_OTHER)
        XCTAssertTrue(rollback.message.contains("rolled back"), rollback.message)
        let failed = db.transaction { c in
            XCTAssertEqual(c.insert("t", [("x", .int(4))]).rc, 1)
            return Int32(c.insert("t", [("x", .int(1))]).rc) // constraint
        }
        XCTAssertEqual(failed.rc, Self.E_CONSTRAINT)
        XCTAssertEqual(db.select("t", ["x"], orderBy: "x").rows, [[.int(1)], [.int(2)]])

        // Nested: a savepoint; its failure undoes only its own work.
        let nested = db.transaction { c in
            XCTAssertEqual(c.insert("t", [("x", .int(5))]).rc, 1)
            let inner = c.transaction { c2 in
                XCTAssertEqual(c2.insert("t", [("x", .int(6))]).rc, 1)
                return -1
            }
            XCTAssertEqual(inner.rc, -1)
            let inner2 = c.transaction { c2 in Int32(c2.insert("t", [("x", .int(7))]).rc - 1) }
            XCTAssertEqual(inner2.rc, 0)
            return 0
        }
        XCTAssertEqual(nested.rc, 0, nested.message)
        XCTAssertEqual(db.select("t", ["x"], orderBy: "x").rows, [[.int(1)], [.int(2)], [.int(5)], [.int(7)]])

        // Another thread's writes wait for the commit; its reads do not see uncommitted rows.
        let other = try connect(api)
        defer { other.close() }
        let inside = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        let otherInsert = LockedBox<DBResult?>(nil)
        let tx = db.transaction { c in
            XCTAssertEqual(c.insert("t", [("x", .int(8))]).rc, 1)
            DispatchQueue.global().async {
                XCTAssertEqual(other.raw("SELECT count(*) FROM t WHERE x = 8").rows, [[.int(0)]])
                XCTAssertEqual(db.raw("SELECT count(*) FROM t WHERE x = 8").rows, [[.int(0)]]) // not pinned there
                inside.signal()
                otherInsert.set(db.insert("t", [("x", .int(9))]))
                done.signal()
            }
            inside.wait()
            // The other writer waits for the write lock as long as this transaction is open (nothing shows it waiting:
            // its insert must simply not have returned yet).
            XCTAssertTrue(holds(for: 0.1) { otherInsert.get() == nil }, "the other insert did not wait for the transaction")
            return 0
        }
        XCTAssertEqual(tx.rc, 0, tx.message)
        done.wait()
        XCTAssertEqual(otherInsert.get()?.rc, 1, otherInsert.get()?.message ?? "")
        XCTAssertEqual(db.raw("SELECT count(*) FROM t").rows, [[.int(6)]])

        // A transaction left open through raw_query does not leak into the next caller.
        XCTAssertEqual(db.raw("BEGIN").code, Self.OK)
        XCTAssertEqual(db.insert("t", [("x", .int(10))]).rc, 1)
        XCTAssertEqual(db.raw("SELECT count(*) FROM t").rows, [[.int(7)]])
    }

    func testConcurrentInsertsFromEightThreads() throws {
        let h = harness(busyTimeout: 10_000)
        try start(h)
        defer { h.stop() }
        let db = try connect(try bind(h))
        defer { db.close() }
        XCTAssertEqual(db.raw("CREATE TABLE t (thread INTEGER, n INTEGER, label TEXT, PRIMARY KEY (thread, n))").code,
                       Self.OK)
        let failures = LockedBox<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for n in 0..<150 {
                let r: DBResult
                if n % 3 == 0 {
                    r = db.transaction { c in
                        Int32(c.insert("t", [("thread", .int(Int64(t))), ("n", .int(Int64(n))),
                                             ("label", .text("tx \(t)/\(n)"))]).rc - 1)
                    }
                } else {
                    r = db.insert("t", [("thread", .int(Int64(t))), ("n", .int(Int64(n))), ("label", .text("\(t)/\(n)"))])
                }
                if r.code != Self.OK { failures.update { $0.append(r.message) } }
                if n % 10 == 0 {
                    let s = db.select("t", ["n"], where: [("thread", .eq, .int(Int64(t)))])
                    if s.rc != Int64(n + 1) { failures.update { $0.append("thread \(t) sees \(s.rc) rows after \(n + 1)") } }
                }
            }
        }
        XCTAssertEqual(failures.get(), [])
        XCTAssertEqual(db.raw("SELECT count(*), count(DISTINCT thread) FROM t").rows, [[.int(1200), .int(8)]])
        XCTAssertEqual(db.raw("PRAGMA journal_mode").rows, [[.text("wal")]])
    }
}
