import XCTest
@testable import SwitchyardCore

/// The scanner's character classes (one comparison each) and its operator table (looked up by the first byte, not
/// by trying all 19 operators), both made cheaper while profiling Fuzz/config: the same answers as before.
final class LexerClassTests: XCTestCase {
    func testCharacterClassesOverEveryByte() {
        for v in 0...255 {
            let c = UInt8(v)
            let start = (c >= 97 && c <= 122) || (c >= 65 && c <= 90)
            XCTAssertEqual(Scanner.isIdentStart(c), start, "byte \(v)")
            XCTAssertEqual(Scanner.isDigit(c), c >= 48 && c <= 57, "byte \(v)")
            XCTAssertEqual(Scanner.isIdentChar(c), start || (c >= 48 && c <= 57) || c == UInt8(ascii: "_"), "byte \(v)")
        }
    }

    static func puncts(_ text: String) -> [String] {
        Lexer.tokenize(text: text, path: "t.cfg", diagnostics: DiagnosticBag()).compactMap {
            if case .punct(let p) = $0.kind { return p } else { return nil }
        }
    }

    func testEveryOperatorIsOneToken() {
        for op in Lexer.multiCharOps {
            XCTAssertEqual(Self.puncts("$a \(op) $b"), [op], op)
            XCTAssertEqual(Self.puncts("$a\(op)$b"), [op], op)
        }
        // Single characters, an operator at the end of the text, and a pair that is no operator.
        XCTAssertEqual(Self.puncts("= ! < > & | ^ ~ + - * / % : ;"), ["=", "!", "<", ">", "&", "|", "^", "~", "+", "-", "*", "/", "%", ":", ";"])
        XCTAssertEqual(Self.puncts("$a =="), ["=="])
        XCTAssertEqual(Self.puncts("$a ="), ["="])
        XCTAssertEqual(Self.puncts("=<>=!==~~"), ["=", "<", ">=", "!=", "=~", "~"])
        XCTAssertEqual(Self.puncts("$a >>= 1"), [">>", "="])
    }

    func testBytesAboveASCIIArePunctuation() {
        // A stray non-ASCII byte is one punctuation token (its Latin-1 reading), never an operator's start.
        XCTAssertEqual(Self.puncts("\u{E9}="), ["\u{C3}", "\u{A9}", "="])
    }
}
