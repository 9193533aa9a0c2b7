import XCTest
@testable import SwitchyardCore

/// A diagnostic never prints a URL's password, in its message or in the quoted line, and its caret still points at
/// the same token.
final class DiagnosticTextTests: XCTestCase {
    func testPasswordsAreMasked() {
        XCTAssertEqual(PasswordMask.mask("fs://:ClueCon@127.0.0.1:8021?DTMF").text, "fs://:***@127.0.0.1:8021?DTMF")
        XCTAssertEqual(PasswordMask.mask(#"db_url = "mysql://user:s3cr3t@db/opensips""#).text, #"db_url = "mysql://user:***@db/opensips""#)
        XCTAssertEqual(PasswordMask.mask("fs://1000@default:pw@fs1").text, "fs://1000@default:***@fs1")
        // A password holding '/', ',', ')', '?' or '@': the credentials end at the last '@' before a blank or quote.
        XCTAssertEqual(PasswordMask.mask("mysql://u:ab/cd@h/db").text, "mysql://u:***@h/db")
        XCTAssertEqual(PasswordMask.mask(#"x("mysql://u:a,b)c?d@e@h/db", 1)"#).text, #"x("mysql://u:***@h/db", 1)"#)
        for clear in ["sqlite:///tmp/x.db", "fs://127.0.0.1:8021", "sip:alice@example.com", "fs://user@host"] {
            XCTAssertEqual(PasswordMask.mask(clear).text, clear)
        }
    }

    /// After a URL without a password the scan resumes past that URL (a line of "://"s cost the square of its length,
    /// seen while profiling Fuzz/config): passwords of later URLs, and inside a password-less run, are still masked.
    func testPasswordsAfterURLsWithoutOne() {
        let runs = String(repeating: "x://", count: 3_000)
        XCTAssertEqual(PasswordMask.mask(runs).text, runs)
        XCTAssertEqual(PasswordMask.mask(runs + " mysql://u:pw@h/db").text, runs + " mysql://u:***@h/db")
        // One URL: its userinfo runs from the first "://" to the last '@'.
        XCTAssertEqual(PasswordMask.mask(runs + "u:pw@h").text, "x://x:***@h")
        XCTAssertEqual(PasswordMask.mask("a://b c://d:pw@e f://g").text, "a://b c://d:***@e f://g")
        XCTAssertEqual(PasswordMask.mask("a://b@c://d:pw@e").text, "a://b@c:***@e")
    }

    func testCaretFollowsTheMask() {
        let text = #"modparam("freeswitch_scripting", "fs_subscribe", "fs://:LongPassword@host:99999") x"#
        let file = SourceFile(path: "t.cfg", text: text)
        let col = Array(text).firstIndex(of: "x")! + 1
        let d = Diagnostic(SourceLocation(file: file, line: 1, column: col), "error at x, url fs://:LongPassword@host")
        XCTAssertFalse(d.description.contains("LongPassword"), d.description)
        let lines = d.description.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines.count, 3, d.description)
        let quoted = Array(lines[1]), caret = Array(lines[2])
        XCTAssertEqual(quoted[caret.count - 1], "x", "the caret is under the same token:\n\(d.description)")
    }
}

/// Masking works on the line's UTF-8 bytes (it built an array of Characters per diagnostic): URLs after non-ASCII
/// text, Unicode whitespace ending a URL, and the caret's column counted in scalars as the scanner counts them.
final class DiagnosticMaskBytesTests: XCTestCase {
    func testMaskAfterNonASCIIText() {
        XCTAssertEqual(PasswordMask.mask("é ü fs://:pw@h é").text, "é ü fs://:***@h é")
        XCTAssertEqual(PasswordMask.mask("x(\"mysql://ü:päss@h/db\")").text, "x(\"mysql://ü:***@h/db\")")
        XCTAssertEqual(PasswordMask.mask("日本://a:b@c").text, "日本://a:***@c")
    }

    func testUnicodeWhitespaceEndsTheURL() {
        // No-break space, ideographic space, line separator, next line, en quad: the URL (and its '@' search) ends there.
        for ws in ["\u{A0}", "\u{3000}", "\u{2028}", "\u{85}", "\u{2000}", "\u{200A}", "\u{202F}", "\u{205F}", "\u{1680}"] {
            XCTAssertEqual(PasswordMask.mask("fs://u:pw@h\(ws)other@x").text, "fs://u:***@h\(ws)other@x", "U+\(String(ws.unicodeScalars.first!.value, radix: 16))")
            XCTAssertEqual(PasswordMask.mask("fs://u\(ws):pw@h").text, "fs://u\(ws):pw@h")
        }
        // Not whitespace: the '@' after them still belongs to the URL.
        for other in ["\u{2010}", "\u{200B}", "\u{E000}", "é"] {
            XCTAssertEqual(PasswordMask.mask("fs://u:p\(other)w@h").text, "fs://u:***@h")
        }
        for v in [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20] {
            let ws = String(UnicodeScalar(UInt8(v)))
            XCTAssertEqual(PasswordMask.mask("fs://u\(ws):pw@h").text, "fs://u\(ws):pw@h", "byte \(v)")
        }
    }

    func testColumnsAfterAMaskCountScalars() {
        let (text, column) = PasswordMask.mask("é fs://u:secret@h x")
        XCTAssertEqual(text, "é fs://u:***@h x")
        // Original columns (scalars): 'x' at 19, the password's 's' at 10 and 't' at 15.
        XCTAssertEqual(column(19), 16)
        XCTAssertEqual(column(10), 10)
        XCTAssertEqual(column(15), 10)
        XCTAssertEqual(column(2), 2)
        XCTAssertEqual(Array(text.unicodeScalars)[column(19) - 1], "x")
    }
}

/// The mask goes from one "://" to the next: a text without a password comes back as it was; several URLs, "://"
/// inside a password, and a "://" at the very end.
final class DiagnosticMaskSeparatorTests: XCTestCase {
    func testSeveralURLs() {
        XCTAssertEqual(PasswordMask.mask("a://u:p@h b://h c://v:q@h").text, "a://u:***@h b://h c://v:***@h")
        XCTAssertEqual(PasswordMask.mask("a://u:p://x@h tail").text, "a://u:***@h tail")
        XCTAssertEqual(PasswordMask.mask("x ://").text, "x ://")
        XCTAssertEqual(PasswordMask.mask("://u:p@h").text, "://u:***@h")
        XCTAssertEqual(PasswordMask.mask(":/:/://:@").text, ":/:/://:***@")
        XCTAssertEqual(PasswordMask.schemeSeparator(in: Array("a:/b://c".utf8), from: 0), 4)
        XCTAssertEqual(PasswordMask.schemeSeparator(in: Array("a:/b://c".utf8), from: 4), 4)
        XCTAssertEqual(PasswordMask.schemeSeparator(in: Array("a:/b://c".utf8), from: 5), nil)
        XCTAssertEqual(PasswordMask.schemeSeparator(in: Array("://".utf8), from: 0), 0)
        XCTAssertEqual(PasswordMask.schemeSeparator(in: Array(":/".utf8), from: 0), nil)
    }

    func testNoPasswordGivesTheSameText() {
        let text = "modparam(\"x\", \"db_url\", \"mysql://user@h/db\") sqlite:///tmp/x"
        let (masked, column) = PasswordMask.mask(text)
        XCTAssertEqual(masked, text)
        XCTAssertEqual(column(30), 30)
    }
}
