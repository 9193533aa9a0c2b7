// The real `switchyard` executable of this build, started with a config (copied from the core tests).
import Foundation


/// Starts the real `switchyard` executable of this build and reads its log as it is written.
public final class BinaryRunner: @unchecked Sendable {  // buffer guarded by lock
    public static var buildDirectory: URL {
        // The test bundle (this process) sits next to the executables and plugins of the same build.
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: exe)
        repeat { url.deleteLastPathComponent() } while url.pathComponents.contains(where: { $0.hasSuffix(".xctest") })
        return url
    }

    public static var executable: String { buildDirectory.appendingPathComponent("switchyard").path }

    public let process = Process()
    private let pipe = Pipe()
    private let lock = NSLock()
    private var buffer = ""
    private var outputClosed = false

    public init(args: [String], cwd: String? = nil, env: [String: String] = [:]) {
        process.executableURL = URL(fileURLWithPath: BinaryRunner.executable)
        process.arguments = args
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        if !env.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(env) { $1 } }
        process.standardError = pipe
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            // EOF: a handler left set keeps its FileHandle (so the pipe's fd) open for the whole test run.
            if d.isEmpty { h.readabilityHandler = nil }
            guard let self else { return }
            self.lock.lock()
            if d.isEmpty { self.outputClosed = true } else { self.buffer += String(decoding: d, as: UTF8.self) }
            self.lock.unlock()
        }
    }

    public func start() throws { try process.run() }

    public var output: String {
        lock.lock()
        defer { lock.unlock() }
        return buffer
    }

    public var lines: [String] { output.split(separator: "\n").map(String.init) }

    @discardableResult
    public func waitFor(_ text: String, timeout: TimeInterval = 10) -> Bool {
        waitUntil(timeout: timeout) { output.contains(text) }
    }

    /// Waits for the server's " ready: " line (not "ready" alone, which "Address already in use" contains) or its exit;
    /// true when it is ready.
    @discardableResult
    public func waitForReady(timeout: TimeInterval = 10) -> Bool {
        waitUntil(timeout: timeout) { output.contains(" ready: ") || !process.isRunning }
        return output.contains(" ready: ")
    }

    /// Waits for exit; returns the status (or nil on timeout, after killing it).
    public func wait(timeout: TimeInterval = 10) -> Int32? {
        waitUntil(timeout: timeout) { !process.isRunning }
        if process.isRunning {
            process.interrupt()
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        // The last output has arrived once the pipe reports end of file (every writer, children too, has closed it).
        waitUntil(timeout: 5) { lock.lock(); defer { lock.unlock() }; return outputClosed }
        return process.terminationStatus
    }

    /// Runs to completion and returns (status, output).
    public static func run(_ args: [String], cwd: String? = nil, env: [String: String] = [:], timeout: TimeInterval = 20) throws -> (Int32?, String) {
        let r = BinaryRunner(args: args, cwd: cwd, env: env)
        try r.start()
        let s = r.wait(timeout: timeout)
        return (s, r.output)
    }
}

public func writeTemp(_ text: String, ext: String = "cfg") -> String {
    let p = FileManager.default.temporaryDirectory.appendingPathComponent("sy-\(UUID().uuidString).\(ext)").path
    _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
    return p
}
