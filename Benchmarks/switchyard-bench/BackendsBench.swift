import Foundation
import SwitchyardCore

/// The server backends (need the private servers of `.ci/servers.sh start` and `eval "$(.ci/servers.sh env)"`):
///
/// * `switchyard-bench dr-backends [rules]`: the same generated drouting rules (4–12 digit prefixes, 10 groups, 1,000
///   gateways) in SQLite, MariaDB and PostgreSQL; drouting's startup load time (its own "loaded ... in N ms" line)
///   and three dr_reload times (MI, in process) per driver (SY_BENCH_RELOADS=n for another count).
/// * `switchyard-bench redis [calls]`: cache_fetch and cache_insert through the script against Redis, each call timed
///   on its worker: p50/p99 from 1 worker and from 8 workers at once.
extension Bench {
    static func env(_ name: String) throws -> String {
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else {
            throw BenchError("\(name) is not set: .ci/servers.sh start && eval \"$(.ci/servers.sh env)\"")
        }
        return v
    }

    /// Runs SQL through a server's CLI client (stdin from a file: the generated scripts are large).
    static func cli(_ args: [String], sql: String, env extra: [String: String] = [:]) throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bench-sql-\(getpid()).sql").path
        try sql.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let envPart = extra.map { "\($0.key)='\($0.value)'" }.joined(separator: " ")
        let rc = system("\(envPart) \(args.joined(separator: " ")) < \(file) > /dev/null")
        guard rc == 0 else { throw BenchError("\(args.first ?? "") failed (\(rc))") }
    }

    static func droutingBackendsBench(rules: Int) throws {
        let my = URLComponents(string: try env("SY_TEST_MYSQL_URL"))!
        let pg = URLComponents(string: try env("SY_TEST_POSTGRES_URL"))!
        let db = "sy_bench_dr"
        let myCLI = ["mariadb", "--no-defaults", "-h", my.host!, "-P", String(my.port!), "-u", my.user!, "-p\(my.password!)"]
        let pgCLI = ["psql", "-q", "-h", pg.host!, "-p", String(pg.port!), "-U", pg.user!, "-v", "ON_ERROR_STOP=1"]
        let pgEnv = ["PGPASSWORD": pg.password!]
        let sqlite = FileManager.default.temporaryDirectory.appendingPathComponent("bench-drb-\(getpid()).db").path
        defer { try? FileManager.default.removeItem(atPath: sqlite) }

        // One data set, written as plain INSERTs in batches of 1,000 rows (every server takes that).
        var data = ""
        for g in stride(from: 0, to: 1000, by: 1) {
            data += g % 1000 == 0 ? "INSERT INTO dr_gateways (gwid, address, strip, pri_prefix) VALUES " : ", "
            data += "('gw\(g)', '10.\(g / 256).\(g % 256).1:5060', \(g % 3), \(g % 2 == 0 ? "'00'" : "NULL"))"
        }
        data += ";\n"
        for x in 1...rules {
            let first = (x - 1) % 1000 == 0
            data += first ? "INSERT INTO dr_rules (groupid, prefix, priority, gwlist) VALUES " : ", "
            let digits = String(format: "%012ld", (x &* 2654435761) % 1_000_000_000_000)
            data += "('\(x % 10)', '\(digits.prefix(4 + x % 9))', \(x % 3), 'gw\(x % 1000),gw\((x * 7) % 1000)')"
            if x % 1000 == 0 || x == rules { data += ";\n" }
        }
        let gen = DispatchTime.now()
        let schema = { (name: String) in try String(contentsOf: repo.appendingPathComponent("Plugins/drouting/schema/\(name).sql"), encoding: .utf8) }
        try cli(["sqlite3", sqlite], sql: try schema("sqlite") + "BEGIN;\n" + data + "COMMIT;\n")
        try cli(myCLI, sql: "DROP DATABASE IF EXISTS \(db); CREATE DATABASE \(db) CHARACTER SET utf8mb4;")
        try cli(myCLI + [db], sql: try schema("mysql") + "START TRANSACTION;\n" + data + "COMMIT;\n")
        try cli(pgCLI + ["-d", pg.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))],
                sql: "DROP DATABASE IF EXISTS \(db);\nCREATE DATABASE \(db);\n", env: pgEnv)
        try cli(pgCLI + ["-d", db], sql: try schema("postgres") + "BEGIN;\n" + data + "COMMIT;\n", env: pgEnv)
        print(String(format: "dr-backends: %d rules / 1000 gateways written to SQLite, MariaDB and PostgreSQL in %.1f s", rules,
                     Double(DispatchTime.now().uptimeNanoseconds - gen.uptimeNanoseconds) / 1e9))

        for (driver, url) in [("db_sqlite", "sqlite://\(sqlite)"),
                              ("db_mysql", "mysql://\(my.user!):\(my.password!)@\(my.host!):\(my.port!)/\(db)"),
                              ("db_postgres", "postgres://\(pg.user!):\(pg.password!)@\(pg.host!):\(pg.port!)/\(db)")] {
            let config = """
            mpath = "\(buildDir.path)"
            loadmodule "\(driver).so"
            loadmodule "drouting.so"
            modparam("drouting", "db_url", "\(url)")
            """
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("bench-drb-\(getpid()).cfg").path
            _ = FileManager.default.createFile(atPath: path, contents: Data(config.utf8))
            defer { try? FileManager.default.removeItem(atPath: path) }
            let diags = DiagnosticBag()
            let ast = Parser.parse(path: path, diagnostics: diags)
            let logs = LogCollector()
            let s = Server(configPath: path, logSink: .collector(logs))
            do {
                try s.prepare(ast: ast, workersOverride: 2, parseErrors: diags.errors)
                try s.start()
            } catch {
                print(logs.messages.joined(separator: "\n"))
                throw error
            }
            let loaded = logs.messages.first { $0.contains("drouting: loaded") } ?? "(no load line)"
            var reloads: [Double] = []
            let count = ProcessInfo.processInfo.environment["SY_BENCH_RELOADS"].flatMap { Int($0) } ?? 3
            for _ in 0..<max(count, 1) {
                let t = DispatchTime.now()
                let reply = s.mi.handle(#"{"jsonrpc":"2.0","method":"dr_reload","id":1}"#) ?? ""
                if !reply.contains("OK") { print("dr_reload: \(reply)") }
                reloads.append(Double(DispatchTime.now().uptimeNanoseconds - t.uptimeNanoseconds) / 1e6)
            }
            print("dr-backends: \(driver): startup \(loaded[(loaded.range(of: "loaded")?.lowerBound ?? loaded.startIndex)...]); "
                  + "dr_reload " + reloads.map { String(format: "%.0f", $0) }.joined(separator: " / ") + " ms")
            s.stop()
        }
        try? cli(myCLI, sql: "DROP DATABASE IF EXISTS \(db);")
    }

    static func redisBench(calls: Int) throws {
        let url = try env("SY_TEST_REDIS_URL")
        let run = UUID().uuidString.prefix(8)
        var routes = """
        mpath = "\(buildDir.path)"
        loadmodule "cachedb_redis.so"
        modparam("cachedb_redis", "cachedb_url", "\(url)")
        route[rfill] { cache_store("redis", "bench:\(run):$var(i)", "value-$var(i)", 300); $var(i) = $var(i) + 1; }
        route[rfetch] { cache_fetch("redis", "bench:\(run):$var(k)", $var(v)); $var(i) = $var(i) + 1; $var(k) = $var(i) % 1000; }
        route[rinsert] { cache_insert("redis", "bench:\(run):ins:$var(i)", "x", 300); $var(i) = $var(i) + 1; }

        """
        for w in 0..<8 { routes += "route[rinit\(w)] { $var(i) = \(w * 10_000_000); $var(k) = \(w * 100); }\n" }
        let s = try server(routes, workers: 8)
        defer { s.stop() }
        _ = runOnAllWorkers(s, route: "rfill", total: 1000 * 1, workers: 1)

        func timed(_ route: String, workers count: Int) -> (Double, Double, Double) {
            guard let body = s.engine.namedRoutes[route] else { fatalError("no route \(route)") }
            let per = calls / count
            // `all` is only touched under `lock` (each worker appends its samples, the main thread reads after the join).
            final class Samples: @unchecked Sendable { var all: [[Double]]; let lock = NSLock(); init(_ n: Int) { all = Array(repeating: [], count: n) } }
            let samples = Samples(count)
            let group = DispatchGroup()
            let start = DispatchTime.now()
            for w in 0..<count {
                group.enter()
                let initRoute = s.engine.namedRoutes["rinit\(w)"]!
                _ = s.queue!.offer(.task { ctx in
                    ctx.reset(routeType: .request)
                    s.engine.run(initRoute, ctx)
                    var mine: [Double] = []
                    mine.reserveCapacity(per)
                    for _ in 0..<per {
                        ctx.reset(routeType: .request)
                        let t = DispatchTime.now().uptimeNanoseconds
                        s.engine.run(body, ctx)
                        mine.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1000)
                    }
                    samples.lock.lock(); samples.all[w] = mine; samples.lock.unlock()
                    group.leave()
                })
            }
            group.wait()
            let secs = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            let all = samples.all.flatMap { $0 }.sorted()
            return (all[all.count / 2], all[all.count * 99 / 100], Double(all.count) / secs)
        }
        for (route, label) in [("rfetch", "cache_fetch"), ("rinsert", "cache_insert")] {
            for workers in [1, 8] {
                let (p50, p99, rate) = timed(route, workers: workers)
                print(String(format: "redis: %@ from %d worker%@: p50 %.0f µs, p99 %.0f µs, %.0f calls/s (%d calls)",
                             label, workers, workers == 1 ? "" : "s", p50, p99, rate, calls))
            }
        }
        _ = system("redis-cli -u '\(url)' --scan --pattern 'bench:\(run):*' | xargs -r -n 1000 redis-cli -u '\(url)' DEL > /dev/null")
    }
}
