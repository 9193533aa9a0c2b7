import Foundation
import SwitchyardCore

/// `switchyard-bench cache [keys]`: the core cache functions over cachedb_local, through the script.
/// Fills `keys` new keys (1 worker), then replaces them and fetches them with 1 worker and with every worker (each
/// worker on its own slice of the key space), and reports the memory per entry (RSS growth of the fill / keys).
extension Bench {
    static func cacheThroughput(keys: Int, workers: Int) throws {
        var routes = """
        mpath = "\(buildDir.path)"
        loadmodule "cachedb_local.so"
        route[cstore] { cache_store("local", "key$var(i)", "val$var(i)"); $var(i) = $var(i) + 1; }
        route[cfetch] { cache_fetch("local", "key$var(i)", $var(v)); $var(i) = $var(i) + 1; }
        route[cbase] { $var(k) = "key$var(i)"; $var(i) = $var(i) + 1; }

        """
        for w in 0..<workers {
            routes += "route[cinit\(w)] { $var(i) = \(w * (keys / workers)); }\n"
        }
        routes += "route[cinit_all] { $var(i) = 0; }\n"
        let s = try server(routes, workers: workers)
        defer { s.stop() }

        /// Runs `route` `perWorker` times on each of `count` workers, after the worker's cinit route; returns seconds.
        func run(_ route: String, workers count: Int, perWorker: Int) -> Double {
            guard let body = s.engine.namedRoutes[route] else { fatalError("no route \(route)") }
            let inits = (0..<count).map { w in s.engine.namedRoutes[count == 1 ? "cinit_all" : "cinit\(w)"]! }
            let group = DispatchGroup()
            let start = DispatchTime.now()
            for w in 0..<count {
                group.enter()
                _ = s.queue!.offer(.task { ctx in
                    ctx.reset(routeType: .request)
                    s.engine.run(inits[w], ctx)
                    for _ in 0..<perWorker {
                        ctx.reset(routeType: .request)
                        s.engine.run(body, ctx)
                    }
                    group.leave()
                })
            }
            group.wait()
            return Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        }

        _ = run("cbase", workers: 1, perWorker: 10_000) // warm-up
        let rssBefore = residentBytes()
        let fill = run("cstore", workers: 1, perWorker: keys)
        let rssAfter = residentBytes()
        print(String(format: "cache: fill %d new keys, 1 worker: %.2f M stores/s (%.0f ns each)",
                     keys, Double(keys) / fill / 1e6, fill / Double(keys) * 1e9))

        for w in Set([1, workers]).sorted() {
            let per = keys / w
            let total = Double(per * w)
            let base = run("cbase", workers: w, perWorker: per)
            let store = run("cstore", workers: w, perWorker: per)
            let fetch = run("cfetch", workers: w, perWorker: per)
            print(String(format: "cache: %d worker%@: store %.2f M ops/s (%.0f ns per op per worker), fetch %.2f M ops/s (%.0f ns); script baseline (key formatting + loop) %.0f ns",
                         w, w == 1 ? "" : "s", total / store / 1e6, store / total * 1e9 * Double(w),
                         total / fetch / 1e6, fetch / total * 1e9 * Double(w), base / total * 1e9 * Double(w)))
        }
        let delta = Double(rssAfter - rssBefore)
        print(String(format: "cache: memory %.0f bytes per entry (RSS +%.1f MB for %d entries; keys \"key<n>\" and values \"val<n>\", 4-9 bytes each)",
                     delta / Double(keys), delta / 1048576, keys))
    }

    /// Resident set size from /proc/self/statm (0 elsewhere).
    static func residentBytes() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
