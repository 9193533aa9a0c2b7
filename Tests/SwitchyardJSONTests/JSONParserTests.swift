import XCTest
@testable import SwitchyardJSON

final class JSONParserTests: XCTestCase {
    func testScalarsAndNumberKinds() throws {
        XCTAssertEqual(try JSONValue(parsing: "null"), .null)
        XCTAssertEqual(try JSONValue(parsing: " true "), .bool(true))
        XCTAssertEqual(try JSONValue(parsing: "false"), .bool(false))
        XCTAssertEqual(try JSONValue(parsing: "0"), .int(0))
        XCTAssertEqual(try JSONValue(parsing: "-42"), .int(-42))
        XCTAssertEqual(try JSONValue(parsing: "9223372036854775807"), .int(Int64.max))
        XCTAssertEqual(try JSONValue(parsing: "-9223372036854775808"), .int(Int64.min))
        XCTAssertEqual(try JSONValue(parsing: "9223372036854775808"), .double(9223372036854775808.0))
        XCTAssertEqual(try JSONValue(parsing: "1.5"), .double(1.5))
        XCTAssertEqual(try JSONValue(parsing: "1.0"), .double(1.0))
        XCTAssertEqual(try JSONValue(parsing: "-2.5e3"), .double(-2500))
        XCTAssertEqual(try JSONValue(parsing: "1E-2"), .double(0.01))
    }

