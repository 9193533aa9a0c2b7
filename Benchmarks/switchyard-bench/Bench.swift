import Foundation
import SwitchyardCore
import Synchronization

/// Benchmarks for the core (prints figures; never a timed unit test).
///   switchyard-bench [all|script|calls|startup|cache|json|mi|drouting|dtmf|dtmf-cpu|dtmf-vs-floor|dtmf-callgrind|dtmf-floor|dr-backends|redis|dispatcher] [iterations]
/// Build with `swift build -c release` and run `.build/release/switchyard-bench`.
@main
struct Bench {
    static func main() throws {
        let args = CommandLine.arguments.dropFirst()
        let what = args.first ?? "all"
        let iterations = args.dropFirst().first.flatMap { Int($0) } ?? 1_000_000
        let workers = ProcessInfo.processInfo.activeProcessorCount
        print("switchyard-bench: \(workers) cores, \(iterations) iterations")
        if what == "all" || what == "script" { try scriptThroughput(iterations: iterations, workers: workers) }
        if what == "all" || what == "calls" { try callCost(iterations: iterations) }
        if what == "all" || what == "startup" { try startupTime() }
        if what == "drouting" { try droutingBench(rules: args.dropFirst().first.flatMap { Int($0) } ?? 1_000_000, workers: workers) }
        if what == "all" || what == "cache" { try cacheThroughput(keys: iterations, workers: workers) }
        if what == "all" || what == "json" { try jsonThroughput(iterations: args.dropFirst().first.flatMap { Int($0) } ?? 200_000) }
        if what == "dtmf" { try dtmfBench(events: args.dropFirst().first.flatMap { Int($0) } ?? 200_000) }
        if what == "dtmf-cpu" { try dtmfBench(events: args.dropFirst().first.flatMap { Int($0) } ?? 20_000, cpuOnly: true) }
        if what == "dtmf-vs-floor" {
            try dtmfBench(events: args.dropFirst().first.flatMap { Int($0) } ?? 20_000,
                          vsFloorRounds: args.dropFirst(2).first.flatMap { Int($0) } ?? 3)
        }
        if what == "dtmf-callgrind" { try dtmfBench(events: args.dropFirst().first.flatMap { Int($0) } ?? 2_000, callgrind: true) }
        if what == "dtmf-floor" { try dtmfFloor(burst: args.dropFirst().first.flatMap { Int($0) } ?? 20_000) }
        if what == "esl" { try eslBench(calls: args.dropFirst().first.flatMap { Int($0) } ?? 20_000) }
        if what == "dr-backends" { try droutingBackendsBench(rules: args.dropFirst().first.flatMap { Int($0) } ?? 100_000) }
        if what == "redis" { try redisBench(calls: args.dropFirst().first.flatMap { Int($0) } ?? 20_000) }
        if what == "dispatcher" { try dispatcherBench(runs: args.dropFirst().first.flatMap { Int($0) } ?? 200_000) }
        if what == "mi" { try miThroughput(requests: args.dropFirst().first.flatMap { Int($0) } ?? 20_000) }
    }

    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var buildDir: URL { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent() }

    /// A server on a config text, prepared and started quietly.
    static func server(_ config: String, workers: Int, extra: (ScriptEngine) -> Void = { _ in }) throws -> Server {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(getpid())-\(UUID().uuidString).cfg").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(config.utf8))
        let diags = DiagnosticBag()
        let ast = Parser.parse(path: path, diagnostics: diags)
        let s = Server(configPath: path, logSink: .collector(LogCollector()))
        extra(s.engine)
        do {
            try s.prepare(ast: ast, workersOverride: workers, parseErrors: diags.errors)
            try s.start()
        } catch {
            print(error.description)
            throw error
        }
        return s
    }

