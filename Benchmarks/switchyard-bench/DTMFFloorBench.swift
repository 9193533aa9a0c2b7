import Foundation

/// `switchyard-bench dtmf-floor`: the least CPU the DTMF scenario's I/O can cost on this machine. A bare client on the
/// `esl-simulator` does per event only what the scenario must do on the wire — wait for the event, read it, send
/// `bgapi uuid_transfer <Unique-ID> -aleg 1001`, wait for and read the reply — with no script, no JSON parse and no
/// other thread: the CPU of that one thread per event (CLOCK_THREAD_CPUTIME_ID) and its sleeps, at the rates of
/// `dtmf-cpu` (1,000/s, 5,000/s, burst). What `dtmf-cpu` shows above this figure is Switchyard's own work.
extension Bench {
    static func dtmfFloor(burst: Int) throws {
        let (sim, eslPort, controlPort) = try startSimulator()
        defer { sim.stop() }
        let client = try FloorClient(port: eslPort)
        try client.command("auth ClueCon")
        try client.command("event json DTMF")
        print("dtmf-floor: one client thread: wait, recv the event, send bgapi, wait, recv the reply (no script)")
        _ = try client.run(events: 2000, control: controlPort, request: "flood 2000") // warm-up
        for (label, n, rate) in [("1,000/s", 10_000, 1000), ("5,000/s", 25_000, 5000), ("burst", burst, 0)] {
            let r = try client.run(events: n, control: controlPort, request: rate > 0 ? "flood \(n) \(rate)" : "flood \(n)")
            print(String(format: "dtmf-floor: %@: %d events; client thread CPU %.1f µs/event, sleeps %.2f/event, %.2f recv + %.2f send calls/event",
                         label, n, r.cpuNs / 1000 / Double(n), Double(r.sleeps) / Double(n), Double(r.recvs) / Double(n),
                         Double(r.sends) / Double(n)))
        }
    }
}

/// A blocking ESL client reduced to the scenario's I/O (frames split by hand: headers, blank line, Content-Length).
final class FloorClient {
    let fd: Int32
    private var buf: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 65536)
    private(set) var recvs = 0
    private(set) var sends = 0

    init(port: Int) throws {
        fd = loopbackTCP(port: port)
        guard fd >= 0 else { throw BenchError("cannot connect to the simulator on \(port)") }
        guard let greeting = try frame(), greeting.headers.contains("auth/request") else { throw BenchError("no auth/request") }
    }

    deinit { close(fd) }

    /// Events read while waiting for a reply, handled next.
    private var early: [(headers: String, body: ArraySlice<UInt8>)] = []

    /// Sends a command and returns its reply's headers (the events before it are kept for later).
    @discardableResult
    func command(_ line: String) throws -> String {
        send(line)
        while let f = try frame() {
            if f.headers.contains("command/reply") || f.headers.contains("api/response") { return f.headers }
            early.append(f)
        }
        throw BenchError("connection closed")
    }

    private func send(_ line: String) {
        let bytes = Array((line + "\n\n").utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        sends += 1
    }

    /// Where the unread frames start in `buf` (consumed bytes are dropped once they are half of it).
    private var head = 0

    /// The next frame: blocks in poll() (a thread sleep) when no complete frame is buffered.
    private func frame() throws -> (headers: String, body: ArraySlice<UInt8>)? {
        while true {
            if let end = headerEnd() {
                let headers = String(decoding: buf[head..<end], as: UTF8.self)
                var length = 0
                if let r = headers.range(of: "Content-Length: ") {
                    length = Int(headers[r.upperBound...].prefix(while: { $0.isNumber })) ?? 0
                }
                if buf.count >= end + 2 + length {
                    let body = buf[(end + 2)..<(end + 2 + length)]
                    head = end + 2 + length
                    return (headers, body)
                }
            }
            if head > 0 && head >= buf.count / 2 { buf.removeSubrange(..<head); head = 0 }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 60_000)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            recvs += 1
            guard n > 0 else { return nil }
            buf += chunk[..<n]
        }
    }

    private func headerEnd() -> Int? {
        var i = head
        while i + 1 < buf.count {
            if buf[i] == 0x0A && buf[i + 1] == 0x0A { return i }
            i += 1
        }
        return nil
    }

    /// Handles `events` DTMF events (asked for by `request` on the control port, from another thread: a flood request
    /// returns only once the events are written) and returns this thread's CPU and sleeps meanwhile.
    func run(events: Int, control: Int, request: String) throws -> (cpuNs: Double, sleeps: Int, recvs: Int, sends: Int) {
        let starter = Thread {
            do { _ = try ControlChannel(port: control).request(request) } catch { FileHandle.standardError.write("dtmf-floor: \(error)\n".data(using: .utf8)!) }
        }
        let cpu0 = Self.threadCPUNs(), sleeps0 = Self.threadSleeps(), r0 = recvs, s0 = sends
        starter.start()
        var handled = 0
        while handled < events {
            guard let f = early.isEmpty ? try frame() : early.removeFirst() else { throw BenchError("connection closed") }
            guard f.headers.contains("text/event-json") else { continue }
            let uuid = Self.uniqueID(f.body) ?? "none"
            try command("bgapi uuid_transfer \(uuid) -aleg 1001")
            handled += 1
        }
        return (Self.threadCPUNs() - cpu0, Self.threadSleeps() - sleeps0, recvs - r0, sends - s0)
    }

    /// `"Unique-ID":"…"` of the event body, by a plain search.
    static func uniqueID(_ body: ArraySlice<UInt8>) -> String? {
        let key = Array("\"Unique-ID\":\"".utf8)
        guard body.count > key.count else { return nil }
        var i = body.startIndex
        while i <= body.endIndex - key.count {
            if body[i] == key[0] && body[i..<(i + key.count)].elementsEqual(key) {
                let s = i + key.count
                guard let e = body[s...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
                return String(decoding: body[s..<e], as: UTF8.self)
            }
            i += 1
        }
        return nil
    }

    static func threadCPUNs() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) * 1e9 + Double(ts.tv_nsec)
    }

    /// Voluntary context switches of the calling thread (/proc/thread-self/status).
    static func threadSleeps() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/thread-self/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("voluntary_ctxt_switches:") }) else { return 0 }
        return Int(line.split(separator: "\t").last ?? "") ?? 0
    }
}
