import Foundation
import XCTest
import SwitchyardTestSupport

/// What the textops tests share: sipp peers around switchyard (`SippTestCase`), the scenarios of Tests/SIP/textops
/// (then Tests/SIP), a config head, the messages a sipp peer received.
class TextOpsTestCase: SippTestCase {
    override class var workDirPrefix: String { "sy-textops" }

    override class func scenario(_ name: String) -> String {
        let path = Repo.root.appendingPathComponent("Tests/SIP/textops").appendingPathComponent(name).path
        return FileManager.default.fileExists(atPath: path) ? path : Repo.sipScenario(name)
    }

    /// One UDP socket, the module path of this build, proto_udp, textops and sipmsgops.
    static func config(port: Int) -> String {
        """
        log_level = 3
        udp_workers = 2
        socket = udp:127.0.0.1:\(port)
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "proto_udp.so"
        loadmodule "textops.so"
        loadmodule "sipmsgops.so"

        """
    }

    /// The messages `peer` received whose first line starts with `firstLine`, each as its lines (trimmed).
    static func messages(_ peer: SippProcess, _ firstLine: String) -> [[String]] {
        // "\r\n" is one Character to Swift: split on lines only after making every line end "\n".
        peer.trace.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "message received").dropFirst()
            .compactMap { block -> [String]? in
                let lines = block.components(separatedBy: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                guard let start = lines.firstIndex(where: { $0.hasPrefix(firstLine) }) else { return nil }
                let end = lines[start...].firstIndex(where: { $0.hasPrefix("----") }) ?? lines.endIndex
                var msg = Array(lines[start..<end])
                while msg.last == "" { msg.removeLast() }
                return msg
            }
    }

    /// The values of the header lines called `name` (case-insensitive).
    static func header(_ msg: [String], _ name: String) -> [String] {
        head(msg).filter { $0.lowercased().hasPrefix(name.lowercased() + ":") }
            .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
    }

    /// The first line and header lines, and the body lines.
    static func head(_ msg: [String]) -> [String] { Array(msg.prefix { !$0.isEmpty }) }
    static func body(_ msg: [String]) -> [String] {
        guard let blank = msg.firstIndex(of: "") else { return [] }
        return Array(msg[(blank + 1)...])
    }

    /// The body's length as sent, each line ending CRLF.
    static func bodyLength(_ msg: [String]) -> Int { body(msg).reduce(0) { $0 + $1.utf8.count + 2 } }

    /// `switchyard -c` on a config: its exit status and output.
    func check(_ config: String) throws -> (Int32?, String) {
        let cfg = "\(workDir)/check.cfg"
        try config.write(toFile: cfg, atomically: true, encoding: .utf8)
        return try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
    }
}
