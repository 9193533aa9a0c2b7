// One esl-simulator process driven over its control port (copied from the core tests).
import Foundation


/// One esl-simulator process, driven over its control port (one TCP connection per control command). Shared by the
/// FreeSWITCH tests.
public final class SimulatorProcess: @unchecked Sendable { // buffer guarded by lock
    public let process = Process()
    private let pipe = Pipe()
    private let lock = NSLock()
    private var buffer = ""
    public private(set) var port = 0
    public private(set) var controlPort = 0

    /// Starts it with `arguments` plus a control port and no stdin; returns once it listens.
    public init(arguments: [String]) throws {
        process.executableURL = BinaryRunner.buildDirectory.appendingPathComponent("esl-simulator")
        process.arguments = arguments + ["--control-port", "0", "--no-stdin"]
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            // EOF: a handler left set keeps its FileHandle (so the pipe's fd) open for the whole test run.
            if d.isEmpty { h.readabilityHandler = nil }
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.buffer += String(decoding: d, as: UTF8.self); self.lock.unlock()
        }
        try process.run()
        // esl-simulator: listening on 127.0.0.1:<port> control 127.0.0.1:<cport>
        var ports: [Int] = []
        let listening = waitUntil(timeout: 10) {
            guard let line = text.split(separator: "\n").first(where: { $0.contains("listening on") }) else { return false }
            ports = line.split(separator: " ").compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }
            return ports.count >= 2
        }
        if listening { self.port = ports[0]; self.controlPort = ports[1]; return }
        kill()
        throw NSError(domain: "esl-simulator", code: 1, userInfo: [NSLocalizedDescriptionKey: "did not start: \(text)"])
    }

    public var text: String { lock.lock(); defer { lock.unlock() }; return buffer }

    /// Sends one control line, returns the reply lines (`commands`/`calls`: all n+1 of them).
    public func control(_ line: String) throws -> [String] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "socket", code: Int(errno)) }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(controlPort).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { throw NSError(domain: "connect to control port \(controlPort)", code: Int(errno)) }
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var text = ""
        var buf = [UInt8](repeating: 0, count: 65536)
        let multi = ["commands", "calls"].contains(line.split(separator: " ").first.map(String.init) ?? "")
        let end = Date().addingTimeInterval(10)
        while Date() < end {
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0 { text += String(decoding: buf[0..<n], as: UTF8.self) } else if n == 0 { break }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            guard lines.count > 1, let first = lines.first else { continue }
            if multi, first.hasPrefix("+OK "), let count = Int(first.dropFirst(4)) {
                if lines.count - 1 >= count + 1 { return Array(lines[0...count]) }
                continue
            }
            return [first]
        }
        throw NSError(domain: "no control reply to '\(line)': \(text)", code: 2)
    }

    /// `stats` as a dictionary (port, running, connections, accepted, authed, commands, events_sent...).
    public func stats() -> [String: Int] {
        guard let line = try? control("stats").first, line.hasPrefix("+OK ") else { return [:] }
        var out: [String: Int] = [:]
        for kv in line.dropFirst(4).split(separator: " ") {
            let p = kv.split(separator: "=", maxSplits: 1)
            if p.count == 2, let v = Int(p[1]) { out[String(p[0])] = v }
        }
        return out
    }

    /// The ESL commands received so far as (connection id, line).
    /// Whether a connection sent a command line starting with `prefix` within `timeout` (e.g. the subscription).
    public func waitForCommand(_ prefix: String, timeout: TimeInterval = 5) -> Bool {
        waitUntil(timeout: timeout) { (try? commandLines().contains { $0.line.hasPrefix(prefix) }) ?? false }
    }

    public func commandLines() throws -> [(conn: String, line: String)] {
        try control("commands").dropFirst().compactMap { l in
            guard let sp = l.firstIndex(of: " ") else { return nil }
            return (String(l[..<sp]), String(l[l.index(after: sp)...]))
        }
    }

    public func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { kill() }
}

extension SimulatorProcess {
    /// A simulator on a free ESL port, with extra command-line options.
    public convenience init(_ extra: [String] = []) throws {
        try self.init(arguments: ["--port", "0"] + extra)
    }

    public var runner: Process { process }

    /// Asks it to quit, then kills it if it has not within 5 s.
    public func stop() {
        _ = try? control("quit")
        waitUntil(timeout: 5) { !process.isRunning }
        kill()
    }
}

extension SimulatorProcess {
    /// Places a call (CHANNEL_CREATE, CHANNEL_ANSWER, one DTMF per digit); returns its UUID.
    public func call(_ dest: String, _ digits: String) throws -> String {
        let r = try control("call \(dest) \(digits)")
        guard let first = r.first, first.hasPrefix("+OK ") else { throw NSError(domain: "call failed: \(r)", code: 3) }
        return String(first.dropFirst(4))
    }

    /// The ESL commands received so far, without the connection id.
    public func commands() throws -> [String] { try commandLines().map(\.line) }
}
