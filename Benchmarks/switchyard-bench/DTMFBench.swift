import Foundation

/// `switchyard-bench dtmf [events]`: the DTMF-transfer scenario end to end, two processes on loopback — the real
/// `switchyard` on Examples/dtmf-transfer/modules.conf (port, database and log level rewritten) and the real
/// `esl-simulator`.
///
/// * Throughput and losses: the simulator's `flood <n>` pushes n DTMF events for n distinct calls as fast as TCP takes
///   them (backpressure, no drops); we count the `bgapi uuid_transfer` commands that come back (the simulator's
///   `stats` command counter) until all n arrived or nothing moved for 5 s. events/s = n / (first event to last command).
/// * Latency at 1,000 events/s: one `flood 1` every millisecond, each timed from the control command to the moment
///   the simulator's command counter shows its transfer (polled; includes one control round trip, ~30-60 µs).
///
/// * `dtmf-cpu [events]`: only the CPU the switchyard process spends per event (utime + stime from /proc, all its
///   threads), with the events paced by the simulator at 1,000/s and 5,000/s, then as one burst of `events`.
///
/// * `dtmf-vs-floor [events] [rounds]`: dtmf-cpu's three rates alternated with the floor (`dtmf-floor`'s bare client)
///   in the same run, `rounds` times (default 3): switchyard's CPU per event next to the floor's under the same load.
///
/// * `dtmf-callgrind [events]` (default 2,000): switchyard runs under `valgrind --tool=callgrind` (from copies without
///   debug info, which valgrind 3.19 cannot read for a Swift 6 release build); the counters are zeroed after the
///   warm-up, a burst of `events` is flooded, and the instructions switchyard executed (all threads, user space) are
///   printed per event: a deterministic figure, unlike CPU time on a shared machine. Needs valgrind on PATH; the
///   profile stays in /tmp (its path is printed) for `callgrind_annotate --inclusive=yes`.
///
/// The flood's calls have destinations `flood<i>`, which no digit prefix matches: the benchmark's database gets one
/// extra prefix-less rule in group 0 so they take the same path as a call to 1000 (do_routing check, cache_insert,
/// freeswitch_esl). Everything else is the shipped scenario.
extension Bench {
    static func dtmfBench(events: Int, cpuOnly: Bool = false, callgrind: Bool = false, vsFloorRounds: Int = 0) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sy-bench-dtmf-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        // The simulator first: its port goes into the config.
        let (sim, eslPort, controlPort) = try startSimulator()
        defer { sim.stop() }
        let control = try ControlChannel(port: controlPort)

