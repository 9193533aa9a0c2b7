// cachedb_redis against the private Redis of .ci/servers.sh (SY_TEST_REDIS_URL): the cachedb API through the C table,
// the script's cache functions, groups, an atomic insert across connections, a Redis restart; redis-cli checks what
// reached the server.
import SwitchyardTestSupport
import Foundation
import SwitchyardABI
import XCTest

final class CachedbRedisTests: XCTestCase {
    /// host:port of the test Redis.
    private func endpoint() throws -> (String, Int) {
        let u = try TestServers.redisURL()
        let hp = u.components(separatedBy: "://")[1].trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let parts = hp.split(separator: ":")
        return (String(parts[0]), Int(parts[1]) ?? 6379)
    }

    private func redisCLI(_ args: [String], db: Int = 0) throws -> String {
        let (h, p) = try endpoint()
        let (status, out) = try TestServers.run("redis-cli", ["-h", h, "-p", String(p), "-n", String(db)] + args)
        XCTAssertEqual(status, 0, out)
        return out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func server(_ extra: String = "") throws -> InProcessServer {
        let (h, p) = try endpoint()
        return try InProcessServer("""
            loadmodule "cachedb_redis.so"
            modparam("cachedb_redis", "cachedb_url", "redis://\(h):\(p)/")
            modparam("cachedb_redis", "cachedb_url", "redis:one://\(h):\(p)/1")
            modparam("cachedb_redis", "cachedb_url", "redis:two://\(h):\(p)/2")
            modparam("cachedb_redis", "connect_timeout", 1000)
            modparam("cachedb_redis", "query_timeout", 1000)
            \(extra)
            """)
    }

    private func key(_ name: String) -> String { "sytest:\(name):\(UUID().uuidString.prefix(8))" }

    func testOperationsMapToRedisCommands() throws {
        let s = try server()
        defer { s.stop() }
        let r = try s.cache(nil)
        let OK = SY_CACHEDB_OK.rawValue
        let k = key("store")
        XCTAssertEqual(r.store(k, "v a l"), OK)
        XCTAssertEqual(try redisCLI(["GET", k]), "v a l")
        XCTAssertEqual(try redisCLI(["TTL", k]), "-1")                 // expire 0: persistent
        XCTAssertEqual(r.store(k, "x", expire: 100), OK)
        XCTAssertGreaterThan(Int(try redisCLI(["TTL", k])) ?? 0, 90)   // TTL as a Redis expiry
        XCTAssertEqual(r.fetch(k).1, "x")
        XCTAssertEqual(r.fetch(key("missing")).0, SY_CACHEDB_NOT_FOUND.rawValue)
        XCTAssertEqual(r.remove(k), OK)
        XCTAssertEqual(r.remove(k), OK)                                  // missing: still OK
        XCTAssertEqual(try redisCLI(["EXISTS", k]), "0")

        // add/sub: every call with an expiry re-arms it (OpenSIPS's INCRBY + EXPIRE), 0 leaves it; non-integers are NOT_INT.
        let c = key("counter")
        XCTAssertEqual(r.add(c, 5, expire: 50).1, 5)
        XCTAssertLessThanOrEqual(Int(try redisCLI(["TTL", c])) ?? 0, 50)
        XCTAssertEqual(r.add(c, -2, expire: 500).1, 3)
        XCTAssertGreaterThan(Int(try redisCLI(["TTL", c])) ?? 0, 450)
        XCTAssertEqual(r.add(c, 0).1, 3)
        XCTAssertGreaterThan(Int(try redisCLI(["TTL", c])) ?? 0, 450)
        XCTAssertEqual(r.counter(c).1, 3)
        XCTAssertEqual(r.store(c, "abc"), OK)
        XCTAssertEqual(r.add(c, 1).0, SY_CACHEDB_NOT_INT.rawValue)
        XCTAssertEqual(r.counter(c).0, SY_CACHEDB_NOT_INT.rawValue)
        XCTAssertEqual(r.counter(key("none")).0, SY_CACHEDB_NOT_FOUND.rawValue)

        // insert = SET NX: only the first succeeds.
        let i = key("insert")
        XCTAssertEqual(r.insert(i, "first", expire: 60), OK)
        XCTAssertEqual(r.insert(i, "second", expire: 60), SY_CACHEDB_EXISTS.rawValue)
        XCTAssertEqual(r.fetch(i).1, "first")

        // raw queries: arrays, integers, status replies, nil, errors.
        let h = key("hash")
        XCTAssertEqual(r.raw("HSET \(h) f1 \"a b\" f2 2").1, ["2"])
        XCTAssertEqual(r.raw("HMGET \(h) f1 f2 nope").1, ["a b", "2", nil])
        XCTAssertEqual(r.raw("SET \(h)x 1").0, OK)
        // As OpenSIPS: a closing quote must be followed by a blank (or the end); otherwise nothing is sent.
        XCTAssertEqual(r.raw("SET \(h)q \"a\"b").0, SY_CACHEDB_ERROR.rawValue)
        XCTAssertEqual(try redisCLI(["EXISTS", h + "q"]), "0")
        XCTAssertEqual(r.raw("GET \(h)-none").0, SY_CACHEDB_NOT_FOUND.rawValue)
        XCTAssertEqual(r.raw("HGET \(h)x f").0, SY_CACHEDB_ERROR.rawValue)   // WRONGTYPE
        XCTAssertEqual(r.fetch(h).0, SY_CACHEDB_ERROR.rawValue)               // GET on a hash: WRONGTYPE too
        // Each failed command says why, once: the command and Redis's answer.
        XCTAssertEqual(s.collector.messages.filter { $0.contains("HGET failed: Redis answered: WRONGTYPE") }.count, 1)
        XCTAssertEqual(s.collector.messages.filter { $0.contains("GET failed: Redis answered: WRONGTYPE") && !$0.contains("HGET") }.count, 1)
        XCTAssertTrue(s.collector.messages.contains { $0.contains("INCRBY failed: Redis answered: ERR value is not an integer") },
                      s.collector.messages.joined(separator: "\n"))
        _ = try redisCLI(["DEL", c, i, h, h + "x"])
    }

    /// As OpenSIPS (SET then EXPIRE, INCRBY then EXPIRE, for any expire ≠ 0): a negative expire makes Redis delete the
    /// key, and the call still succeeds. A raw query's error is logged with Redis's error code, not the query's words.
    func testNegativeExpireDeletesTheKeyAndRawQueryErrorsHideTheArguments() throws {
        let s = try server()
        defer { s.stop() }
        let r = try s.cache(nil)
        let OK = SY_CACHEDB_OK.rawValue
        let k = key("negstore")
        XCTAssertEqual(r.store(k, "kept"), OK)
        XCTAssertEqual(try redisCLI(["GET", k]), "kept")
        XCTAssertEqual(r.store(k, "gone", expire: -5), OK)
        XCTAssertEqual(try redisCLI(["EXISTS", k]), "0")
        XCTAssertEqual(r.fetch(k).0, SY_CACHEDB_NOT_FOUND.rawValue)
        let c = key("negcounter")
        XCTAssertEqual(r.add(c, 5, expire: 100).1, 5)
        XCTAssertGreaterThan(Int(try redisCLI(["TTL", c])) ?? 0, 90)
        let (rc, n) = r.add(c, 2, expire: -1)
        XCTAssertEqual(rc, OK)
        XCTAssertEqual(n, 7)                                              // INCRBY's answer, then the key is deleted
        XCTAssertEqual(try redisCLI(["EXISTS", c]), "0")
        XCTAssertEqual(r.add(c, -3, expire: -1).1, -3)                    // sub: DECRBY from a missing key
        XCTAssertEqual(try redisCLI(["EXISTS", c]), "0")

        XCTAssertEqual(r.raw("NOSUCHCMD \(k) s3cr3t-arg").0, SY_CACHEDB_ERROR.rawValue)
        let lines = s.collector.messages
        XCTAssertEqual(lines.filter { $0.contains("NOSUCHCMD failed: Redis answered: ERR") }.count, 1, lines.joined(separator: "\n"))
        XCTAssertFalse(lines.contains { $0.contains("s3cr3t-arg") }, lines.joined(separator: "\n"))
    }

    func testGroupsAreSeparateDatabases() throws {
        let s = try server()
        defer { s.stop() }
        let k = key("group")
        XCTAssertEqual(try s.cache("one").store(k, "in-1"), SY_CACHEDB_OK.rawValue)
        XCTAssertEqual(try s.cache("two").store(k, "in-2"), SY_CACHEDB_OK.rawValue)
        XCTAssertEqual(try redisCLI(["GET", k], db: 1), "in-1")
        XCTAssertEqual(try redisCLI(["GET", k], db: 2), "in-2")
        XCTAssertEqual(try redisCLI(["EXISTS", k], db: 0), "0")
        XCTAssertThrowsError(try s.cache("three"))
        _ = try redisCLI(["DEL", k], db: 1)
        _ = try redisCLI(["DEL", k], db: 2)
    }

    /// Eight threads race cache insert on the same 500 keys: exactly one wins each.
    func testInsertIsAtomicAcrossConnections() throws {
        let s = try server()
        defer { s.stop() }
        let r = try s.cache(nil)
        let prefix = key("race")
        let wins = LockedBox<[Int]>(Array(repeating: 0, count: 500))
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for i in 0..<500 where r.insert("\(prefix):\(i)", "x", expire: 60) == SY_CACHEDB_OK.rawValue {
                wins.update { $0[i] += 1 }
            }
        }
        XCTAssertEqual(wins.get(), Array(repeating: 1, count: 500))
    }