    /// Runs `route` `total` times spread over every worker; returns seconds.
    static func runOnAllWorkers(_ s: Server, route: String, total: Int, workers: Int) -> Double {
        guard let box = s.engine.namedRoutes[route] else { fatalError("no route \(route)") }
        let group = DispatchGroup()
        let per = total / workers
        let start = DispatchTime.now()
        for _ in 0..<workers {
            group.enter()
            _ = s.queue!.offer(.task { ctx in
                for _ in 0..<per {
                    ctx.reset(routeType: .request)
                    s.engine.run(box, ctx)
                }
                group.leave()
            })
        }
        group.wait()
        return Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    static let benchRoute = """
    route[bench] {
        $var(i) = $var(i) + 1;
        $var(s) = "abc";
        $var(t) = $var(s) + "def";
        $var(n) = $(var(t){s.len});
        $var(m) = $var(n) * 3 + 1;
        switch ($var(m)) {
            case 19: $var(r) = "x"; break;
            default: $var(r) = "y";
        }
        if ($var(r) == "x") { $var(ok) = 1; } else { $var(ok) = 0; }
        $avp(a) = $var(m);
        $avp(a) = $var(n);
        $var(u) = $(var(t){s.substr,1,3});
        $var(up) = $(var(u){s.toupper});
        route(sub, $var(m));
        $var(k) = $rc;
        $var(x) = $var(k) & 7;
        $var(y) = $var(x) | 8;
        $rU = "1000";
        $var(z) = $rU;
        $var(i2) = $var(i) % 1000;
    }
    route[sub] { $var(p) = $param(1); return(1); }
    """
    /// Statements executed per run of route[bench] (the sub-route's two included).
    static let statementsPerRun = 22

    static func scriptThroughput(iterations: Int, workers: Int) throws {
        let s = try server(benchRoute, workers: workers)
        defer { s.stop() }
        _ = runOnAllWorkers(s, route: "bench", total: min(iterations, 20_000), workers: workers)  // warm-up
        for w in [1, workers] {
            let secs = runOnAllWorkers(s, route: "bench", total: iterations, workers: w)
            let stmts = Double(iterations * statementsPerRun)
            print(String(format: "script: %d workers: %.2f M statements/s (%.0f ns per route run of %d statements)",
                         w, stmts / secs / 1e6, secs / Double(iterations) * 1e9 * Double(w), statementsPerRun))
        }
    }

    /// The cost of a script call into a C plugin function vs the same work as a core function.
    static func callCost(iterations: Int) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("bench-good-\(getpid()).so").path
        let src = repo.appendingPathComponent("Tests/SwitchyardCoreTests/Fixtures/plugins/good.c").path
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-O2", "-std=c11", "-shared", "-fPIC", "-I", repo.appendingPathComponent("Sources/SwitchyardABI/include").path, "-o", out, src]
        try cc.run()
        cc.waitUntilExit()
        let dir = (out as NSString).deletingLastPathComponent
        let name = (out as NSString).lastPathComponent
        let config = """
        mpath = "\(dir)"
        loadmodule "\(name)"
        route[plugin] { good_ret(1); good_ret(1); good_ret(1); good_ret(1); good_ret(1); good_ret(1); good_ret(1); good_ret(1); good_ret(1); good_ret(1); }
        route[core] { core_ret(1); core_ret(1); core_ret(1); core_ret(1); core_ret(1); core_ret(1); core_ret(1); core_ret(1); core_ret(1); core_ret(1); }
        """
        let s = try server(config, workers: 1) { engine in
            try? engine.register(function: FunctionDef(name: "core_ret", module: "core", params: [ParamFlag.int], impl: .core { _, args in
                args[0].value.intForm ?? 1
            }))
        }
        defer { s.stop() }
        let runs = max(1, iterations / 10)
        _ = runOnAllWorkers(s, route: "plugin", total: 10_000, workers: 1)
        _ = runOnAllWorkers(s, route: "core", total: 10_000, workers: 1)
        let tp = runOnAllWorkers(s, route: "plugin", total: runs, workers: 1)
        let tc = runOnAllWorkers(s, route: "core", total: runs, workers: 1)
        let calls = Double(runs * 10)
        print(String(format: "calls: plugin (C ABI) %.2f M calls/s (%.0f ns each); core function %.2f M calls/s (%.0f ns each); one worker",
                     calls / tp / 1e6, tp / calls * 1e9, calls / tc / 1e6, tc / calls * 1e9))
    }

    /// Process start to the "ready" log line, with every plugin of this build loaded.
    static func startupTime() throws {
        let exe = buildDir.appendingPathComponent("switchyard").path
        let plugins = ((try? FileManager.default.contentsOfDirectory(atPath: buildDir.path)) ?? [])
            .filter { $0.hasPrefix("lib") && $0.hasSuffix(".so") }
            .map { String($0.dropFirst(3).dropLast(3)) }
            .filter { $0 != "SwitchyardPluginKit" }
            .sorted()
        // The modparams each module needs to start (a drouting DB provisioned on first connect, own MI endpoints).
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("bench-startup-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let schema = repo.appendingPathComponent("Plugins/drouting/schema/sqlite.sql").path
        let needs: [String: [String]] = [
            "db_sqlite": ["modparam(\"db_sqlite\", \"init_sql\", \"\(schema)\")"],
            "drouting": ["modparam(\"drouting\", \"db_url\", \"sqlite://\(tmp)/dr.db\")"],
            "mi_fifo": ["modparam(\"mi_fifo\", \"fifo_name\", \"\(tmp)/fifo\")", "modparam(\"mi_fifo\", \"reply_dir\", \"\(tmp)/\")"],
            "mi_datagram": ["modparam(\"mi_datagram\", \"socket_name\", \"\(tmp)/mi.sock\")"],
            "httpd": ["modparam(\"httpd\", \"port\", \(20000 + Int(getpid()) % 20000))"],
        ]
        let config = plugins.map { "loadmodule \"\($0).so\"" }.joined(separator: "\n") + "\n"
            + plugins.flatMap { needs[$0] ?? [] }.joined(separator: "\n") + "\nevent_route[E_X] { xlog(\"x\"); }\n"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bench-startup-\(getpid()).cfg").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(config.utf8))
        var samples: [Double] = []
        for _ in 0..<10 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = ["-f", path]
            let pipe = Pipe()
            p.standardError = pipe
            p.standardOutput = pipe
            let start = DispatchTime.now()
            try p.run()
            var buf = Data()
            while !String(decoding: buf, as: UTF8.self).contains(" ready: ") {
                let d = pipe.fileHandleForReading.availableData
                if d.isEmpty { break }
                buf.append(d)
            }
            guard String(decoding: buf, as: UTF8.self).contains(" ready: ") else {
                print("startup: the server did not start:\n\(String(decoding: buf, as: UTF8.self))")
                p.terminate()
                return
            }
            samples.append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e6)
            p.terminate()
            p.waitUntilExit()
        }
        samples.sort()
        print(String(format: "startup: process start to ready with %d plugins (%@): median %.1f ms, min %.1f ms",
                     plugins.count, plugins.joined(separator: ", "), samples[samples.count / 2], samples[0]))
    }
}
