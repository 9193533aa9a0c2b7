import Foundation
import SwitchyardCore

/// `switchyard-bench dispatcher [runs]`: the cost of one ds_select_dst call with 3 and with 300 destinations in the
/// set (algorithm 7 hashing a variable, weighted; 6 random; 4 weighted round-robin; 8 first; with the failover flag,
/// max_res 5), measured as a route with the call minus the same route without it, on one worker. The destinations are
/// IP literals in a generated SQLite table (db_sqlite).
extension Bench {
    static func dispatcherBench(runs: Int) throws {
        let db = FileManager.default.temporaryDirectory.appendingPathComponent("bench-ds-\(getpid()).db").path
        defer { try? FileManager.default.removeItem(atPath: db) }
        let schema = try String(contentsOf: repo.appendingPathComponent("Plugins/dispatcher/schema/sqlite.sql"), encoding: .utf8)
        let sql = schema + """

        INSERT INTO dispatcher (setid, destination, weight) VALUES (1, 'sip:10.0.0.1:5060', '1'), (1, 'sip:10.0.0.2:5060', '2'),
          (1, 'sip:10.0.0.3:5060', '3');
        WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < 299)
          INSERT INTO dispatcher (setid, destination, weight) SELECT 2, 'sip:10.1.' || (x / 200) || '.' || (x % 200 + 1) || ':5060', 1 + x % 7 FROM c;
        """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sqlite3", db]
        let pipe = Pipe()
        p.standardInput = pipe
        try p.run()
        pipe.fileHandleForWriting.write(Data(sql.utf8))
        try pipe.fileHandleForWriting.close()
        p.waitUntilExit()
        var routes = "route[base] { $var(i) = $var(i) + 1; }\n"
        let cases: [(String, String)] = [("h", "7"), ("r", "6"), ("rr", "4"), ("first", "8"), ("hf", "7, \"f\", , 5")]
        for set in [1, 2] {
            for (name, args) in cases {
                routes += "route[\(name)\(set)] { $var(i) = $var(i) + 1; ds_select_dst(\(set), \(args)); }\n"
            }
        }
        let s = try server("""
            mpath = "\(buildDir.path)"
            loadmodule "db_sqlite.so"
            loadmodule "dispatcher.so"
            modparam("dispatcher", "db_url", "sqlite://\(db)")
            modparam("dispatcher", "hash_pvar", "$var(i)")
            \(routes)
            """, workers: 1)
        defer { s.stop() }
        let tb = runOnAllWorkers(s, route: "base", total: runs, workers: 1)
        print(String(format: "dispatcher: base route %.0f ns/run", tb / Double(runs) * 1e9))
        for set in [1, 2] {
            for (name, label) in [("h", "alg 7 (hash of $var(i), weighted)"), ("r", "alg 6 (random, weighted)"),
                                  ("rr", "alg 4 (weighted round-robin)"), ("first", "alg 8 (first)"),
                                  ("hf", "alg 7 + \"f\" (failover list, max_res 5)")] {
                let t = runOnAllWorkers(s, route: "\(name)\(set)", total: runs, workers: 1)
                print(String(format: "dispatcher: %3d destinations, %@: %.0f ns per ds_select_dst", set == 1 ? 3 : 300, label,
                             (t - tb) / Double(runs) * 1e9))
            }
        }
    }
}
