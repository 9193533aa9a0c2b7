import XCTest
@testable import SwitchyardCore

/// A script nesting deeper than `Parser.maxNesting` is an error, not a stack overflow (found while profiling
/// Fuzz/config: a file of 4,000 '{' or 2,000 '(' crashed the parser); scripts nesting less parse as before.
final class ParserNestingTests: XCTestCase {
    static func errors(_ text: String) -> [String] {
        let diags = DiagnosticBag()
        _ = Parser.parse(text: text, path: "t.cfg", diagnostics: diags)
        return diags.errors.map { "\($0.location.map { "\($0.line):\($0.column)" } ?? "-") \($0.message)" }
    }

    func testDeepNestingIsAnError() {
        let deep = 20_000
        let cases = [
            "blocks": "route {" + String(repeating: "{", count: deep),
            "conditions": "route { if (" + String(repeating: "(", count: deep),
            "negations": "route { if (" + String(repeating: "!", count: deep),
            "expressions": "route { $var(a) = " + String(repeating: "(", count: deep),
            "bitwise not": "route { $var(a) = " + String(repeating: "~", count: deep),
            "tests": "route { if (" + String(repeating: "[", count: deep),
            "if chains": "route { " + String(repeating: "if ($var(a)) ", count: deep),
            "async calls": "route { " + String(repeating: "async(", count: deep),
        ]
        for (name, text) in cases {
            let errors = Self.errors(text)
            XCTAssertTrue(errors.contains { $0.hasSuffix("nested too deeply: more than 200 levels of blocks, statements, conditions, expressions or calls") },
                          "\(name): \(errors)")
            // One report for the over-deep construct and at most one for the blocks left open by it.
            XCTAssertLessThanOrEqual(errors.count, 2, "\(name): \(errors)")
        }
    }

    func testOverDeepStatementIsSkippedAndTheRestParses() {
        let text = """
            route {
                \(String(repeating: "{", count: 300))xlog("deep");\(String(repeating: "}", count: 300))
                xlog("after");
            }
            route[next] { exit; }
            """
        let diags = DiagnosticBag()
        let ast = Parser.parse(text: text, path: "t.cfg", diagnostics: diags)
        XCTAssertEqual(diags.errors.map(\.message), ["nested too deeply: more than 200 levels of blocks, statements, conditions, expressions or calls"])
        XCTAssertEqual(diags.errors.first?.location?.line, 2)
        XCTAssertEqual(ast.routes.map(\.name), [nil, "next"])
    }

    func testNestingUnderTheLimitParses() {
        let blocks = 60
        let text = "route {\n" + String(repeating: "if ($var(a) == 1) {\n", count: blocks) + "xlog(\"x\");\n"
            + String(repeating: "}\n", count: blocks) + "}\n"
        XCTAssertEqual(Self.errors(text), [])
        let parens = 60
        XCTAssertEqual(Self.errors("route { $var(a) = " + String(repeating: "(", count: parens) + "1"
                                   + String(repeating: ")", count: parens) + "; }"), [])
    }

    /// Columns are counted as the scanner moves (not recounted per token): they still count characters, not bytes,
    /// on long lines and after a repaired pseudo-variable moves the scanner back.
    func testColumnsOnLongLines() {
        let pad = String(repeating: "xlog(\"é\"); ", count: 500)  // 11 characters each, 12 bytes
        let dollar = 9 + 11 * 500
        XCTAssertEqual(Self.errors("route { \(pad)$var(a = 1; 0x; }"), [
            // The lexer's errors, then the parser's; the scanner went back to the ';' after the first one.
            "1:\(dollar) unbalanced parentheses in pseudo-variable '$var(a = 1': a ')' is missing",
            "1:\(dollar + 12) malformed hexadecimal number '0x'",
            "1:\(dollar + 10) expected an assignment operator after '$var(a = 1)', found ';'",
            "1:\(dollar + 12) unexpected number 0 (expected a statement)",
        ])
    }
}