        let extra = dir.appendingPathComponent("catch-all.sql").path
        try "INSERT INTO dr_rules (groupid, prefix, priority, gwlist, description) VALUES ('0', '', 0, 'freeswitch', 'bench: flood<i> destinations');\n"
            .write(toFile: extra, atomically: true, encoding: .utf8)
        var cfg = try String(contentsOf: repo.appendingPathComponent("Examples/dtmf-transfer/modules.conf"), encoding: .utf8)
        for (from, to) in [
            ("sqlite://switchyard.db", "sqlite://" + dir.appendingPathComponent("bench.db").path),
            ("fs://:ClueCon@127.0.0.1:8021?", "fs://:ClueCon@127.0.0.1:\(eslPort)?"),
            ("\"/tmp/opensips_fifo\"", "\"\(dir.appendingPathComponent("fifo").path)\""),  // one FIFO per instance
            ("\"Plugins/drouting/schema/sqlite.sql\"", "\"\(repo.appendingPathComponent("Plugins/drouting/schema/sqlite.sql").path)\""),
            ("\"Examples/dtmf-transfer/provision.sql\"", "\"\(repo.appendingPathComponent("Examples/dtmf-transfer/provision.sql").path)\")\n"
                + "modparam(\"db_sqlite\", \"init_sql\", \"\(extra)\""),
            ("xlog_level = 2 ", "xlog_level = -1 "),  // no log line per transfer
        ] {
            guard cfg.contains(from) else { throw BenchError("the example config no longer contains \(from)") }
            cfg = cfg.replacingOccurrences(of: from, with: to)
        }
        // SY_BENCH_REDIS_URL: the same scenario with the transfer marks in Redis (cachedb_redis) instead of cachedb_local.
        if let redis = ProcessInfo.processInfo.environment["SY_BENCH_REDIS_URL"], !redis.isEmpty {
            for (from, to) in [("loadmodule \"cachedb_local.so\"", "loadmodule \"cachedb_redis.so\"\nmodparam(\"cachedb_redis\", \"cachedb_url\", \"\(redis)\")"),
                               ("cache_insert(\"local\"", "cache_insert(\"redis\""), ("cache_remove(\"local\"", "cache_remove(\"redis\"")] {
                guard cfg.contains(from) else { throw BenchError("the example config no longer contains \(from)") }
                cfg = cfg.replacingOccurrences(of: from, with: to)
            }
            print("dtmf: transfer marks in Redis (\(redis))")
        }
        // mi_http on a free port, for the MI-burst latency run.
        let miPort = MIBurst.freePort()
        cfg += "\nloadmodule \"httpd.so\"\nloadmodule \"mi_http.so\"\nmodparam(\"httpd\", \"port\", \(miPort))\n"
        // The worker count as the example sets it (udp_workers = N), or SY_BENCH_WORKERS to try another.
        if let w = ProcessInfo.processInfo.environment["SY_BENCH_WORKERS"], let n = Int(w) {
            cfg = cfg.replacingOccurrences(of: #"(?m)^udp_workers\s*=\s*\d+"#, with: "udp_workers = \(n)", options: .regularExpression)
        }
        let workers = cfg.range(of: #"(?m)^udp_workers\s*=\s*\d+"#, options: .regularExpression)
            .flatMap { Int(cfg[$0].split(separator: "=").last!.trimmingCharacters(in: .whitespaces)) } ?? 0
        let cfgPath = dir.appendingPathComponent("modules.conf").path
        try cfg.write(toFile: cfgPath, atomically: true, encoding: .utf8)
        let cgOut = "/tmp/sy-dtmf-callgrind-\(getpid()).out"
        let sy = callgrind
            ? try BenchProcess("/usr/bin/env", ["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cgOut,
                                                try strippedCopies(into: dir.appendingPathComponent("bin")), "-f", cfgPath], cwd: dir.path)
            : try BenchProcess(buildDir.appendingPathComponent("switchyard").path, ["-f", cfgPath], cwd: dir.path)
        defer { sy.stop() }
        guard sy.waitFor(" ready: ", timeout: callgrind ? 300 : 20) else { throw BenchError("switchyard did not start: \(sy.output)") }

        func commandCount() throws -> Int {
            let r = try control.request("stats")
            guard let f = r.split(separator: " ").first(where: { $0.hasPrefix("commands=") }), let n = Int(f.dropFirst(9)) else {
                throw BenchError("bad stats reply: \(r)")
            }
            return n
        }
        // auth + 4 subscriptions
        let deadline = Date().addingTimeInterval(callgrind ? 120 : 20)
        while try commandCount() < 5 {
            guard Date() < deadline else { throw BenchError("no subscriptions: \(sy.output)") }
            usleep(10_000)
        }
        usleep(200_000)
        print("dtmf: switchyard subscribed to the simulator on port \(eslPort); warming up")

        // Warm-up (first connections of the SQLite pool, page faults), then the flood.
        var base = try commandCount()
        _ = try control.request("flood 2000")
        let warm = Date().addingTimeInterval(callgrind ? 300 : 10)
        while try commandCount() < base + 2000, Date() < warm { usleep(1000) }
        usleep(300_000)
        base = try commandCount()

        if callgrind {
            try instructionsPerEvent(pid: sy.process.processIdentifier, out: cgOut, control: control, events: events,
                                     commandCount: commandCount)
            return
        }

        if vsFloorRounds > 0 {
            try cpuVersusFloor(pid: sy.process.processIdentifier, control: control, burst: events, rounds: vsFloorRounds,
                               miPort: miPort, commandCount: commandCount)
            return
        }
        if cpuOnly {
            try cpuPerEvent(pid: sy.process.processIdentifier, control: control, burst: events, commandCount: commandCount)
            return
        }

        let t0 = DispatchTime.now().uptimeNanoseconds
        let floodReply = try control.request("flood \(events)")  // returns once every event is written (TCP backpressure)
        let tSent = DispatchTime.now().uptimeNanoseconds
        var got = 0
        var tLast = tSent
        var lastChange = Date()
        while got < events {
            let n = try commandCount() - base
            if n != got { got = n; tLast = DispatchTime.now().uptimeNanoseconds; lastChange = Date() }
            if Date().timeIntervalSince(lastChange) > 5 { break }
            usleep(2000)
        }
        let secs = Double(tLast - t0) / 1e9
        print(String(format: "dtmf: %d DTMF events for distinct calls flooded (%@), %d uuid_transfer commands back, %d lost; "
                     + "%.0f events/s through the whole scenario (%.2f s; the flood itself took %.2f s); switchyard %d workers",
                     events, floodReply.trimmingCharacters(in: .whitespacesAndNewlines), got, events - got, Double(got) / secs, secs,
                     Double(tSent - t0) / 1e9, workers))

        // Latency, paced at 1,000 events/s: alone, then while MI clients hammer mi_http.
        func latency(_ label: String) throws {
            var samples: [Double] = []
            let n = min(5000, max(1000, events / 20))
            base = try commandCount()
            let start = DispatchTime.now().uptimeNanoseconds
            for i in 0..<n {
                let slot = start + UInt64(i) * 1_000_000
                while DispatchTime.now().uptimeNanoseconds < slot { usleep(50) }
                let a = DispatchTime.now().uptimeNanoseconds
                _ = try control.request("flood 1")
                let until = Date().addingTimeInterval(5)
                while try commandCount() < base + i + 1 {
                    guard Date() < until else { throw BenchError("event \(i) never came back") }
                }
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - a) / 1000)
            }
            samples.sort()
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            print(String(format: "dtmf: latency event sent -> uuid_transfer received, %d events at %.0f events/s%@: p50 %.0f µs, p99 %.0f µs, max %.0f µs",
                         n, Double(n) / elapsed, label, samples[n / 2], samples[n * 99 / 100], samples[n - 1]))
        }
        try latency("")
        let burst = MIBurst(port: miPort)
        burst.start(threads: 2)
        let burstStart = Date()
        try latency(" with an MI burst (2 mi_http clients, get_statistics all, new connection per request)")
        burst.stop()
        let secs2 = Date().timeIntervalSince(burstStart)
        print(String(format: "dtmf: the MI burst got %d answers meanwhile (%.0f req/s), %d failed",
                     burst.served.load(ordering: .relaxed), Double(burst.served.load(ordering: .relaxed)) / secs2,
                     burst.failed.load(ordering: .relaxed)))
    }
}

