import XCTest
@testable import SwitchyardJSON

final class JSONSerializerTests: XCTestCase {
    func testCompactOutput() {
        let v: JSONValue = ["b": 1, "a": [true, false, .null, 1.5, "x"], "e": [:], "f": []]
        XCTAssertEqual(JSONSerializer.serialize(v), #"{"b":1,"a":[true,false,null,1.5,"x"],"e":{},"f":[]}"#)
    }

    func testEscapingKeepsOneLine() {
        let text = "line1\nline2\r\t\"q\" \\ \u{1}\u{1F}\u{8}\u{C} é😀 /"
        let out = JSONSerializer.serialize(["k\n": .string(text)])
        XCTAssertFalse(out.contains("\n"))
        XCTAssertFalse(out.contains("\r"))
        XCTAssertEqual(out, #"{"k\n":"line1\nline2\r\t\"q\" \\ \u0001\u001f\b\f é😀 /"}"#)
        XCTAssertEqual(try JSONValue(parsing: out)["k\n"], .string(text))
    }

    func testNumbers() {
        XCTAssertEqual(JSONSerializer.serialize(.int(Int64.min)), "-9223372036854775808")
        XCTAssertEqual(JSONSerializer.serialize(.double(12)), "12.0")
        XCTAssertEqual(JSONSerializer.serialize(.double(0.1)), "0.1")
        XCTAssertEqual(JSONSerializer.serialize(.double(1e-5)), "1e-05")
        XCTAssertEqual(JSONSerializer.serialize(.double(.nan)), "null")
        XCTAssertEqual(JSONSerializer.serialize(.double(-.infinity)), "null")
        // Round trip keeps the number kind.
        XCTAssertEqual(try JSONValue(parsing: JSONSerializer.serialize([.double(3), .int(3)])), [.double(3), .int(3)])
    }

    func testPretty() {
        let v: JSONValue = ["a": [1, 2], "b": [:]]
        XCTAssertEqual(JSONSerializer.serialize(v, style: .pretty), "{\n\t\"a\": [\n\t\t1,\n\t\t2\n\t],\n\t\"b\": {}\n}")
    }

    func testRoundTripOfParsedDocument() throws {
        let text = #"{"jsonrpc":"2.0","result":{"Processes":[{"ID":0,"PID":12,"Type":"attendant"}]},"id":"7"}"#
        XCTAssertEqual(JSONSerializer.serialize(try JSONValue(parsing: text)), text)
    }

    func testQuoted() {
        XCTAssertEqual(JSONSerializer.quoted("a\"b"), #""a\"b""#)
    }

    func testObjectEditing() {
        var o: JSONObject = ["a": 1]
        for i in 0..<20 { o["k\(i)"] = .int(Int64(i)) }   // crosses the index threshold
        XCTAssertEqual(o["k19"], 19)
        o["a"] = 2
        XCTAssertEqual(o.keys.first, "a")
        XCTAssertEqual(o["a"], 2)
        o["k3"] = nil
        XCTAssertNil(o["k3"])
        XCTAssertEqual(o["k4"], 4)
        XCTAssertEqual(o.count, 20)
        XCTAssertNotEqual(["a": 1, "b": 2] as JSONObject, ["b": 2, "a": 1] as JSONObject)
    }
}