    /// Redis restarts (losing its data: no persistence): the calls of the outage fail, then everything works again
    /// without restarting Switchyard.
    func testRedisRestartCostsOnlyTheOutage() throws {
        let s = try server()
        defer { s.stop() }
        let r = try s.cache(nil)
        let k = key("restart")
        XCTAssertEqual(r.store(k, "1"), SY_CACHEDB_OK.rawValue)
        try TestServers.control("restart", "redis")
        XCTAssertEqual(r.store(k, "2"), SY_CACHEDB_OK.rawValue)     // the dead connection is replaced on the spot
        XCTAssertEqual(r.fetch(k).1, "2")
        try TestServers.control("stopone", "redis")
        XCTAssertEqual(r.store(k, "3"), SY_CACHEDB_ERROR.rawValue)
        try TestServers.control("startone", "redis")
        XCTAssertTrue(TestServers.waitUntil(20) { r.store(k, "4") == SY_CACHEDB_OK.rawValue })
        XCTAssertEqual(try redisCLI(["GET", k]), "4")
        _ = try redisCLI(["DEL", k])
    }

    /// Several workers each hold a connection when Redis restarts: all of them are dead, and the next calls still
    /// work (OpenSIPS: each process reconnects on its next command; a retry must never take another dead link).
    func testRedisRestartWithSeveralConnections() throws {
        let s = try server()
        defer { s.stop() }
        let r = try s.cache(nil)
        let k = key("restart-many")
        XCTAssertTrue(TestServers.waitUntil(20) {
            DispatchQueue.concurrentPerform(iterations: 6) { i in for _ in 0..<50 { _ = r.store("\(k):\(i)", "x") } }
            return ((try? redisCLI(["CLIENT", "LIST"])) ?? "").split(separator: "\n").count >= 3
        }, "the pool never held two connections")
        try TestServers.control("restart", "redis")
        let before = s.collector.messages.filter { $0.contains("connection lost") }.count
        for n in 1...4 {
            XCTAssertEqual(r.store(k, "\(n)"), SY_CACHEDB_OK.rawValue, "call \(n) after the restart")
        }
        // The first call meets a dead link and drops the other idle ones with it: one line, not one per link.
        XCTAssertEqual(s.collector.messages.filter { $0.contains("connection lost") }.count - before, 1,
                       s.collector.messages.joined(separator: "\n"))
        XCTAssertEqual(try redisCLI(["GET", k]), "4")
        _ = try redisCLI(["DEL", k])
        // A group's reconnection selects its database again (redis:one://.../1).
        let one = try s.cache("one")
        XCTAssertEqual(one.store(k, "in-1"), SY_CACHEDB_OK.rawValue)
        try TestServers.control("restart", "redis")
        XCTAssertEqual(one.store(k, "in-1-again"), SY_CACHEDB_OK.rawValue)
        XCTAssertEqual(try redisCLI(["GET", k], db: 1), "in-1-again")
        XCTAssertEqual(try redisCLI(["EXISTS", k]), "0")
        _ = try redisCLI(["DEL", k], db: 1)
    }

