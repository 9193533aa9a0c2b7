import Foundation
import XCTest
import SwitchyardTestSupport

/// The real opensips-cli talking to switchyard's mi_fifo, for the tests of tm's MI commands.
extension TMTestCase {
    /// The config lines that load mi_fifo on the work directory's FIFO.
    var miFifo: String {
        """
        loadmodule "mi_fifo.so"
        modparam("mi_fifo", "fifo_name", "\(workDir)/fifo")
        modparam("mi_fifo", "reply_dir", "\(workDir)/")
        """
    }

    /// An opensips-cli config for that FIFO (JSON output); returns its path.
    func cliConfig() throws -> String { try OpensipsCLI.fifoConfig(dir: workDir) }

    /// Starts `opensips-cli -x mi args...`; `finish` waits for it and returns (status, output).
    func start(_ cfg: String, _ args: [String]) throws -> (Process, Pipe) {
        guard let path = Self.which("opensips-cli") else { throw XCTSkip("opensips-cli is not on PATH (pip install opensipscli)") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = ["-f", cfg, "-x", "mi"] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try p.run()
        return (p, out)
    }

    func finish(_ r: (Process, Pipe)) -> (Int32, String) {
        let data = r.1.fileHandleForReading.readDataToEndOfFile()
        r.0.waitUntilExit()
        return (r.0.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func cli(_ cfg: String, _ args: [String]) throws -> (Int32, String) { finish(try start(cfg, args)) }
}

extension TMTestCase {
    static func fifoRequest(dir: String, body: String, name: String, timeout: Double) -> String? {
        MIFifoClient.request(dir: dir, body: Array(body.utf8), name: name, timeout: timeout)
    }
}

/// Replies of concurrent FIFO clients, by index.
final class FifoReplies: @unchecked Sendable { // guarded by lock
    private let lock = NSCondition()
    private var values: [String?]
    private var done = 0
    init(_ n: Int) { values = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ v: String?) { lock.lock(); values[i] = v; done += 1; lock.broadcast(); lock.unlock() }
    func get(_ i: Int) -> String? { lock.lock(); defer { lock.unlock() }; return values[i] }
    func wait(timeout: Double) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        lock.lock(); defer { lock.unlock() }
        while done < values.count { if !lock.wait(until: end) { return false } }
        return true
    }
}
