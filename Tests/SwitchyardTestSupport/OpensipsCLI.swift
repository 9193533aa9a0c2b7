// The real opensips-cli (PyPI `opensipscli`, installed by .ci/run) as the MI transports' independent client.
import Foundation
import XCTest

public enum OpensipsCLI {
    public struct Result { public var status: Int32; public var out: String; public var err: String }

    /// opensips-cli from PATH; a missing one fails the test (CI installs it: `pip install opensipscli`).
    public static func path(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        if let p = LocalPorts.which("opensips-cli") { return p }
        XCTFail("opensips-cli is not on PATH: install it with `pip install opensipscli` (.ci/run does)", file: file, line: line)
        throw XCTSkip("opensips-cli missing")
    }

    /// Writes `dir/cli.cfg`, which points opensips-cli at the mi_fifo FIFO `dir/fifo` (replies in `dir`, output as
    /// JSON), and returns its path: the `cfg` of `run` and `json`.
    public static func fifoConfig(dir: String) throws -> String {
        let cfg = "\(dir)/cli.cfg"
        try """
            [default]
            communication_type = fifo
            fifo_file = \(dir)/fifo
            fifo_file_fallback = \(dir)/fifo
            fifo_reply_dir = \(dir)
            output_type = pretty-print

            """.write(toFile: cfg, atomically: true, encoding: .utf8)
        return cfg
    }

    /// Runs `opensips-cli -f cfg -x mi args...`; its exit status and output.
    public static func run(_ cfg: String, _ args: [String]) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try path())
        p.arguments = ["-f", cfg, "-x", "mi"] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }

    /// Runs `mi args...` (output_type pretty-print: JSON), checks it succeeded and parses stdout.
    public static func json(_ cfg: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Any? {
        let r = try run(cfg, args)
        XCTAssertEqual(r.status, 0, "mi \(args.joined(separator: " ")): \(r.out) \(r.err)", file: file, line: line)
        return try? JSONSerialization.jsonObject(with: Data(r.out.utf8), options: [.fragmentsAllowed])
    }
}