extension Bench {
    /// Copies switchyard and the plugins of the build directory into `dir` without debug info; returns the binary.
    static func strippedCopies(into dir: URL) throws -> String {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let files = try FileManager.default.contentsOfDirectory(atPath: buildDir.path)
            .filter { $0 == "switchyard" || ($0.hasPrefix("lib") && $0.hasSuffix(".so")) }
        for f in files {
            let to = dir.appendingPathComponent(f).path
            let p = try Process.run(URL(fileURLWithPath: "/usr/bin/env"), arguments: ["objcopy", "--strip-debug",
                                                                                        buildDir.appendingPathComponent(f).path, to])
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { throw BenchError("objcopy \(f) failed") }
        }
        return dir.appendingPathComponent("switchyard").path
    }

    /// Zeroes callgrind's counters in `pid`, floods `events` events, waits for their transfers, dumps and prints the
    /// instructions per event.
    static func instructionsPerEvent(pid: Int32, out: String, control: ControlChannel, events: Int,
                                     commandCount: () throws -> Int) throws {
        func callgrindControl(_ flag: String) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["callgrind_control", flag, String(pid)]
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: out + ".1")
        try callgrindControl("-z")
        let base = try commandCount()
        _ = try control.request("flood \(events)")
        var lastChange = Date(), got = 0
        while got < events {
            let c = try commandCount() - base
            if c != got { got = c; lastChange = Date() }
            if Date().timeIntervalSince(lastChange) > 30 { break }
            usleep(10_000)
        }
        try callgrindControl("-d")
        let text = (try? String(contentsOfFile: out + ".1", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("summary:") }),
              let total = Int(line.split(separator: " ").last ?? "") else { throw BenchError("no callgrind dump in \(out).1") }
        print("dtmf-callgrind: \(events) events, \(got) transfers back; \(total) instructions, \(total / max(events, 1)) per event; "
              + "profile \(out).1")
    }

    /// CPU of `pid` per event: paced runs of 10 s at 1,000/s and 5 s at 5,000/s, then a burst; each run ends when its
    /// last transfer came back. Idle CPU (timers, heartbeats) over the same time is measured first and shown apart.
    static func cpuPerEvent(pid: Int32, control: ControlChannel, burst: Int, commandCount: () throws -> Int) throws {
        let idleStart = processCPUSeconds(pid)
        usleep(2_000_000)
        let idlePerSec = (processCPUSeconds(pid) - idleStart) / 2
        print(String(format: "dtmf-cpu: idle switchyard: %.1f ms CPU per second", idlePerSec * 1000))
        for (label, n, rate) in [("1,000/s", 10_000, 1000), ("5,000/s", 25_000, 5000), ("burst", burst, 0)] {
            let base = try commandCount()
            let cpu0 = processCPUSeconds(pid)
            let sw0 = contextSwitches(pid)
            let byThread0 = threadCPU(pid)
            let t0 = Date()
            _ = try control.request(rate > 0 ? "flood \(n) \(rate)" : "flood \(n)")
            var lastChange = Date(), got = 0
            while got < n {
                let c = try commandCount() - base
                if c != got { got = c; lastChange = Date() }
                if Date().timeIntervalSince(lastChange) > 5 { break }
                usleep(1000)
            }
            let cpu = processCPUSeconds(pid) - cpu0
            let sw = contextSwitches(pid)
            let byThread = threadCPU(pid)
            let secs = Date().timeIntervalSince(t0)
            print(String(format: "dtmf-cpu: %@: %d events in %.2f s, %d transfers back; switchyard CPU %.1f µs/event (%.1f µs without its idle CPU); "
                         + "thread sleeps %.2f/event (%.2f preemptions)",
                         label, n, secs, got, cpu * 1e6 / Double(n), (cpu - idlePerSec * secs) * 1e6 / Double(n),
                         Double(sw.voluntary - sw0.voluntary) / Double(n), Double(sw.involuntary - sw0.involuntary) / Double(n)))
            let busiest = byThread.map { $0.value - (byThread0[$0.key] ?? 0) }.max() ?? 0
            print(String(format: "dtmf-cpu: %@: the busiest thread spent %.0f %% of that CPU (one thread running every route: the box's I/O thread)",
                         label, cpu > 0 ? busiest / cpu * 100 : 0))
        }
    }

    /// One paced (or, with rate 0, burst) run of `n` events through switchyard `pid`: its CPU per event (all threads)
    /// and its threads' sleeps per event; ends when the last transfer came back (or nothing moved for 5 s).
    static func oursRun(pid: Int32, control: ControlChannel, n: Int, rate: Int,
                        commandCount: () throws -> Int) throws -> (usPerEvent: Double, sleeps: Double, got: Int) {
        let base = try commandCount()
        let cpu0 = processRuntimeNs(pid)
        let sw0 = contextSwitches(pid)
        _ = try control.request(rate > 0 ? "flood \(n) \(rate)" : "flood \(n)")
        var lastChange = Date(), got = 0
        while got < n {
            let c = try commandCount() - base
            if c != got { got = c; lastChange = Date() }
            if Date().timeIntervalSince(lastChange) > 5 { break }
            usleep(1000)
        }
        let cpu = processRuntimeNs(pid) - cpu0
        let sw = contextSwitches(pid)
        return (cpu / 1000 / Double(n), Double(sw.voluntary - sw0.voluntary) / Double(n), got)
    }

    /// Nanoseconds on a CPU of all the threads of a process (/proc/<pid>/task/*/schedstat, first field): exact,
    /// where /proc/<pid>/stat counts 10 ms ticks (2 µs per event over 5,000 events).
    static func processRuntimeNs(_ pid: Int32) -> Double {
        let dir = "/proc/\(pid)/task"
        var total = 0.0
        for tid in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            guard let text = try? String(contentsOfFile: "\(dir)/\(tid)/schedstat", encoding: .utf8),
                  let ns = text.split(separator: " ").first.flatMap({ Double($0) }) else { continue }
            total += ns
        }
        return total
    }

    /// `dtmf-vs-floor [burst] [rounds]`: the floor (DTMFFloorBench's bare client, on a simulator of its own) and
    /// switchyard in the same run, alternated at each rate, `rounds` times: what switchyard costs above the floor
    /// when both meet the same machine load. The floor is one thread's CPU (CLOCK_THREAD_CPUTIME_ID), switchyard's
    /// all its threads' (their exact runtime, /proc/<pid>/task/*/schedstat).
    static func cpuVersusFloor(pid: Int32, control: ControlChannel, burst: Int, rounds: Int, miPort: Int,
                               commandCount: () throws -> Int) throws {
        let (floorSim, floorESL, floorControl) = try startSimulator()
        defer { floorSim.stop() }
        let client = try FloorClient(port: floorESL)
        try client.command("auth ClueCon")
        try client.command("event json DTMF")
        _ = try client.run(events: 2000, control: floorControl, request: "flood 2000") // warm-up
        print("dtmf-vs-floor: floor = one bare client thread (no script); ours = switchyard, all threads; same run, alternated")
        var sums: [String: (floor: [Double], ours: [Double])] = [:]
        let plan = [("1,000/s", 5_000, 1000), ("5,000/s", 15_000, 5000), ("burst", burst, 0)]
        for round in 1...rounds {
            for (label, n, rate) in plan {
                let f = try client.run(events: n, control: floorControl, request: rate > 0 ? "flood \(n) \(rate)" : "flood \(n)")
                let floorUs = f.cpuNs / 1000 / Double(n)
                let inline0 = MIBurst.statistic(port: miPort, "core:events_inline") ?? 0
                let o = try oursRun(pid: pid, control: control, n: n, rate: rate, commandCount: commandCount)
                // Events whose route ran on the box's I/O thread (the rest woke a worker); HEARTBEATs count too.
                let inline = Double((MIBurst.statistic(port: miPort, "core:events_inline") ?? 0) - inline0) / Double(n)
                sums[label, default: ([], [])].floor.append(floorUs)
                sums[label, default: ([], [])].ours.append(o.usPerEvent)
                print(String(format: "dtmf-vs-floor: round %d %@: floor %.1f µs/event (%.2f sleeps); ours %.1f µs/event (%.2f sleeps, %.0f %% inline, %d/%d back); "
                             + "ours - floor %.1f µs, ours / floor %.2f",
                             round, label, floorUs, Double(f.sleeps) / Double(n), o.usPerEvent, o.sleeps, inline * 100, o.got, n,
                             o.usPerEvent - floorUs, o.usPerEvent / floorUs))
            }
        }
        for (label, _, _) in plan {
            guard let s = sums[label] else { continue }
            let fm = s.floor.sorted()[s.floor.count / 2], om = s.ours.sorted()[s.ours.count / 2]
            print(String(format: "dtmf-vs-floor: %@ medians of %d rounds: floor %.1f, ours %.1f µs/event (ours - floor %.1f µs)",
                         label, rounds, fm, om, om - fm))
        }
    }

    /// CPU seconds of each thread of a process, by thread id (/proc/<pid>/task/<tid>/stat).
    static func threadCPU(_ pid: Int32) -> [String: Double] {
        let dir = "/proc/\(pid)/task"
        var out: [String: Double] = [:]
        let tick = Double(sysconf(Int32(_SC_CLK_TCK)))
        for tid in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            guard let text = try? String(contentsOfFile: "\(dir)/\(tid)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { continue }
            let f = text[text.index(after: close)...].split(separator: " ")
            guard f.count > 13, let u = Double(f[11]), let s = Double(f[12]) else { continue }
            out[tid] = (u + s) / tick
        }
        return out
    }

    /// Context switches of all the threads of a process (/proc/<pid>/task/*/status): voluntary ones are a thread
    /// going to sleep (each one later costs a wake-up), involuntary ones a thread preempted.
    static func contextSwitches(_ pid: Int32) -> (voluntary: Int, involuntary: Int) {
        let dir = "/proc/\(pid)/task"
        var v = 0, i = 0
        for tid in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            guard let text = try? String(contentsOfFile: "\(dir)/\(tid)/status", encoding: .utf8) else { continue }
            for line in text.split(separator: "\n") {
                if line.hasPrefix("voluntary_ctxt_switches:") { v += Int(line.split(separator: "\t").last ?? "") ?? 0 }
                if line.hasPrefix("nonvoluntary_ctxt_switches:") { i += Int(line.split(separator: "\t").last ?? "") ?? 0 }
            }
        }
        return (v, i)
    }

    /// utime + stime of a process, all threads (/proc/<pid>/stat fields 14 and 15), in seconds.
    static func processCPUSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return 0 }
        // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
        let f = text[text.index(after: close)...].split(separator: " ")
        guard f.count > 13, let u = Double(f[11]), let s = Double(f[12]) else { return 0 }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// A child process whose output is collected.
