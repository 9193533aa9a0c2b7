import Foundation
import SwitchyardCore
import Synchronization

/// `switchyard-bench drouting [rules]`: the drouting plugin over db_sqlite on a generated SQLite file — rules with
/// 4–12 digit prefixes over 10 groups and 1,000 gateways: startup load time, dr_reload time, RSS per rule, do_routing
/// lookups per second on one worker and on all (full and check-only "C"), and p99 lookup latency while reloads run.
/// `SY_BENCH_ONLY=dr|drc|base` instead runs just that route 5,000,000 times on one worker (`SY_BENCH_ONLY_WORKERS=n`
/// for more), for `perf record`.
extension Bench {
    static func rssBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let f = s.split(separator: " ")
        return f.count > 1 ? (Int(f[1]) ?? 0) * Int(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    static func droutingBench(rules: Int, workers: Int) throws {
        let db = FileManager.default.temporaryDirectory.appendingPathComponent("bench-dr-\(getpid()).db").path
        defer { try? FileManager.default.removeItem(atPath: db) }
        let schema = try String(contentsOf: repo.appendingPathComponent("Plugins/drouting/schema/sqlite.sql"), encoding: .utf8)
        let sql = schema + """

        BEGIN;
        WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < 999)
          INSERT INTO dr_gateways (gwid, address, strip, pri_prefix)
          SELECT 'gw' || x, '10.' || (x / 256) || '.' || (x % 256) || '.1:5060', x % 3, CASE WHEN x % 2 = 0 THEN '00' ELSE NULL END FROM c;
        WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < \(rules))
          INSERT INTO dr_rules (groupid, prefix, priority, gwlist)
          SELECT x % 10, substr(printf('%012d', (x * 2654435761) % 1000000000000), 1, 4 + x % 9), x % 3,
                 'gw' || (x % 1000) || ',gw' || ((x * 7) % 1000) FROM c;
        COMMIT;
        """
        let gen = DispatchTime.now()
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sqlite3", db]
        let pipe = Pipe()
        p.standardInput = pipe
        try p.run()
        pipe.fileHandleForWriting.write(Data(sql.utf8))
        try pipe.fileHandleForWriting.close()
        p.waitUntilExit()
        print(String(format: "drouting: generated %d rules / 1000 gateways in %.1f s", rules,
                     Double(DispatchTime.now().uptimeNanoseconds - gen.uptimeNanoseconds) / 1e9))

        let config = """
        mpath = "\(buildDir.path)"
        loadmodule "db_sqlite.so"
        loadmodule "drouting.so"
        modparam("drouting", "db_url", "sqlite://\(db)")
        route[num] {
            # Script integers are 32-bit (OpenSIPS): a 12-digit number is built from two 6-digit halves, as text.
            $var(i) = $var(i) + 1;
            $var(a) = (($var(i) * 7919) & 2147483647) % 900000 + 100000;
            $var(b) = (($var(i) * 104729) & 2147483647) % 1000000;
            $ru = "sip:" + $(var(a){s.fill.left,0,6}) + $(var(b){s.fill.left,0,6}) + "@example.com;user=phone";
        }
        route[dr] {
            route(num);
            $var(g) = $var(i) % 10;
            do_routing($var(g));
        }
        route[numhot] {
            # The same numbers, 1,000 distinct ones (a busy day's destinations): the touched rules stay in cache.
            $var(i) = $var(i) + 1;
            $var(h) = $var(i) % 1000;
            $var(a) = (($var(h) * 7919) & 2147483647) % 900000 + 100000;
            $var(b) = (($var(h) * 104729) & 2147483647) % 1000000;
            $ru = "sip:" + $(var(a){s.fill.left,0,6}) + $(var(b){s.fill.left,0,6}) + "@example.com;user=phone";
        }
        route[drh] {
            route(numhot);
            $var(g) = $var(h) % 10;
            do_routing($var(g), "C");
        }
        route[basehot] {
            route(numhot);
            $var(g) = $var(h) % 10;
        }
        route[drc] {
            route(num);
            $var(g) = $var(i) % 10;
            do_routing($var(g), "C");
        }
        route[base] {
            route(num);
            $var(g) = $var(i) % 10;
        }
        route[chk] {
            route(num);
            $var(g) = $var(i) % 10;
            $var(in) = $ru;
            do_routing($var(g));
            xlog("drouting-check rc=$rc in=$var(in) ru=$ru gw=$avp(___dr_gw_id__) next=$avp(___dr_ruri__)");
        }
        """
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bench-dr-\(getpid()).cfg").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(config.utf8))
        let diags = DiagnosticBag()
        let ast = Parser.parse(path: path, diagnostics: diags)
        let logs = LogCollector()
        let s = Server(configPath: path, logSink: .collector(logs))
        let rss0 = rssBytes()
        let t0 = DispatchTime.now()
        do {
            try s.prepare(ast: ast, workersOverride: workers, parseErrors: diags.errors)
            try s.start()
        } catch {
            print(error.description)
            print(logs.messages.joined(separator: "\n"))
            throw error
        }
        defer { s.stop() }
        let startMs = Double(DispatchTime.now().uptimeNanoseconds - t0.uptimeNanoseconds) / 1e6
        let rss1 = rssBytes()
        let loaded = logs.messages.first { $0.contains("drouting: loaded") } ?? "(no load line)"
        print("drouting: \(loaded)")
        print(String(format: "drouting: server start incl. load %.0f ms; RSS +%.1f MB = %.0f bytes per rule", startMs,
                     Double(rss1 - rss0) / 1e6, Double(rss1 - rss0) / Double(rules)))

        @Sendable func reload() -> Double {
            let r0 = DispatchTime.now()
            let reply = s.mi.handle(#"{"jsonrpc":"2.0","method":"dr_reload","id":1}"#) ?? ""
            if !reply.contains("OK") { print("dr_reload: \(reply)") }
            return Double(DispatchTime.now().uptimeNanoseconds - r0.uptimeNanoseconds) / 1e6
        }
        let reloads = (0..<3).map { _ in reload() }
        print(String(format: "drouting: dr_reload %.0f / %.0f / %.0f ms; RSS after reloads +%.1f MB", reloads[0], reloads[1],
                     reloads[2], Double(rssBytes() - rss0) / 1e6))

        let n = 1_000_000
        // Sanity: the route really routes (a broken $ru would only measure the error path), and logs nothing per call.
        _ = runOnAllWorkers(s, route: "chk", total: 3, workers: 1)
        usleep(50_000)
        for line in logs.messages where line.contains("drouting-check") { print("drouting: \(line)") }
        let logLines = logs.messages.count
        _ = runOnAllWorkers(s, route: "dr", total: 20_000, workers: workers)
        if logs.messages.count != logLines {
            print("drouting: WARNING: \(logs.messages.count - logLines) log lines during 20000 do_routing runs, e.g. \(logs.messages.last ?? "")")
        }
        if let only = ProcessInfo.processInfo.environment["SY_BENCH_ONLY"] {
            let w = ProcessInfo.processInfo.environment["SY_BENCH_ONLY_WORKERS"].flatMap { Int($0) } ?? 1
            let t = runOnAllWorkers(s, route: only, total: 5_000_000, workers: w)
            print("only \(only) on \(w) worker(s): \(t / 5e6 * 1e9 * Double(w)) ns/run"); return
        }
        for w in Set([1, workers]).sorted() {
            for (route, label) in [("dr", "do_routing(g)"), ("drc", "do_routing(g, \"C\")"),
                                   ("drh", "do_routing(g, \"C\") on 1,000 distinct numbers")] {
                let tb = runOnAllWorkers(s, route: route == "drh" ? "basehot" : "base", total: n, workers: w)
                let td = runOnAllWorkers(s, route: route, total: n, workers: w)
                print(String(format: "drouting: %d worker(s) %@: %.2f M routes/s (route incl. $ru build: %.0f ns/run; without do_routing %.0f ns/run → do_routing ≈ %.0f ns)",
                             w, label, Double(n) / td / 1e6, td / Double(n) * 1e9 * Double(w), tb / Double(n) * 1e9 * Double(w),
                             (td - tb) / Double(n) * 1e9 * Double(w)))
            }
        }

        // p99 while reloads run: per-run latency on every worker, with dr_reload looping on another thread.
        guard let box = s.engine.namedRoutes["dr"] else { return }
        final class Shared: Sendable {
            let stop = Atomic(false)
            let reloads = Atomic(0)
            let lat = Mutex<[UInt64]>([])
        }
        let sh = Shared()
        let reloader = Thread {
            while !sh.stop.load(ordering: .relaxed) { _ = reload(); sh.reloads.add(1, ordering: .relaxed) }
        }
        reloader.start()
        let group = DispatchGroup()
        let per = 200_000
        for _ in 0..<workers {
            group.enter()
            _ = s.queue!.offer(.task { ctx in
                var local: [UInt64] = []
                local.reserveCapacity(per)
                for _ in 0..<per {
                    let a = DispatchTime.now().uptimeNanoseconds
                    ctx.reset(routeType: .request)
                    s.engine.run(box, ctx)
                    local.append(DispatchTime.now().uptimeNanoseconds - a)
                }
                sh.lat.withLock { $0 += local }
                group.leave()
            })
        }
        group.wait()
        sh.stop.store(true, ordering: .relaxed)
        while sh.reloads.load(ordering: .relaxed) == 0 { usleep(10_000) }
        var all = sh.lat.withLock { $0 }
        all.sort()
        func pct(_ q: Double) -> Double { Double(all[min(all.count - 1, Int(Double(all.count) * q))]) / 1000 }
        print(String(format: "drouting: during %d reloads, %d workers: route run p50 %.1f µs, p99 %.1f µs, p99.9 %.1f µs, max %.1f µs",
                     sh.reloads.load(ordering: .relaxed), workers, pct(0.5), pct(0.99), pct(0.999), Double(all.last ?? 0) / 1000))
    }
}