    func testContainersKeepOrder() throws {
        let v = try JSONValue(parsing: #"{"b":1,"a":[true,null,"x",{}],"c":{"z":[]}}"#)
        XCTAssertEqual(v.objectValue?.keys, ["b", "a", "c"])
        XCTAssertEqual(v["a"], [true, .null, "x", .object(JSONObject())])
        XCTAssertEqual(v["c"]?["z"], .array([]))
        XCTAssertEqual(v["b"], 1)
    }

    func testDuplicateKeyLastWinsAtFirstPosition() throws {
        let v = try JSONValue(parsing: #"{"a":1,"b":2,"a":3}"#)
        XCTAssertEqual(v.objectValue?.keys, ["a", "b"])
        XCTAssertEqual(v["a"], 3)
    }

    func testStringEscapes() throws {
        XCTAssertEqual(try JSONValue(parsing: #""a\"b\\c\/d\b\f\n\r\t""#), .string("a\"b\\c/d\u{8}\u{C}\n\r\t"))
        XCTAssertEqual(try JSONValue(parsing: #""\u0041\u00e9\u20AC""#), .string("Aé€"))
        XCTAssertEqual(try JSONValue(parsing: #""\u0000x""#), .string("\u{0}x"))
        XCTAssertEqual(try JSONValue(parsing: "\"h\u{e9}llo \u{1F600}\""), .string("héllo 😀"))
    }

    func testSurrogatePairs() throws {
        XCTAssertEqual(try JSONValue(parsing: #""\ud83d\ude00""#), .string("😀"))
        XCTAssertEqual(try JSONValue(parsing: #""x\uD834\uDD1Ey""#), .string("x𝄞y"))
        assertError(#""\ud83d""#, .syntax)          // lone high surrogate
        assertError(#""\ude00""#, .syntax)          // lone low surrogate
        assertError(#""\ud83d\u0041""#, .syntax)    // high + non-low
    }

    func testStrictSyntaxErrors() {
        assertError("", .unexpectedEnd, offset: 0)
        assertError("   ", .unexpectedEnd, offset: 3)
        assertError("[1,]", .syntax, offset: 3)
        assertError("{\"a\":1,}", .syntax, offset: 7)
        assertError("01", .syntax, offset: 1)
        assertError("1.", .unexpectedEnd)
        assertError("1.e5", .syntax)
        assertError("+1", .syntax, offset: 0)
        assertError("'x'", .syntax, offset: 0)
        assertError("{a:1}", .syntax, offset: 1)
        assertError("tru", .unexpectedEnd)
        assertError("nul1", .syntax, offset: 0)
        assertError("\"a\nb\"", .syntax, offset: 2)
        assertError(#""\x""#, .syntax, offset: 1)
        assertError(#""\u12G4""#, .syntax)
        assertError("[1 2]", .syntax, offset: 3)
        assertError("{} x", .syntax, offset: 3)
        assertError("1e400", .syntax, offset: 0)
        assertError("[\"abc", .unexpectedEnd, offset: 5)
    }

    func testInvalidUTF8Rejected() {
        let bytes: [UInt8] = [0x22, 0xC3, 0x28, 0x22]
        XCTAssertThrowsError(try JSONParser().parse(bytes)) { error in
            XCTAssertEqual((error as? JSONParseError)?.kind, .syntax)
        }
        // Same through the escape (slow) path.
        let escaped: [UInt8] = Array(#""\n"#.utf8) + [0xFF, 0x22]
        XCTAssertThrowsError(try JSONParser().parse(escaped))
    }

    func testDeepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        XCTAssertThrowsError(try JSONValue(parsing: deep)) { error in
            let e = error as? JSONParseError
            XCTAssertEqual(e?.kind, .tooDeep)
            XCTAssertEqual(e?.offset, 512)
        }
        let deepObjects = String(repeating: #"{"a":"#, count: 10_000)
        XCTAssertThrowsError(try JSONValue(parsing: deepObjects)) { error in
            XCTAssertEqual((error as? JSONParseError)?.kind, .tooDeep)
        }
        // Exactly at the limit parses.
        let ok = String(repeating: "[", count: 512) + "1" + String(repeating: "]", count: 512)
        XCTAssertNoThrow(try JSONValue(parsing: ok))
        XCTAssertThrowsError(try JSONParser(maxDepth: 3).parse("[[[[1]]]]"))
        XCTAssertEqual(try JSONParser(maxDepth: 3).parse("[[[1]]]"), [[[1]]])
    }

    func testPrefixParsingBackToBack() throws {
        let stream = #" {"id":1} {"id":"two"}[3]"x"7"#
        let bytes = Array(stream.utf8)
        var offset = 0
        var values: [JSONValue] = []
        let parser = JSONParser()
        while offset < bytes.count {
            let (value, consumed) = try parser.parsePrefix(bytes[offset...])
            values.append(value)
            offset += consumed
        }
        XCTAssertEqual(values, [["id": 1], ["id": "two"], [3], "x", 7])
        XCTAssertEqual(try parser.parsePrefix(#"{"a":1}garbage"#).consumed, 7)
        XCTAssertEqual(try parser.parsePrefix("  [1]  ").consumed, 5)
    }

    func testPrefixOfIncompleteDocumentReportsUnexpectedEnd() {
        XCTAssertThrowsError(try JSONParser().parsePrefix(#"{"jsonrpc":"2.0","me"#)) { error in
            XCTAssertEqual((error as? JSONParseError)?.kind, .unexpectedEnd)
        }
    }

    func testParsesFromSlicesAndRawBuffers() throws {
        let bytes = Array("xx[1,2]".utf8)
        XCTAssertEqual(try JSONParser().parse(bytes[2...]), [1, 2])
        let value = try bytes.withUnsafeBytes { raw in
            try JSONParser().parse(UnsafeRawBufferPointer(rebasing: raw[2...]))
        }
        XCTAssertEqual(value, [1, 2])
    }

    func testErrorDescriptionCarriesOffset() {
        XCTAssertThrowsError(try JSONValue(parsing: "[1,]")) { error in
            XCTAssertEqual("\(error)", "unexpected character ']' at byte 3")
        }
    }

    private func assertError(_ text: String, _ kind: JSONParseError.Kind, offset: Int? = nil,
                             file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try JSONValue(parsing: text), file: file, line: line) { error in
            guard let e = error as? JSONParseError else { return XCTFail("wrong error \(error)", file: file, line: line) }
            XCTAssertEqual(e.kind, kind, "\(text): \(e)", file: file, line: line)
            if let offset { XCTAssertEqual(e.offset, offset, "\(text): \(e)", file: file, line: line) }
        }
    }
}