final class BenchProcess: @unchecked Sendable { // buffer guarded by lock
    let process = Process()
    private let pipe = Pipe()
    private let lock = NSLock()
    private var buffer = ""

    init(_ exe: String, _ args: [String], cwd: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = args
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.buffer += String(decoding: d, as: UTF8.self); self.lock.unlock()
        }
        try process.run()
    }

    var output: String { lock.lock(); defer { lock.unlock() }; return buffer }

    func waitFor(_ s: String, timeout: TimeInterval) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if output.contains(s) { return true }; usleep(10_000) }
        return false
    }

    func stop() {
        guard process.isRunning else { return }
        process.interrupt()
        let end = Date().addingTimeInterval(5)
        while process.isRunning && Date() < end { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// One persistent connection to the simulator's control port; one-line replies.
final class ControlChannel {
    let fd: Int32
    private var pending: [UInt8] = []

    init(port: Int) throws {
        fd = loopbackTCP(port: port)
        guard fd >= 0 else { throw BenchError("cannot connect to the control port \(port)") }
        // A stalled pipeline (flood blocked on TCP backpressure that never clears) is reported, not waited out.
        var tv = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends one command and returns its (first) reply line.
    func request(_ line: String) throws -> String {
        let bytes = Array((line + "\n").utf8)
        let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard sent == bytes.count else { throw BenchError("control channel closed") }
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            if let nl = pending.firstIndex(of: 0x0A) {
                let s = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeSubrange(...nl)
                return s
            }
            let n = recv(fd, &buf, buf.count, 0)
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw BenchError("no reply to '\(line)' within 60 s: the simulator is blocked writing events Switchyard does not read (stalled)")
            }
            guard n > 0 else { throw BenchError("control channel closed") }
            pending += buf[..<n]
        }
    }
}
