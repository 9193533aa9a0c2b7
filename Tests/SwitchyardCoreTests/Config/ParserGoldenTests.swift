import Foundation
import XCTest
@testable import SwitchyardCore

/// Golden tests for the script parser and resolver: every `Fixtures/parser/NN_name.cfg` is parsed
/// (from disk, so relative `include_file`s resolve against the fixture folder) and resolved with no
/// modules loaded; its errors must equal `NN_name.expected`, one per line, formatted as
/// `diagnosticsOf` formats them: `line:col message`.
///
/// Conventions:
/// * a valid script has an empty `.expected`;
/// * an error located in another file (an included `inc_*.inc`) is written `file:line:col message`,
///   with the file name relative to the fixture folder; the fixture folder's path is also removed
///   from messages, so the expectations do not depend on where the tests run;
/// * a `.cfg` whose first line contains `golden: parse-only` is only parsed, not resolved (for
///   scripts that use `loadmodule`/`modparam` and module functions, which are not loaded here).
///
/// Set `SWITCHYARD_UPDATE_GOLDEN=1` to rewrite the `.expected` files in the source tree from the
/// current output (then review the diff before committing it).
final class ParserGoldenTests: XCTestCase {
    static let minimumFixtures = 32

    /// The fixture folder: the copied test resources, or the source tree when resources are not bundled.
    static var fixtureDirectory: URL {
        if let bundled = Bundle.module.url(forResource: "Fixtures", withExtension: nil) {
            let dir = bundled.appendingPathComponent("parser")
            if FileManager.default.fileExists(atPath: dir.path) { return dir }
        }
        return sourceFixtureDirectory
    }

