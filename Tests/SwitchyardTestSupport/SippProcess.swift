// One sipp process for the end-to-end tests, its output in files of a work directory (sipp writes a lot; no pipe to
// fill up).
import Foundation

/// A sipp process (UAC or UAS): screen output, statistics and, when asked, the error log and the message trace go to
/// files named after it in `dir`.
public final class SippProcess: @unchecked Sendable { // fields immutable after init; results are read from its files
    public let process = Process()
    public let name: String
    public let dir: String
    public var screenPath: String { "\(dir)/\(name).out" }
    public var errorPath: String { "\(dir)/\(name)_err.log" }
    public var statPath: String { "\(dir)/\(name).csv" }
    public var tracePath: String { "\(dir)/\(name)_msg.log" }

    /// Starts `sipp` with `args` plus no stdin and the statistics file; `traceErrors` adds the error log,
    /// `traceMessages` the trace of every message sent and received.
    public init(sipp: String, name: String, dir: String, args: [String], traceErrors: Bool = true,
                traceMessages: Bool = true) throws {
        self.name = name
        self.dir = dir
        process.executableURL = URL(fileURLWithPath: sipp)
        process.currentDirectoryURL = URL(fileURLWithPath: dir)
        var files = ["-nostdin"]
        if traceErrors { files += ["-trace_err", "-error_file", errorPath] }
        files += ["-trace_stat", "-stf", statPath, "-fd", "1"]
        if traceMessages { files += ["-trace_msg", "-message_file", tracePath] }
        process.arguments = args + files
        _ = FileManager.default.createFile(atPath: screenPath, contents: nil)
        let out = FileHandle(forWritingAtPath: screenPath)
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    /// SIGTERM, then SIGKILL after 3 s; waits (bounded: never hang a test run on a lost child) for the exit.
    public func stop() {
        if process.isRunning { process.terminate() }
        waitUntil(timeout: 3) { !process.isRunning }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            waitUntil(timeout: 3) { !process.isRunning }
        }
    }

    /// Waits for exit; nil on timeout (then stopped).
    public func wait(timeout: TimeInterval) -> Int32? {
        waitUntil(timeout: timeout, poll: 0.02) { !process.isRunning }
        if process.isRunning { stop(); return nil }
        return process.terminationStatus
    }

    /// The last cumulative value of a column of the -trace_stat file ("SuccessfulCall(C)", "FailedCall(C)").
    public func stat(_ column: String) -> Int? {
        guard let text = try? String(contentsOfFile: statPath, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        guard lines.count >= 2 else { return nil }
        let header = lines[0].split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        let last = lines[lines.count - 1].split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        guard let i = header.firstIndex(of: column), i < last.count else { return nil }
        return Int(last[i].trimmingCharacters(in: .whitespaces))
    }

    /// Screen output so far.
    public var screen: String { (try? String(contentsOfFile: screenPath, encoding: .utf8)) ?? "" }

    /// The error log so far (empty without `traceErrors`).
    public var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    /// The trace: every message sent and received (empty without `traceMessages`).
    public var trace: String { (try? String(contentsOfFile: tracePath, encoding: .utf8)) ?? "" }

    /// How many received messages start with `firstLine` (e.g. "INVITE ", "CANCEL ", "SIP/2.0 503").
    public func received(_ firstLine: String) -> Int {
        trace.components(separatedBy: "message received").dropFirst().filter { block in
            let lines = block.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            return lines.first(where: { !$0.isEmpty && !$0.hasPrefix("[") && !$0.hasSuffix(":") && !$0.hasPrefix("bytes") })?
                .hasPrefix(firstLine) ?? false
        }.count
    }
}

extension SippProcess {
    /// A sipp process with screen, errors and statistics in files, without the message trace.
    public static func untraced(sipp: String, name: String, dir: String, args: [String]) throws -> SippProcess {
        try SippProcess(sipp: sipp, name: name, dir: dir, args: args, traceMessages: false)
    }

    /// Screen output (final statistics) and error log, for failure messages.
    public var screenAndErrors: String {
        "--- sipp \(name) (\(process.arguments?.joined(separator: " ") ?? "")) screen (tail):\n"
            + String(screen.suffix(2500)) + "\n--- sipp \(name) errors (head):\n" + String(errors.prefix(4000))
    }

    /// Screen, errors and, when traced, the end of the message trace, for failure messages.
    public var report: String {
        let trace = self.trace
        return screenAndErrors + (trace.isEmpty ? "" : "\n--- sipp \(name) trace (tail):\n" + String(trace.suffix(3000)))
    }
}