    /// The script's functions with OpenSIPS's return codes, "redis" and "redis:GROUP" ids, the 2.4 quoted output.
    func testScriptCacheFunctions() throws {
        let (h, p) = try endpoint()
        let k = key("script")
        let cfg = writeTemp("""
            loadmodule "cachedb_redis.so"
            modparam("cachedb_redis", "cachedb_url", "redis://\(h):\(p)/")
            modparam("cachedb_redis", "cachedb_url", "redis:g1://\(h):\(p)/1")
            startup_route {
                cache_store("redis", "\(k)", "hello", 120);
                cache_fetch("redis", "\(k)", $var(v));
                xlog("L_NOTICE", "R fetch $var(v)\\n");
                cache_fetch("redis", "\(k)-none", $var(v));
                xlog("L_NOTICE", "R missing $rc\\n");
                cache_insert("redis", "\(k)-i", "a", 60);
                xlog("L_NOTICE", "R insert1 $rc\\n");
                cache_insert("redis", "\(k)-i", "b", 60);
                xlog("L_NOTICE", "R insert2 $rc\\n");
                cache_add("redis", "\(k)-n", 7, 0, $var(n));
                cache_sub("redis", "\(k)-n", 2, 0, $var(n));
                xlog("L_NOTICE", "R counter $var(n)\\n");
                cache_counter_fetch("redis", "\(k)-n", $var(c));
                xlog("L_NOTICE", "R counter_fetch $var(c)\\n");
                cache_store("redis:g1", "\(k)", "in-group", 0);
                cache_raw_query("redis", "RPUSH \(k)-l a b c", "$avp(r)");
                cache_raw_query("redis", "LRANGE \(k)-l 0 -1", "$avp(l)");
                xlog("L_NOTICE", "R raw $(avp(l)[0]) $(avp(l)[1]) $(avp(l)[2]) $avp(l) $avp(r)\\n");
                cache_raw_query("redis", "INCRBY \(k)-c 5", "$avp(i)");
                $var(sum) = $avp(i) + 1;
                if ($avp(i) == 5) { xlog("L_NOTICE", "R rawint $var(sum)\\n"); }
                cache_remove("redis", "\(k)");
                cache_fetch("redis", "\(k)", $var(v));
                xlog("L_NOTICE", "R removed $rc\\n");
            }
            """)
        defer { try? FileManager.default.removeItem(atPath: cfg) }
        let sy = BinaryRunner(args: ["-f", cfg])
        try sy.start()
        defer { sy.process.interrupt(); _ = sy.wait(timeout: 10) }
        XCTAssertTrue(sy.waitFor("R removed", timeout: 20), sy.output)
        let lines = sy.lines.compactMap { l in l.range(of: "R ").map { String(l[$0.lowerBound...]) } }.filter { $0.hasPrefix("R ") }
        XCTAssertEqual(lines, ["R fetch hello", "R missing -2", "R insert1 1", "R insert2 -2", "R counter 5",
                               "R counter_fetch 5", "R raw a b c a 3", "R rawint 6", "R removed -2"], sy.output)
        XCTAssertEqual(try redisCLI(["GET", k], db: 1), "in-group")
        _ = try redisCLI(["DEL", k, k + "-i", k + "-n", k + "-l", k + "-c"])
        _ = try redisCLI(["DEL", k], db: 1)
    }

