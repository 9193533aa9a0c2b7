// Small helpers copied from SwitchyardCoreTests (a test target cannot import another): an in-process server on a
// config, the esl-simulator process, the sqlite3 CLI, UDP sockets and ports, sipp.
import Foundation
import XCTest
import Synchronization
import SwitchyardJSON
@testable import SwitchyardCore
import SwitchyardTestSupport
#if canImport(Glibc)
import Glibc
#endif

enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let schema = root.appendingPathComponent("Plugins/dispatcher/schema/sqlite.sql").path
    static func sip(_ name: String) -> String { root.appendingPathComponent("Tests/SIP/\(name)").path }

    /// Where the executables and plugins of this build are (next to the test bundle).
    static var buildDirectory: URL {
        var url = Bundle(for: Server.self).bundleURL
        if url.pathExtension != "xctest" { url = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").deletingLastPathComponent() }
        while url.pathExtension == "xctest" || url.lastPathComponent == "Contents" || url.lastPathComponent == "MacOS" {
            url.deleteLastPathComponent()
        }
        if !FileManager.default.fileExists(atPath: url.appendingPathComponent("switchyard").path) {
            // The test bundle's own location: .build/<config>/dispatcherTests.xctest
            url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug")
        }
        return url
    }

    static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }
}

/// A whole Server on a config written to a temporary file, with its log captured.
final class Harness: @unchecked Sendable { // immutable fields; the server, its MI and the log collector are thread-safe
    let collector = LogCollector()
    let server: Server
    let path: String

    /// `environment`: the server's own (the resolver's test hooks), instead of the test process's.
    init(_ config: String, environment: [String: String] = ProcessInfo.processInfo.environment) {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("ds-\(UUID().uuidString).cfg").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(config.utf8))
        server = Server(configPath: path, logSink: .collector(collector), environment: environment)
    }

    func prepare(workers: Int = 2) -> [String] {
        let diags = DiagnosticBag()
        let ast = Parser.parse(path: path, diagnostics: diags)
        if diags.hasErrors { return diags.errors.map(\.description) }
        do { try server.prepare(ast: ast, checkOnly: false, workersOverride: workers); return [] } catch {
            return error.diagnostics.map(\.description)
        }
    }

    func start() throws { try server.start() }

    /// Prepares (failing the test with every diagnostic and the log if the config is refused) and starts.
    func prepareAndStart(file: StaticString = #filePath, line: UInt = #line) throws {
        let errs = prepare()
        XCTAssertEqual(errs, [], log, file: file, line: line)
        guard errs.isEmpty else { throw NSError(domain: "prepare", code: 1) }
        try start()
    }
    func stop() { server.stop() }
    var messages: [String] { collector.messages }
    var log: String { messages.joined(separator: "\n") }

    func mi(_ method: String, _ params: String = "{}") -> JSONValue? {
        server.mi.dispatcher.response(toText: #"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Polls `cond` until it holds or `timeout` passes.
@discardableResult
func waitUntil(_ timeout: TimeInterval, _ cond: () -> Bool) -> Bool {
    SwitchyardTestSupport.waitUntil(timeout: timeout, cond)
}

enum SQLiteCLI {
    @discardableResult
    static func run(_ path: String, _ sql: String) throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sqlite3", path]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        p.standardInput = input; p.standardOutput = output; p.standardError = errors
        try p.run()
        input.fileHandleForWriting.write(Data(sql.utf8))
        try input.fileHandleForWriting.close()
        let out = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus != 0 { throw NSError(domain: "sqlite3", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: err]) }
        return out.split(separator: "\n").map(String.init)
    }

    /// A new database with the dispatcher schema and `sql` applied.
    static func database(_ sql: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ds-\(UUID().uuidString).db").path
        try run(path, (try String(contentsOfFile: Repo.schema, encoding: .utf8)) + "\n" + sql)
        return path
    }
}

