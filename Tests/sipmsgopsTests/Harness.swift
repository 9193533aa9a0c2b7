import Foundation
import XCTest
import SwitchyardTestSupport

/// What the sipmsgops tests share: sipp peers around switchyard (`SippTestCase`), the scenarios of Tests/SIP/sipmsgops
/// (then Tests/SIP/tm, Tests/SIP), a config head, the messages a sipp peer received, and startup checks.
class MsgOpsTestCase: SippTestCase {
    override class var workDirPrefix: String { "sy-msgops" }

    override class func scenario(_ name: String) -> String {
        // Ours, then tm's (CANCEL, 486 ...), then the shared ones.
        for dir in ["Tests/SIP/sipmsgops", "Tests/SIP/tm"] {
            let path = Repo.root.appendingPathComponent(dir).appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return Repo.sipScenario(name)
    }

    /// One UDP socket, the module path of this build, proto_udp and sipmsgops (plus `extra` lines).
    static func config(port: Int, extra: String = "") -> String {
        """
        log_level = 3
        udp_workers = 2
        socket = udp:127.0.0.1:\(port)
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "proto_udp.so"
        loadmodule "sipmsgops.so"
        \(extra)
        """
    }

    /// The messages `peer` received whose first line starts with `firstLine`, each as its text.
    static func messages(_ peer: SippProcess, _ firstLine: String) -> [String] {
        // "\r\n" is one Character to Swift: split on lines only after making every line end "\n".
        peer.trace.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "message received").dropFirst().compactMap { block -> String? in
            let lines = block.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let start = lines.firstIndex(where: { $0.hasPrefix(firstLine) }) else { return nil }
            // Only the message itself: up to sipp's next trace line.
            let end = lines[start...].firstIndex(where: { $0.hasPrefix("----") }) ?? lines.endIndex
            let first = lines[..<start].first(where: { !$0.isEmpty && !$0.hasPrefix("[") && !$0.hasSuffix(":") && !$0.hasPrefix("bytes") })
            guard first == nil || first!.hasPrefix(firstLine) else { return nil }
            return lines[start..<end].joined(separator: "\n")
        }
    }

    /// How many lines of `output` contain `text`.
    static func count(_ output: String, _ text: String) -> Int {
        output.components(separatedBy: "\n").filter { $0.contains(text) }.count
    }

    /// The header lines called `name` (case-insensitive) of a message text.
    static func header(_ msg: String, _ name: String) -> [String] {
        msg.components(separatedBy: "\n").filter { $0.lowercased().hasPrefix(name.lowercased() + ":") }
            .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
    }

    /// `switchyard -c` on a config: its exit status and output.
    func check(_ config: String) throws -> (Int32?, String) {
        let cfg = "\(workDir)/check.cfg"
        try config.write(toFile: cfg, atomically: true, encoding: .utf8)
        return try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
    }
}