    /// A nil element of a raw query's reply is an AVP with a NULL value, as OpenSIPS's AVP_VAL_NULL: the elements
    /// after it keep their indexes, and a value the AVP held before the call is still there (not popped).
    func testRawQueryNilElementKeepsItsPlace() throws {
        let (h, p) = try endpoint()
        let k = key("hmget")
        _ = try redisCLI(["HSET", k, "a", "A", "c", "C"])
        let cfg = writeTemp("""
            loadmodule "cachedb_redis.so"
            modparam("cachedb_redis", "cachedb_url", "redis://\(h):\(p)/")
            startup_route {
                $avp(h) = "earlier";
                cache_raw_query("redis", "HMGET \(k) a nope c", "$avp(h)");
                xlog("L_NOTICE", "R mid $rc $(avp(h)[0]) $(avp(h)[1]) $(avp(h)[2]) $(avp(h)[3])\\n");
                $avp(t) = "kept";
                cache_raw_query("redis", "HMGET \(k) a nope", "$avp(t)");
                xlog("L_NOTICE", "R end $rc $(avp(t)[0]) $(avp(t)[1]) $(avp(t)[2])\\n");
            }
            """)
        defer { try? FileManager.default.removeItem(atPath: cfg) }
        let sy = BinaryRunner(args: ["-f", cfg])
        try sy.start()
        defer { sy.process.interrupt(); _ = sy.wait(timeout: 10) }
        XCTAssertTrue(sy.waitFor("R end", timeout: 20), sy.output)
        let lines = sy.lines.compactMap { l in l.range(of: "R ").map { String(l[$0.lowerBound...]) } }.filter { $0.hasPrefix("R ") }
        XCTAssertEqual(lines, ["R mid 1 A <null> C earlier", "R end 1 A <null> kept"], sy.output)
        _ = try redisCLI(["DEL", k])
    }