/// Ports of this test target: kernel-assigned (LocalPorts.freePorts), free for UDP and TCP a moment ago, each handed
/// out once per process (a test's peers never get the same one).
enum Ports {
    private static let given = Mutex(Set<Int>())
    static func udp() -> Int {
        given.withLock { g in
            let p = LocalPorts.freePorts(1, avoid: g)[0]
            g.insert(p)
            return p
        }
    }

    /// True when anything is bound to the port, UDP or TCP (read from the kernel's tables: see LocalPorts.inUse).
    static func inUse(_ port: Int) -> Bool { LocalPorts.inUse(port) || LocalPorts.inUse(port, tcp: true) }
}

extension UDPSocket {
    /// Sends a SIP request to the server and returns the status line of its reply (nil if none within 3 s).
    func request(server: Int, method: String = "OPTIONS", user: String = "1000", callID: String = UUID().uuidString,
                 from: String = "sip:alice@127.0.0.1", extra: String = "") -> String? {
        let msg = "\(method) sip:\(user)@127.0.0.1:\(server) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(port);branch=z9hG4bK\(UUID().uuidString.prefix(8))\r\n"
            + "Max-Forwards: 70\r\nFrom: <\(from)>;tag=t1\r\nTo: <sip:\(user)@127.0.0.1>\r\nCall-ID: \(callID)\r\nCSeq: 1 \(method)\r\n"
            + extra + "Content-Length: 0\r\n\r\n"
        send(msg, to: server)
        let end = Date().addingTimeInterval(3)
        while Date() < end {
            guard let (text, _) = receive(), text.contains(callID) else { continue }
            return text.components(separatedBy: "\r\n").first
        }
        return nil
    }
}

/// A tiny UDP "destination": answers every request with `code` (0 = silence), counts what it received.
final class Responder: @unchecked Sendable { // state in atomics / mutex
    let udp: UDPSocket
    let code = Atomic<Int>(200)
    let received = Atomic<Int>(0)
    let methods = Mutex<[String]>([])
    /// Source ports of the requests received.
    let sourcePorts = Mutex<[Int]>([])
    /// Call-ID and arrival time of each request received (retransmissions too).
    let arrivals = Mutex<[(callID: String, at: ContinuousClock.Instant)]>([])
    private let running = Atomic<Bool>(true)
    private let stopped = DispatchSemaphore(value: 0)
    var port: Int { udp.port }

    init(answer: Int, port: Int = 0) throws {
        udp = try UDPSocket(port: port)
        code.store(answer, ordering: .relaxed)
        let t = Thread { [self] in
            while running.load(ordering: .relaxed) {
                guard let (text, from) = udp.receive() else { continue }
                let lines = text.components(separatedBy: "\r\n")
                guard let first = lines.first, !first.hasPrefix("SIP/2.0") else { continue }
                received.add(1, ordering: .relaxed)
                methods.withLock { $0.append(String(first.prefix { $0 != " " })) }
                sourcePorts.withLock { $0.append(Int(UInt16(bigEndian: from.sin_port))) }
                let callID = lines.first { $0.lowercased().hasPrefix("call-id:") }.map { String($0.dropFirst(8)).trimmingCharacters(in: .whitespaces) } ?? ""
                arrivals.withLock { $0.append((callID, ContinuousClock.now)) }
                let c = code.load(ordering: .relaxed)
                if c == 0 { continue }
                var reply = "SIP/2.0 \(c) Answer\r\n"
                for l in lines {
                    let lower = l.lowercased()
                    if lower.hasPrefix("via:") || lower.hasPrefix("from:") || lower.hasPrefix("call-id:") || lower.hasPrefix("cseq:") { reply += l + "\r\n" }
                    if lower.hasPrefix("to:") { reply += l + ";tag=r\r\n" }
                }
                reply += "Content-Length: 0\r\n\r\n"
                var to = from
                udp.send(reply, to: &to)
            }
            stopped.signal()
        }
        t.start()
    }

    func stop() {
        if running.exchange(false, ordering: .relaxed) { _ = stopped.wait(timeout: .now() + 2) }
    }

    deinit { stop() }
}

