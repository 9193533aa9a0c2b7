import Foundation
import SwitchyardCore
#if canImport(Glibc)
import Glibc
#endif

/// `switchyard-bench esl [calls]`: round-trip latency of `freeswitch_esl("api status", ...)` as a script sees it, with
/// 1, 2 and 4 script workers issuing commands at the same time on the one ESL connection of one box.
///
/// Two processes on loopback: the real `esl-simulator` (a separate process, real TCP, `TCP_NODELAY`), and a Switchyard
/// server in this process (as the other modes do) with `freeswitch` + `freeswitch_scripting` loaded from this build
/// and `udp_workers = 4`. The box is subscribed by a `fs_subscribe` modparam, so the connection is open and stays open.
///
/// Method: the script is a one-statement route,
///     route[esl_status] { if (freeswitch_esl("api status", "127.0.0.1:<port>", $var(out))) return(1); return(-1); }
/// and each of the k busy workers runs it `calls` times in a row as a worker task, timing each run with the monotonic
/// clock (DispatchTime, ns) around `engine.run`. So a sample is exactly one blocking `freeswitch_esl` call as a script
/// worker lives it — command encoding, the pipelined write, the simulator's answer, the I/O thread's parse and the
/// hand-off to the waiting worker — plus the interpretation of one `if` (well under a microsecond). This is the same
/// quantity a `$Ts`/`$Tsm` difference in the script would give, without that method's extra work (four PV reads and
/// arithmetic per call) and its wall-clock (gettimeofday, µs) resolution. The k workers are released together (a
/// start barrier) after a warm-up of 1,000 calls each; a call that does not return 1 is counted and reported.
///
/// For scale, the same `api status` round trip is also measured from a bare ESL client on its own socket (this
/// process, one thread, blocking reads): the floor set by the simulator and loopback TCP.
extension Bench {
    /// The esl-simulator on free ports, heartbeat every second: the process, its ESL port and its control port.
    static func startSimulator() throws -> (BenchProcess, esl: Int, control: Int) {
        let sim = try BenchProcess(buildDir.appendingPathComponent("esl-simulator").path,
                                   ["--port", "0", "--control-port", "0", "--no-stdin", "--heartbeat", "1"])
        guard sim.waitFor("listening on", timeout: 10),
              let line = sim.output.split(separator: "\n").first(where: { $0.contains("listening on") }) else {
            sim.stop()
            throw BenchError("esl-simulator did not start: \(sim.output)")
        }
        let ports = line.split(separator: " ").compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }
        guard ports.count >= 2 else {
            sim.stop()
            throw BenchError("cannot read the simulator's ports: \(line)")
        }
        return (sim, ports[0], ports[1])
    }

    static func eslBench(calls: Int) throws {
        let (sim, port, _) = try startSimulator()
        defer { sim.stop() }

        let maxWorkers = 4
        let config = """
        log_level = 1
        udp_workers = \(maxWorkers)
        mpath = "\(buildDir.path)"
        loadmodule "freeswitch.so"
        loadmodule "freeswitch_scripting.so"
        modparam("freeswitch_scripting", "fs_subscribe", "fs://:ClueCon@127.0.0.1:\(port)?CHANNEL_ANSWER")
        route[esl_status] {
            if (freeswitch_esl("api status", "127.0.0.1:\(port)", $var(out))) return(1);
            return(-1);
        }
        """
        let s = try server(config, workers: maxWorkers)
        defer { s.stop() }
        guard let route = s.engine.namedRoutes["esl_status"] else { throw BenchError("no route esl_status") }

        /// k tasks, each running the route `n` times after a common start; returns (latencies in µs, failures, seconds).
        func run(workers k: Int, n: Int) -> ([Double], Int, Double) {
            let ready = DispatchSemaphore(value: 0), go = DispatchSemaphore(value: 0)
            let group = DispatchGroup()
            let results = ResultBox(k)
            for w in 0..<k {
                group.enter()
                _ = s.queue!.offer(.task { ctx in
                    var lat = [Double]()
                    lat.reserveCapacity(n)
                    var failed = 0
                    ready.signal()
                    go.wait()
                    for _ in 0..<n {
                        ctx.reset(routeType: .request)
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        let r = s.engine.run(route, ctx)
                        let t1 = DispatchTime.now().uptimeNanoseconds
                        if r != 1 { failed += 1 }
                        lat.append(Double(t1 - t0) / 1000)
                    }
                    results.set(w, lat, failed)
                    group.leave()
                })
            }
            for _ in 0..<k { ready.wait() }
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<k { go.signal() }
            group.wait()
            let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            return results.merged(secs)
        }

        // The connection is opened at startup: wait until a call succeeds.
        let deadline = Date().addingTimeInterval(10)
        while run(workers: 1, n: 1).1 != 0 {
            guard Date() < deadline else { throw BenchError("freeswitch_esl never succeeded against the simulator on port \(port)") }
            usleep(50_000)
        }
        print("esl: switchyard connected to the esl-simulator on port \(port); \(calls) calls per busy worker per run")

        let floor = try rawClientLatency(port: port, n: min(calls, 20_000))
        print(String(format: "esl: bare ESL client (no Switchyard), api status: p50 %.1f µs, p99 %.1f µs, max %.0f µs (%d calls)",
                     floor[floor.count / 2], floor[floor.count * 99 / 100], floor[floor.count - 1], floor.count))

        for k in [1, 2, 4] {
            _ = run(workers: k, n: 1000) // warm-up
            var (lat, failed, secs) = run(workers: k, n: calls)
            lat.sort()
            let total = lat.count
            print(String(format: "esl: %d worker%@ at once, freeswitch_esl(\"api status\"): p50 %.1f µs, p99 %.1f µs, max %.0f µs; "
                         + "%.0f calls/s in all; %d calls, %d failed",
                         k, k == 1 ? "" : "s", lat[total / 2], lat[total * 99 / 100], lat[total - 1],
                         Double(total) / secs, total, failed))
        }
    }

    /// `api status` round trips from a minimal blocking ESL client on its own connection (µs, sorted).
    static func rawClientLatency(port: Int, n: Int) throws -> [Double] {
        let fd = loopbackTCP(port: port)
        guard fd >= 0 else { throw BenchError("cannot connect to the simulator") }
        defer { close(fd) }
        var pending: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        /// One frame: headers up to the blank line, then Content-Length bytes of body.
        func frame() throws -> String {
            while true {
                if let end = headerEnd(pending) {
                    let head = String(decoding: pending[..<end], as: UTF8.self)
                    let len = head.split(separator: "\n").first { $0.lowercased().hasPrefix("content-length:") }
                        .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                    if pending.count >= end + 2 + len {
                        pending.removeFirst(end + 2 + len)
                        return head
                    }
                }
                let got = recv(fd, &buf, buf.count, 0)
                guard got > 0 else { throw BenchError("the simulator closed the connection") }
                pending += buf[..<got]
            }
        }
        func send(_ s: String) {
            let b = Array(s.utf8)
            _ = b.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        }
        _ = try frame() // auth/request
        send("auth ClueCon\n\n")
        guard try frame().contains("+OK accepted") else { throw BenchError("auth refused") }
        var out: [Double] = []
        out.reserveCapacity(n)
        for i in 0..<(n + 1000) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            send("api status\n\n")
            _ = try frame()
            if i >= 1000 { out.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1000) }
        }
        return out.sorted()
    }

    private static func headerEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 2 else { return nil }
        for i in 0..<(b.count - 1) where b[i] == 0x0A && b[i + 1] == 0x0A { return i }
        return nil
    }
}

/// Per-task results, written once by each task.
private final class ResultBox: @unchecked Sendable { // guarded by lock
    private let lock = NSLock()
    private var lat: [[Double]]
    private var failed: [Int]
    init(_ k: Int) { lat = Array(repeating: [], count: k); failed = Array(repeating: 0, count: k) }
    func set(_ w: Int, _ l: [Double], _ f: Int) { lock.lock(); lat[w] = l; failed[w] = f; lock.unlock() }
    func merged(_ secs: Double) -> ([Double], Int, Double) {
        lock.lock(); defer { lock.unlock() }
        return (lat.flatMap { $0 }, failed.reduce(0, +), secs)
    }
}