    /// `Tests/SwitchyardCoreTests/Fixtures/parser` in the source tree (used to update the goldens).
    static var sourceFixtureDirectory: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()  // Config
            .deletingLastPathComponent()  // SwitchyardCoreTests
            .appendingPathComponent("Fixtures/parser")
    }

    static func fixtures() throws -> [URL] {
        let dir = fixtureDirectory
        return try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "cfg" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    // MARK: helpers

    /// Parses a config file by path (so relative includes resolve against its directory) and,
    /// unless `parseOnly`, resolves its routes with no modules loaded. Returns the errors.
    static func diagnostics(ofFile path: String, parseOnly: Bool = false) -> [Diagnostic] {
        let engine = ScriptEngine(log: CoreLog(sink: .collector(LogCollector())))
        let diags = DiagnosticBag()
        let ast = Parser.parse(path: path, diagnostics: diags)
        if !parseOnly {
            var r = Resolver(engine: engine, diagnostics: diags, varHandles: engine.varHandles)
            r.resolve(routes: ast.routes)
        }
        return diags.errors
    }

    static func isParseOnly(_ text: String) -> Bool {
        text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first?.contains("golden: parse-only") ?? false
    }

    /// `line:col message` like `diagnosticsOf`; `file:line:col message` for errors in other files.
    static func format(_ d: Diagnostic, mainFile: String, dir: String) -> String {
        let message = d.message.replacingOccurrences(of: dir + "/", with: "")
        guard let loc = d.location else { return "- \(message)" }
        let prefix = loc.file.path == mainFile ? "" : loc.file.path.replacingOccurrences(of: dir + "/", with: "") + ":"
        return "\(prefix)\(loc.line):\(loc.column) \(message)"
    }

    static func actualLines(for cfg: URL) throws -> [String] {
        let text = try String(contentsOf: cfg, encoding: .utf8)
        let diags = diagnostics(ofFile: cfg.path, parseOnly: isParseOnly(text))
        return diags.map { format($0, mainFile: cfg.path, dir: cfg.deletingLastPathComponent().path) }
    }

    static func expectedLines(for cfg: URL) throws -> [String] {
        let url = cfg.deletingPathExtension().appendingPathExtension("expected")
        let text = try String(contentsOf: url, encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: false)
            .map { String($0.hasSuffix("\r") ? $0.dropLast() : $0) }
            .filter { !$0.isEmpty }
    }

    /// A line diff (longest common subsequence): `  same`, `- expected only`, `+ actual only`.
    static func diff(expected: [String], actual: [String]) -> String {
        let n = expected.count, m = actual.count
        var lcs = Array(repeating: Array(repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                lcs[i][j] = expected[i] == actual[j] ? lcs[i + 1][j + 1] + 1 : max(lcs[i + 1][j], lcs[i][j + 1])
            }
        }
        var out: [String] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, expected[i] == actual[j] {
                out.append("  \(expected[i])"); i += 1; j += 1
            } else if j < m, i == n || lcs[i][j + 1] >= lcs[i + 1][j] {
                out.append("+ \(actual[j])"); j += 1
            } else {
                out.append("- \(expected[i])"); i += 1
            }
        }
        return out.joined(separator: "\n")
    }

    // MARK: tests

    func testCorpusIsComplete() throws {
        let cfgs = try Self.fixtures()
        XCTAssertGreaterThanOrEqual(cfgs.count, Self.minimumFixtures, "parser fixtures found in \(Self.fixtureDirectory.path)")
        for cfg in cfgs {
            let expected = cfg.deletingPathExtension().appendingPathExtension("expected")
            XCTAssertTrue(FileManager.default.fileExists(atPath: expected.path), "\(cfg.lastPathComponent) has no .expected file")
        }
        let expectedFiles = try FileManager.default.contentsOfDirectory(at: Self.fixtureDirectory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "expected" }
        for e in expectedFiles {
            let cfg = e.deletingPathExtension().appendingPathExtension("cfg")
            XCTAssertTrue(FileManager.default.fileExists(atPath: cfg.path), "\(e.lastPathComponent) has no .cfg file")
        }
        // Both kinds must be present: valid scripts and scripts with errors.
        let valid = try cfgs.filter { try Self.expectedLines(for: $0).isEmpty }
        XCTAssertFalse(valid.isEmpty)
        XCTAssertLessThan(valid.count, cfgs.count)
    }

    func testGoldenDiagnostics() throws {
        let update = ProcessInfo.processInfo.environment["SWITCHYARD_UPDATE_GOLDEN"] == "1"
        var failures: [String] = []
        for cfg in try Self.fixtures() {
            let actual = try Self.actualLines(for: cfg)
            if update {
                let target = Self.sourceFixtureDirectory.appendingPathComponent(cfg.deletingPathExtension().lastPathComponent + ".expected")
                try (actual.isEmpty ? "" : actual.joined(separator: "\n") + "\n").write(to: target, atomically: true, encoding: .utf8)
                continue
            }
            let expected = (try? Self.expectedLines(for: cfg)) ?? ["<missing .expected file>"]
            if actual != expected {
                failures.append("""
                \(cfg.lastPathComponent): diagnostics differ (- expected, + actual):
                \(Self.diff(expected: expected, actual: actual))
                """)
            }
        }
        XCTAssert(failures.isEmpty, "\n" + failures.joined(separator: "\n\n"))
    }

    /// Every error an operator sees reads `file:line:col: error: message`, then the source line,
    /// then a caret under the column.
    func testDiagnosticDescriptionsShowFileLineAndCaret() throws {
        var checked = 0
        for cfg in try Self.fixtures() {
            let text = try String(contentsOf: cfg, encoding: .utf8)
            for d in Self.diagnostics(ofFile: cfg.path, parseOnly: Self.isParseOnly(text)) {
                guard let loc = d.location else {
                    XCTFail("\(cfg.lastPathComponent): error without a location: \(d.message)")
                    continue
                }
                let name = "\(cfg.lastPathComponent): \(d.message)"
                let lines = d.description.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                XCTAssertEqual(lines.count, 3, "\(name): \(d.description)")
                guard lines.count == 3 else { continue }
                XCTAssertEqual(lines[0], "\(loc.file.path):\(loc.line):\(loc.column): error: \(d.message)", name)
                XCTAssertTrue(lines[0].hasPrefix(cfg.deletingLastPathComponent().path + "/"), "\(name): \(lines[0])")
                // The quoted line is the real line of the file the error points into, and is not blank.
                let fileLines = loc.file.text.split(separator: "\n", omittingEmptySubsequences: false)
                XCTAssertTrue(loc.line >= 1 && loc.line <= fileLines.count, "\(name): line \(loc.line) is outside the file")
                XCTAssertEqual(lines[1], "    " + loc.lineText, name)
                XCTAssertFalse(loc.lineText.trimmingCharacters(in: .whitespaces).isEmpty, "\(name): points at a blank line")
                // The caret sits under the column, which is inside the line (or just past its end).
                XCTAssertTrue(lines[2].hasPrefix("    ") && lines[2].hasSuffix("^"), "\(name): \(lines[2])")
                let caretPad = lines[2].dropFirst(4).dropLast()
                XCTAssertEqual(caretPad.count, loc.column - 1, "\(name): caret not under column \(loc.column)")
                XCTAssertTrue(caretPad.allSatisfy { $0 == " " || $0 == "\t" }, name)
                XCTAssertLessThanOrEqual(loc.column, loc.lineText.count + 1, "\(name): column past the end of the line")
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 20, "the corpus should contain plenty of errors")
    }

    /// The in-memory path (`diagnosticsOf`, as the other tests use it) agrees with the by-path one
    /// for fixtures that do not include other files.
    func testTextAndPathParsingAgree() throws {
        for cfg in try Self.fixtures() {
            let text = try String(contentsOf: cfg, encoding: .utf8)
            if Self.isParseOnly(text) || text.contains("include_file") || text.contains("import_file") { continue }
            XCTAssertEqual(diagnosticsOf(text), try Self.actualLines(for: cfg), cfg.lastPathComponent)
        }
    }

    /// A few values the golden files cannot show: what the globals fixture stores.
    func testGlobalValuesAsParsed() throws {
        let cfg = Self.fixtureDirectory.appendingPathComponent("01_globals.cfg")
        let diags = DiagnosticBag()
        let ast = Parser.parse(path: cfg.path, diagnostics: diags)
        XCTAssertFalse(diags.hasErrors, diags.items.map(\.description).joined(separator: "\n"))
        func value(_ name: String) -> [GlobalValue] { ast.globals.filter { $0.name == name }.map(\.value) }
        XCTAssertEqual(value("log_level"), [.int(3)])
        XCTAssertEqual(value("udp_workers"), [.int(4)])
        XCTAssertEqual(value("children"), [.int(2)])
        XCTAssertEqual(value("mpath"), [.string("/usr/lib/x86_64-linux-gnu/opensips/modules/")])
        XCTAssertEqual(value("socket"), [
            .raw("udp:127.0.0.1:5060"), .raw("udp:127.0.0.1:5070 as 192.0.2.10:5060 use_workers 2"),
            .raw("udp:[2a02:0db8::1]:5060"), .raw("tls:192.0.2.1:5061 as sip.example.com:5061"),
        ])
        XCTAssertEqual(value("alias"), [.raw("sip.example.com:5060")])
        XCTAssertEqual(value("listen"), [.raw("tcp:10.0.0.1:5060")])
        XCTAssertEqual(value("syslog_facility"), [.identifier("LOG_LOCAL0")])
        XCTAssertEqual(value("enable_asserts"), [.int(1)])
        XCTAssertEqual(value("xlog_level"), [.int(-1)])
    }
}
