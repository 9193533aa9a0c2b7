import Foundation
import XCTest

/// Paths of the repository and of this build, found from this file and from the test bundle.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func path(_ relative: String) -> String { root.appendingPathComponent(relative).path }

    /// The test bundle sits next to the executables and plugins of the same build.
    static var buildDirectory: String {
        var url = Bundle(for: ServerProcess.self).bundleURL
        while url.pathExtension == "xctest" { url.deleteLastPathComponent() }
        return url.path
    }
}

/// A fresh temporary folder, outside the repository, removed when the test ends.
func temporaryFolder(_ test: XCTestCase, _ name: String) throws -> String {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("sy-authoring-\(name)-\(getpid())-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
    return d
}

struct CommandResult {
    let status: Int32
    let output: String
}

/// Runs a command to completion (stdout and stderr together); kills it after `timeout` seconds.
@discardableResult
func command(_ args: [String], cwd: String? = nil, env: [String: String] = [:], timeout: TimeInterval = 60,
         stdin: String? = nil) throws -> CommandResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    // Output goes to a file, not a pipe: a chatty `swift build` cannot fill a pipe nobody reads yet.
    let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("sy-authoring-out-\(UUID().uuidString)").path
    guard FileManager.default.createFile(atPath: tmp, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
    defer { try? FileManager.default.removeItem(atPath: tmp) }
    guard let sink = FileHandle(forWritingAtPath: tmp) else { throw CocoaError(.fileNoSuchFile) }
    p.standardOutput = sink
    p.standardError = sink
    let input = Pipe()
    p.standardInput = stdin == nil ? FileHandle.nullDevice : input
    try p.run()
    if let stdin {
        input.fileHandleForWriting.write(Data(stdin.utf8))
        try input.fileHandleForWriting.close()
    }
    let end = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < end { usleep(20_000) }
    let timedOut = p.isRunning
    if timedOut {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }
    try sink.close()
    let text = (try? String(contentsOfFile: tmp, encoding: .utf8)) ?? ""
    return CommandResult(status: timedOut ? -1 : p.terminationStatus, output: timedOut ? text + "\n(killed after \(Int(timeout)) s)" : text)
}

/// The real `switchyard` binary of this build on a config file, its output captured.
final class ServerProcess: @unchecked Sendable {  // buffer guarded by lock
    let process = Process()
    private let pipe = Pipe()
    private let lock = NSLock()
    private var buffer = ""

    init(config: String, folder: String) throws {
        let cfg = "\(folder)/switchyard.cfg"
        try config.write(toFile: cfg, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "\(Repo.buildDirectory)/switchyard")
        process.arguments = ["-f", cfg]
        process.standardOutput = pipe
        process.standardError = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            // EOF: a handler left set keeps its FileHandle (so the pipe's fd) open for the whole test run.
            if d.isEmpty { h.readabilityHandler = nil }
            guard let self, !d.isEmpty else { return }
            self.lock.lock()
            self.buffer += String(decoding: d, as: UTF8.self)
            self.lock.unlock()
        }
        try process.run()
    }

    var output: String {
        lock.lock()
        defer { lock.unlock() }
        return buffer
    }

    /// Waits until the output contains `text` (or the process ended).
    @discardableResult
    func waitFor(_ text: String, timeout: TimeInterval = 20) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if output.contains(text) { return true }
            if !process.isRunning { return output.contains(text) }
            usleep(10_000)
        }
        return false
    }

    /// SIGTERM, then waits for a clean exit (SIGKILL after 10 s).
    @discardableResult
    func stop() -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        let end = Date().addingTimeInterval(10)
        while process.isRunning && Date() < end { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }
}

/// opensips-cli from PATH (CI installs it: `pip install opensipscli`); a missing one fails the test.
func opensipsCLI(file: StaticString = #filePath, line: UInt = #line) throws -> String {
    for d in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let p = "\(d)/opensips-cli"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    XCTFail("opensips-cli is not on PATH: install it with `pip install opensipscli` (.ci/run does)", file: file, line: line)
    throw XCTSkip("opensips-cli missing")
}

/// A TCP port on 127.0.0.1 that nobody listened on a moment ago: bound to port 0 (the kernel picks it), then
/// released. (This target does not depend on SwitchyardTestSupport's LocalPorts.)
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return 0 }
    defer { close(fd) }
    var sa = sockaddr_in()
    sa.sin_family = sa_family_t(AF_INET)
    sa.sin_addr.s_addr = inet_addr("127.0.0.1")
    sa.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    guard withUnsafePointer(to: &sa, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }) == 0,
          withUnsafeMutablePointer(to: &sa, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }) == 0
    else { return 0 }
    return Int(UInt16(bigEndian: sa.sin_port))
}
