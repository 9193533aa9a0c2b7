import Foundation
import XCTest
@testable import SwitchyardCore

/// Golden tests for the interpreter: every `Fixtures/script/NN_name.cfg` is resolved with no modules loaded and its
/// main route run once, as a request route on OpenSIPS's dummy request (`$ru` = sip:user@dummy.com); the xlog lines
/// it prints must equal `NN_name.expected`, one per line (trailing newlines of a line dropped). The expectations
/// are what OpenSIPS 3.6 prints for the same route. A `.cfg` whose first line contains `golden: logs` is compared with
/// every log line (core messages too: script_trace, avp_print).
///
/// Set `SWITCHYARD_UPDATE_GOLDEN=1` to rewrite the `.expected` files in the source tree from the current output
/// (then review the diff before committing it).
final class ScriptGoldenTests: XCTestCase {
    static var fixtureDirectory: URL {
        if let bundled = Bundle.module.url(forResource: "Fixtures", withExtension: nil) {
            let dir = bundled.appendingPathComponent("script")
            if FileManager.default.fileExists(atPath: dir.path) { return dir }
        }
        return sourceFixtureDirectory
    }

    static var sourceFixtureDirectory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // Script
            .deletingLastPathComponent()  // SwitchyardCoreTests
            .appendingPathComponent("Fixtures/script")
    }

    func testEveryFixture() throws {
        let files = try FileManager.default.contentsOfDirectory(at: Self.fixtureDirectory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "cfg" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        XCTAssertGreaterThanOrEqual(files.count, 3, "fixtures missing")
        let update = ProcessInfo.processInfo.environment["SWITCHYARD_UPDATE_GOLDEN"] == "1"
        for cfg in files {
            let name = cfg.deletingPathExtension().lastPathComponent
            let text = try String(contentsOf: cfg, encoding: .utf8)
            let h = ScriptHarness(text)
            h.run()
            let lines = text.split(separator: "\n").first?.contains("golden: logs") == true ? h.logs : h.output
            let got = lines.map { line in
                var l = line
                while l.hasSuffix("\n") { l.removeLast() }
                return l
            }
            let expectedURL = cfg.deletingPathExtension().appendingPathExtension("expected")
            if update {
                let dst = Self.sourceFixtureDirectory.appendingPathComponent(name + ".expected")
                try (got.joined(separator: "\n") + "\n").write(to: dst, atomically: true, encoding: .utf8)
                continue
            }
            let expected = try String(contentsOf: expectedURL, encoding: .utf8)
                .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                .dropLast(0)
            var exp = Array(expected)
            while exp.last == "" { exp.removeLast() }
            XCTAssertEqual(got, exp, "\(name): output differs")
        }
    }
}
