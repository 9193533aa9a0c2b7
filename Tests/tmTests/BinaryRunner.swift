// Copied from Tests/SwitchyardCoreTests/EndToEnd/BinaryRunner.swift (test targets share no code).
import Foundation
import XCTest

/// Starts the real `switchyard` executable of this build and reads its log as it is written.
final class BinaryRunner: @unchecked Sendable {  // buffer guarded by lock
    static var buildDirectory: URL {
        // The test bundle sits next to the executables and plugins of the same build.
        var url = Bundle(for: BinaryRunner.self).bundleURL
        while url.pathExtension == "xctest" || url.lastPathComponent == "Contents" || url.lastPathComponent == "MacOS" {
            url.deleteLastPathComponent()
        }
        return url
    }

    static var executable: String { buildDirectory.appendingPathComponent("switchyard").path }

    let process = Process()
    private let pipe = Pipe()
    private let lock = NSLock()
    private var buffer = ""

    init(args: [String], cwd: String? = nil) {
        process.executableURL = URL(fileURLWithPath: BinaryRunner.executable)
        process.arguments = args
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        process.standardError = pipe
        process.standardOutput = pipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self, !d.isEmpty else { return }
            self.lock.lock()
            self.buffer += String(decoding: d, as: UTF8.self)
            self.lock.unlock()
        }
    }

    func start() throws { try process.run() }

    var output: String {
        lock.lock()
        defer { lock.unlock() }
        return buffer
    }

    var lines: [String] { output.split(separator: "\n").map(String.init) }

    @discardableResult
    func waitFor(_ text: String, timeout: TimeInterval = 10) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if output.contains(text) { return true }
            usleep(10_000)
        }
        return false
    }

    /// Waits for exit; returns the status (or nil on timeout, after killing it).
    func wait(timeout: TimeInterval = 10) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { usleep(10_000) }
        if process.isRunning {
            process.interrupt()
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        usleep(50_000)  // let the last output arrive
        return process.terminationStatus
    }

    /// Runs to completion and returns (status, output).
    static func run(_ args: [String], cwd: String? = nil, timeout: TimeInterval = 20) throws -> (Int32?, String) {
        let r = BinaryRunner(args: args, cwd: cwd)
        try r.start()
        let s = r.wait(timeout: timeout)
        return (s, r.output)
    }
}

