import XCTest
@testable import SwitchyardCore

/// The config text's lines, its end, CRLF files and the caret of a diagnostic, now worked out on bytes (profiling
/// Fuzz/config: grapheme breaking of the whole text, twice per parse, and Character appends for every caret): the
/// same results as before, and the lines are the ones the scanner counts.
final class SourceTextTests: XCTestCase {
    func testLinesAreSplitOnNewlineBytes() {
        let file = SourceFile(path: "t.cfg", text: "a = 1\n\tb = \"é\"\r\n\n")
        XCTAssertEqual(file.lineCount, 4)
        XCTAssertEqual((0...5).map { file.line($0) }, ["", "a = 1", "\tb = \"é\"", "", "", ""])
        // A '\n' followed by a combining mark is one Character; the scanner still starts a line after it, and so does
        // the quoted line (the Character split kept both lines as one).
        let marked = SourceFile(path: "t.cfg", text: "x\n\u{301}y = 1")
        XCTAssertEqual(marked.lineCount, 2)
        XCTAssertEqual(marked.line(2), "\u{301}y = 1")
    }

    func testErrorsQuoteTheLineTheScannerCounted() {
        let diags = DiagnosticBag()
        _ = Parser.parse(text: "log_level = 1\n\u{301}? = 2\n", path: "t.cfg", diagnostics: diags)
        let first = diags.items.first
        XCTAssertEqual(first?.location?.line, 2, "\(diags.items)")
        XCTAssertEqual(first?.location?.lineText, "\u{301}? = 2")
    }

    func testEndOfFileIsAfterTheLastNonBlankCharacter() {
        func eof(_ text: String) -> String {
            let loc = Lexer.endOfFile(SourceFile(path: "t.cfg", text: text))
            return "\(loc.line):\(loc.column)"
        }
        XCTAssertEqual(eof("route {\n  xlog(\"é\");  \t\n\n   \n"), "2:13")
        XCTAssertEqual(eof("a\r\n\r\n"), "1:2")
        XCTAssertEqual(eof(""), "1:1")
        XCTAssertEqual(eof(" \n\t\n"), "1:1")
        let diags = DiagnosticBag()
        _ = Parser.parse(text: "route {\n  xlog(\"ü\");\n\n", path: "t.cfg", diagnostics: diags)
        XCTAssertEqual(diags.errors.map { "\($0.location!.line):\($0.location!.column) \($0.message)" },
                       ["2:13 missing '}' at end of file: the '{' at line 1 is never closed"])
    }

    func testCRLFFilesReadAsLFFiles() {
        XCTAssertEqual(Lexer.normalizedLineEnds("a\r\nb\r\n"), "a\nb\n")
        XCTAssertEqual(Lexer.normalizedLineEnds("a\rb\n"), "a\rb\n")
        XCTAssertEqual(Lexer.normalizedLineEnds("plain\n"), "plain\n")
        let diags = DiagnosticBag()
        _ = Parser.parse(text: "log_level = 1\r\nbad_name = 2\r\n", path: "t.cfg", diagnostics: diags)
        XCTAssertEqual(diags.errors.first?.location?.line, 2)
        XCTAssertEqual(diags.errors.first?.location?.lineText, "bad_name = 2")
    }

    func testCaretPadding() {
        XCTAssertEqual(Diagnostic.caretPadding("\tab cd", characters: 4), "\t   ")
        XCTAssertEqual(Diagnostic.caretPadding("ab", characters: 5), "  ")
        XCTAssertEqual(Diagnostic.caretPadding("ab", characters: 0), "")
        // Non-ASCII: one blank per Character, as before.
        XCTAssertEqual(Diagnostic.caretPadding("é\tüx", characters: 3), " \t ")
        XCTAssertEqual(Diagnostic.caretPadding("e\u{301}\tx", characters: 2), " \t")
        // A combining mark right after the prefix joins its last character (not a tab's: a control stands alone).
        XCTAssertEqual(Diagnostic.caretPadding("ab\u{301}\tx", characters: 3), "  \t")
        XCTAssertEqual(Diagnostic.caretPadding("\t\u{301}x", characters: 1), "\t")
        let text = "\tif ($x == 1) ä"
        let file = SourceFile(path: "t.cfg", text: text)
        let d = Diagnostic(SourceLocation(file: file, line: 1, column: 7), "here")
        XCTAssertEqual(d.description, "t.cfg:1:7: error: here\n    \(text)\n    \t     ^")
    }
}

/// The caret's blanks for long ASCII lines (made at once, tabs put back) and the ASCII test behind it, eight bytes at
/// a time: every length and every position of a non-ASCII byte.
final class CaretPaddingTests: XCTestCase {
    func testLongLinesAndTabs() {
        let line = String(repeating: "ab\tcdefgh ", count: 200)
        let expected = String(line.map { $0 == "\t" ? "\t" : " " })
        for n in [0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 999, 2000, 2500] {
            XCTAssertEqual(Diagnostic.caretPadding(line, characters: n), String(expected.prefix(n)), "n=\(n)")
        }
    }

    func testASCIICheck() {
        for length in 0...20 {
            var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
            XCTAssertTrue(bytes.withUnsafeBytes { Diagnostic.isASCII($0) }, "length \(length)")
            for k in 0..<length {
                bytes[k] = 0xC3
                XCTAssertFalse(bytes.withUnsafeBytes { Diagnostic.isASCII($0) }, "length \(length), byte \(k)")
                bytes[k] = 0x7F
                XCTAssertTrue(bytes.withUnsafeBytes { Diagnostic.isASCII($0) }, "length \(length), byte \(k)")
                bytes[k] = UInt8(ascii: "a")
            }
        }
    }
}