    /// OpenSIPS's ftsearch_* parameters (column-oriented API only) are accepted, each with a line saying they have
    /// no effect, so an OpenSIPS config starts; a wrong type is still refused.
    func testFtsearchParametersAreAccepted() throws {
        let s = try server("""
            modparam("cachedb_redis", "ftsearch_index_name", "idx:usrloc")
            modparam("cachedb_redis", "ftsearch_json_prefix", "usrloc:")
            modparam("cachedb_redis", "ftsearch_max_results", 10000)
            modparam("cachedb_redis", "ftsearch_json_mset_expire", 3600)
            """)
        defer { s.stop() }
        let k = key("ft")
        XCTAssertEqual(try s.cache(nil).store(k, "v"), SY_CACHEDB_OK.rawValue)
        XCTAssertEqual(s.collector.messages.filter { $0.contains("no effect (the column-oriented API is not implemented)") }.count, 4,
                       s.collector.messages.joined(separator: "\n"))
        _ = try redisCLI(["DEL", k])
        XCTAssertThrowsError(try server(#"modparam("cachedb_redis", "ftsearch_max_results", "many")"#))
    }

    /// query_timeout cuts a command Redis does not answer in time (a BLPOP on an empty list blocks its connection):
    /// two attempts, as OpenSIPS, then -1; other commands are not held up.
    func testQueryTimeoutIsHonoured() throws {
        let (h, p) = try endpoint()
        let s = try InProcessServer("""
            loadmodule "cachedb_redis.so"
            modparam("cachedb_redis", "cachedb_url", "redis://\(h):\(p)/")
            modparam("cachedb_redis", "query_timeout", 300)
            """)
        defer { s.stop() }
        let r = try s.cache(nil)
        let k = key("blocked")
        let t0 = Date()
        XCTAssertEqual(r.raw("BLPOP \(k) 5").0, SY_CACHEDB_ERROR.rawValue)
        let took = Date().timeIntervalSince(t0)
        XCTAssertGreaterThanOrEqual(took, 0.5, "fewer than two attempts of 300 ms")
        XCTAssertLessThan(took, 2.5, "query_timeout was not applied")
        XCTAssertEqual(r.store(k + "x", "v"), SY_CACHEDB_OK.rawValue)
        _ = try redisCLI(["DEL", k + "x"])
    }

    /// A command that hits query_timeout (a BLPOP on an empty list) drops its own link only: the other idle links
    /// are healthy and stay open (dropping them would make every worker reconnect), unlike a server that is gone.
    func testQueryTimeoutKeepsTheOtherLinks() throws {
        let (h, p) = try endpoint()
        let s = try InProcessServer("""
            loadmodule "cachedb_redis.so"
            modparam("cachedb_redis", "cachedb_url", "redis://\(h):\(p)/")
            modparam("cachedb_redis", "query_timeout", 1000)
            """)
        defer { s.stop() }
        let r = try s.cache(nil)
        let ids = LockedBox<Set<String>>([])
        let empty = key("empty")
        // Threads that each hold a link 100 ms (a BLPOP that ends empty, well within query_timeout) overlap, so the
        // pool opens several.
        XCTAssertTrue(TestServers.waitUntil(20) {
            OnThreads.run(4) { _ in
                for _ in 0..<3 {
                    _ = r.raw("BLPOP \(empty) 0.1")
                    if let id = r.raw("CLIENT ID").1.first ?? nil { ids.update { $0.insert(id) } }
                }
            }
            return ids.get().count >= 3
        }, "the pool never held three links")
        let before = ids.get()
        XCTAssertEqual(r.raw("BLPOP \(key("blocked")) 5").0, SY_CACHEDB_ERROR.rawValue)
        // The next command takes one of the links opened before the timeout, not a new one.
        let next = r.raw("CLIENT ID")
        XCTAssertEqual(next.0, SY_CACHEDB_OK.rawValue)
        XCTAssertTrue(before.contains((next.1.first ?? nil) ?? "none"), "\(next.1) not in \(before)")
        // And those links are still connected on the server's side.
        let listed = try redisCLI(["CLIENT", "LIST"])
        let open = before.filter { listed.contains("id=\($0) ") }
        XCTAssertGreaterThanOrEqual(open.count, before.count - 1, listed)
    }

    /// cachedb API 1.3 only appends raw_query_typed: the 1.2 table (96 bytes on 64-bit) is its unchanged prefix
    /// (a 1.2 backend driven by the 1.3 core: SwitchyardCoreTests' CachedbOlderMinorTests).
    func testCachedbABI13Layout() {
        XCTAssertEqual(MemoryLayout<sy_cachedb_api>.offset(of: \.module_open), 88)
        XCTAssertEqual(MemoryLayout<sy_cachedb_api>.offset(of: \.raw_query_typed), 96)
        XCTAssertEqual(MemoryLayout<sy_cachedb_api>.size, 104)
        XCTAssertEqual(SY_CACHEDB_MINOR, 3)
    }

    /// A comma-separated host list fails over: the first host is down, the second answers.
    func testFailoverListUsesTheNextHost() throws {
        let (h, p) = try endpoint()
        let down = TestServers.closedPort()
        let s = try InProcessServer("""
            loadmodule "cachedb_redis.so"
            modparam("cachedb_redis", "cachedb_url", "redis:fo://127.0.0.1:\(down),\(h):\(p)/")
            modparam("cachedb_redis", "connect_timeout", 500)
            """)
        defer { s.stop() }
        let k = key("failover")
        XCTAssertEqual(try s.cache("fo").store(k, "ok"), SY_CACHEDB_OK.rawValue)
        XCTAssertEqual(try redisCLI(["GET", k]), "ok")
        _ = try redisCLI(["DEL", k])
    }

    /// The core MI cache commands on a Redis id, driven by the real opensips-cli over mi_fifo: OpenSIPS's result
    /// shapes, error codes and messages (400 "Value not found", -32602 for bad params, 500 for a failing backend).
    func testMICacheCommandsThroughOpensipsCLI() throws {
        let (h, p) = try endpoint()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sy-redis-mi-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try InProcessServer("""
            loadmodule "mi_fifo.so"
            modparam("mi_fifo", "fifo_name", "\(dir)/fifo")
            modparam("mi_fifo", "reply_dir", "\(dir)/")
            loadmodule "cachedb_redis.so"
            modparam("cachedb_redis", "cachedb_url", "redis://\(h):\(p)/")
            modparam("cachedb_redis", "cachedb_url", "redis:down://127.0.0.1:\(TestServers.closedPort())/")
            modparam("cachedb_redis", "connect_timeout", 500)
            """)
        defer { s.stop() }
        let cfg = try OpensipsCLI.fifoConfig(dir: dir)
        func fails(_ args: [String], _ expect: String) throws {
            let r = try OpensipsCLI.run(cfg, args)
            XCTAssertNotEqual(r.status, 0, r.out)
            XCTAssertTrue(r.err.contains(expect), "mi \(args): expected '\(expect)' in: \(r.err)")
        }
        let k = key("mi")
        XCTAssertEqual(try OpensipsCLI.json(cfg, ["cache_store", "redis", k, "v 1", "100"]) as? String, "OK")
        XCTAssertGreaterThan(Int(try redisCLI(["TTL", k])) ?? 0, 90)
        let got = try OpensipsCLI.json(cfg, ["cache_fetch", "redis", k]) as? [String: String]
        XCTAssertEqual(got, ["key": k, "value": "v 1"])
        XCTAssertEqual(try OpensipsCLI.json(cfg, ["cache_remove", "redis", k]) as? String, "OK")
        try fails(["cache_fetch", "redis", k], "400: Value not found")
        _ = try redisCLI(["SET", k, ""])
        try fails(["cache_fetch", "redis", k], "400: Value not found")        // an empty value counts as none
        _ = try redisCLI(["HSET", k + "h", "f", "v"])
        try fails(["cache_fetch", "redis", k + "h"], "500: Cache fetch command failed")  // WRONGTYPE
        try fails(["cache_store", "redis", k, "v", "-5"], "-32602: Invalid params")
        try fails(["cache_store", "redis", k, ""], "-32602: Invalid params")
        try fails(["cache_store", "redis:down", k, "v"], "500: Cache store command failed")
        try fails(["cache_fetch", "nosuch", k], "500: Cache fetch command failed")
        _ = try redisCLI(["DEL", k, k + "h"])
    }

    /// A password with '@', '?', '/' and '#' (the credentials end at the last '@'): AUTH reaches a Redis started with
    /// that requirepass (a second redis-server of the test's own), and no log line shows the password.
    func testPasswordWithSpecialCharactersAuthenticates() throws {
        _ = try TestServers.redisURL()
        let password = "p@ss?w/rd#x"
        let port = TestServers.closedPort()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sy-redis-pw-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (started, out) = try TestServers.run("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "",
                                                                 "--appendonly", "no", "--dir", dir, "--daemonize", "yes",
                                                                 "--pidfile", dir + "/redis.pid", "--requirepass", password])
        XCTAssertEqual(started, 0, out)
        defer { _ = try? TestServers.run("redis-cli", ["-p", String(port), "-a", password, "--no-auth-warning", "SHUTDOWN", "NOSAVE"]) }
        XCTAssertTrue(TestServers.waitUntil(10) {
            (try? TestServers.run("redis-cli", ["-p", String(port), "-a", password, "--no-auth-warning", "PING"]).1)?.contains("PONG") ?? false
        })
        let s = try InProcessServer("""
            loadmodule "cachedb_redis.so"
            modparam("cachedb_redis", "cachedb_url", "redis:pw://:\(password)@127.0.0.1:\(port)/")
            modparam("cachedb_redis", "cachedb_url", "redis:nopw://127.0.0.1:\(port)/")
            """)
        defer { s.stop() }
        XCTAssertEqual(try s.cache("pw").store("k", "v"), SY_CACHEDB_OK.rawValue)
        let (_, got) = try TestServers.run("redis-cli", ["-p", String(port), "-a", password, "--no-auth-warning", "GET", "k"])
        XCTAssertEqual(got.trimmingCharacters(in: .whitespacesAndNewlines), "v")
        XCTAssertEqual(try s.cache("nopw").store("k", "w"), SY_CACHEDB_ERROR.rawValue) // NOAUTH
        for line in s.collector.messages {
            XCTAssertFalse(line.contains("ss?w") || line.contains("w/rd"), "password shown: \(line)")
        }
    }

    /// shutdown_on_error=1: a Redis that cannot be reached stops startup, naming the URL with its password masked.
    func testShutdownOnErrorStopsStartup() throws {
        _ = try TestServers.redisURL()
        let down = TestServers.closedPort()
        let cfg = writeTemp("""
            loadmodule "cachedb_redis.so"
            modparam("cachedb_redis", "cachedb_url", "redis://:Secret77@127.0.0.1:\(down)/")
            modparam("cachedb_redis", "shutdown_on_error", 1)
            """)
        defer { try? FileManager.default.removeItem(atPath: cfg) }
        let (status, out) = try BinaryRunner.run(["-f", cfg], timeout: 30)
        XCTAssertEqual(status, 1, out)
        XCTAssertTrue(out.contains("cannot connect to redis://:***@127.0.0.1:\(down)/"), out)
        XCTAssertFalse(out.contains("Secret77"), out)
    }
}