/// One esl-simulator process, driven over its control port.
final class Simulator: @unchecked Sendable { // buffer guarded by lock
    let process = Process()
    private let pipe = Pipe()
    private let lock = NSLock()
    private var buffer = ""
    private(set) var port = 0
    private(set) var controlPort = 0

    init(_ extra: [String]) throws {
        process.executableURL = Repo.buildDirectory.appendingPathComponent("esl-simulator")
        process.arguments = ["--port", "0"] + extra + ["--control-port", "0", "--no-stdin"]
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
        let ok = waitUntil(10) {
            lock.lock(); defer { lock.unlock() }
            guard let line = buffer.split(separator: "\n").first(where: { $0.contains("listening on") }) else { return false }
            let ports = line.split(separator: " ").compactMap { $0.split(separator: ":").last.flatMap { Int($0) } }
            if ports.count >= 2 { port = ports[0]; controlPort = ports[1]; return true }
            return false
        }
        if !ok { kill(); throw NSError(domain: "esl-simulator did not start", code: 1) }
    }

    /// One control line; the first reply line.
    @discardableResult
    func control(_ line: String) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var addr = UDPSocket.loopback(port: controlPort)
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { return nil }
        var tv = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var text = ""
        var buf = [UInt8](repeating: 0, count: 4096)
        let end = Date().addingTimeInterval(5)
        while Date() < end {
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0 { text += String(decoding: buf[0..<n], as: UTF8.self) } else if n == 0 { break }
            if let nl = text.firstIndex(of: "\n") { return String(text[..<nl]) }
        }
        return text.isEmpty ? nil : text
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { kill() }
}

/// A sipp process (UAS or UAC) whose output is kept.
final class Sipp: @unchecked Sendable { // buffer guarded by lock
    let process = Process()
    private let pipe = Pipe()
    private let lock = NSLock()
    private var buffer = ""

    init(_ args: [String], cwd: String) throws {
        guard let sipp = Repo.which("sipp") else { throw XCTSkip("sipp is not on PATH (Debian: sip-tester)") }
        process.executableURL = URL(fileURLWithPath: sipp)
        process.arguments = args
        process.currentDirectoryURL = URL(fileURLWithPath: cwd)
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            // EOF: a handler left set keeps its FileHandle (so the pipe's fd) open for the whole test run.
            if d.isEmpty { h.readabilityHandler = nil }
            guard let self, !d.isEmpty else { return }
            self.lock.lock(); self.buffer += String(decoding: d, as: UTF8.self); self.lock.unlock()
        }
        try process.run()
    }

    var output: String { lock.lock(); defer { lock.unlock() }; return buffer }

    /// A UAS (uas.xml) on 127.0.0.1:port, running in the background.
    static func uas(port: Int, cwd: String) throws -> Sipp {
        let s = try Sipp(["-sf", Repo.sip("uas.xml"), "-i", "127.0.0.1", "-p", String(port), "-nostdin"], cwd: cwd)
        _ = waitUntil(10) { Ports.inUse(port) }
        return s
    }

    /// A UAC run of `calls` calls at `rate` calls/s to the proxy; returns the exit status (0: every call succeeded).
    static func uac(proxy: Int, calls: Int, rate: Int, cwd: String, timeout: TimeInterval = 60) throws -> (Int32, String) {
        let p = Ports.udp()
        let s = try Sipp(["-sf", Repo.sip("uac.xml"), "-s", "1000", "-i", "127.0.0.1", "-p", String(p), "127.0.0.1:\(proxy)",
                          "-m", String(calls), "-r", String(rate), "-l", String(max(calls, 10)), "-nostdin", "-timeout", "\(Int(timeout))s",
                          "-recv_timeout", "5000", "-timeout_error"], cwd: cwd)
        waitUntil(timeout + 10) { !s.process.isRunning }
        if s.process.isRunning { s.process.terminate(); s.process.waitUntilExit() }
        return (s.process.terminationStatus, s.output)
    }

    func stop() {
        if process.isRunning { process.terminate(); process.waitUntilExit() }
    }
}
