import XCTest
@testable import SwitchyardJSON

/// SwitchyardJSON's shared-container tree (used by the json plugin): parsing, json-c output styles, sharing, cycles.
final class JSONNodeTests: XCTestCase {
    func testParsesLikeTheValueParserAndKeepsNumberText() throws {
        let text = #"{"a":1,"b":[true,false,null,1.50,-2e3,"x\/y"],"c":{},"d":[],"a":2}"#
        let node = try JSONParser().parseNode(text)
        XCTAssertEqual(node.value, try JSONValue(parsing: text))
        XCTAssertEqual(node.text(.plain), #"{"a":2,"b":[true,false,null,1.50,-2e3,"x\/y"],"c":{},"d":[]}"#)
        XCTAssertEqual(node.text(.plain, escapeSlash: false), #"{"a":2,"b":[true,false,null,1.50,-2e3,"x/y"],"c":{},"d":[]}"#)
    }

    func testJSONCStyles() throws {
        let node = try JSONParser().parseNode(#"{"a":1,"b":[1,2],"c":{},"d":[],"e":{"f":"\t\u0001é"}}"#)
        XCTAssertEqual(node.text(.spaced), #"{ "a": 1, "b": [ 1, 2 ], "c": { }, "d": [ ], "e": { "f": "\t\u0001é" } }"#)
        XCTAssertEqual(node.text(.pretty), """
        {
          "a":1,
          "b":[
            1,
            2
          ],
          "c":{
          },
          "d":[
          ],
          "e":{
            "f":"\\t\\u0001é"
          }
        }
        """)
        XCTAssertEqual(try JSONParser().parseNode("{}").text(.pretty), "{\n}")
        XCTAssertEqual(try JSONParser().parseNode("[]").text(.spaced), "[ ]")
        XCTAssertEqual(try JSONParser().parseNode(#""s""#).text(.spaced), #""s""#)
    }

    func testLargeObjectsKeepOrderAndReplaceInPlace() throws {
        let keys = (0..<40).map { "k\($0)" }
        let text = "{" + keys.map { "\"\($0)\":1" }.joined(separator: ",") + ",\"k3\":2}"
        guard case .object(let o) = try JSONParser().parseNode(text) else { return XCTFail("not an object") }
        XCTAssertEqual(o.keys, keys)
        XCTAssertEqual(o["k3"]?.value, .int(2))
        o["k0"] = nil
        o["new"] = .string("n")
        o["k39"] = .int(9)
        XCTAssertEqual(o.keys.first, "k1")
        XCTAssertEqual(o.keys.last, "new")
        XCTAssertEqual(o["k39"]?.value, .int(9))
        XCTAssertNil(o["k0"])
    }

    func testSharedContainersAndCycleDetection() throws {
        let root = try JSONParser().parseNode(#"{"in":{"deep":[]}}"#)
        guard let inner = root["in"], let deep = inner["deep"], case .object(let rootObject) = root,
              case .array(let deepArray) = deep else { return XCTFail("shape") }
        // Share `inner` in a second place: a change through one shows in both.
        rootObject["again"] = inner
        deepArray.items.append(.int(1))
        XCTAssertEqual(root.text(.plain), #"{"in":{"deep":[1]},"again":{"deep":[1]}}"#)
        XCTAssertEqual(root.depth().depth, 3)
        XCTAssertFalse(root.depth(reaching: JSONArrayNode()).reaches)
        XCTAssertTrue(root.depth(reaching: deep.container).reaches)
        XCTAssertTrue(inner.depth(reaching: inner.container).reaches, "a container reaches itself")
        XCTAssertFalse(inner.depth(reaching: root.container).reaches, "inner does not hold root")
        XCTAssertEqual(JSONNode.int(1).depth().depth, 0)
    }

    func testCopiesShareNothingWithTheOriginalButKeepTheirLinks() throws {
        let shared = try JSONParser().parseNode(#"{"x":1}"#)
        let a = try JSONParser().parseNode(#"{"k":null}"#)
        guard case .object(let ao) = a, case .object(let so) = shared else { return XCTFail("shape") }
        ao["k"] = shared
        let copies = JSONNode.copies(of: [a, shared, .int(3)])
        guard case .object(let ca)? = copies.first, case .object(let cs) = copies[1] else { return XCTFail("shape") }
        cs["y"] = .int(2)
        XCTAssertEqual(copies[0].text(), #"{"k":{"x":1,"y":2}}"#, "the link between the copies holds")
        XCTAssertEqual(a.text(), #"{"k":{"x":1}}"#, "the original is untouched")
        XCTAssertFalse(ca === ao)
        XCTAssertFalse(cs === so)
        XCTAssertEqual(copies[2].text(), "3")
    }

    func testDepthLimitAndHostileInput() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try JSONParser().parseNode(deep)) { error in
            XCTAssertEqual((error as? JSONParseError)?.kind, .tooDeep)
        }
        for bad in ["", "{", "[1,]", "{\"a\" 1}", "nul", "\"\\x\"", "1 2", "[1e999]"] {
            XCTAssertThrowsError(try JSONParser().parseNode(bad), bad)
        }
    }

    /// Objects past the linear-search size use the hash index: repeated keys, lookups, growth on insert, removal.
    func testLargeObjectIndex() throws {
        var text = "{"
        for i in 0..<40 { text += "\"Key-Number-\(i)\":\(i)," }
        text += "\"Key-Number-7\":700,\"é-ünïcode-kéy\":\"x\"}"
        let node = try JSONParser().parseNode(text)
        guard case .object(let o) = node else { return XCTFail("not an object") }
        XCTAssertEqual(o.count, 41, "a repeated key keeps its first position")
        XCTAssertEqual(o["Key-Number-7"]?.value, .int(700), "and its last value")
        XCTAssertEqual(o.keys[7], "Key-Number-7")
        XCTAssertEqual(o["é-ünïcode-kéy"]?.value, .string("x"))
        for i in 0..<40 where i != 7 { XCTAssertEqual(o["Key-Number-\(i)"]?.value, .int(Int64(i))) }
        XCTAssertNil(o["Key-Number-40"])
        for i in 40..<200 { o["Key-Number-\(i)"] = .int(Int64(i)) } // grows the index several times
        for i in 0..<200 where i != 7 { XCTAssertEqual(o["Key-Number-\(i)"]?.value, .int(Int64(i)), "key \(i)") }
        for i in stride(from: 0, to: 200, by: 3) { o["Key-Number-\(i)"] = nil }
        for i in 0..<200 {
            XCTAssertEqual(o.contains("Key-Number-\(i)"), i % 3 != 0, "key \(i)")
        }
        XCTAssertEqual(o.count, 200 - 67 + 1)
    }

    /// Keys are compared by their bytes (as json-c does), in small and in indexed objects alike: a composed and a
    /// decomposed "café" are two keys.
    func testKeysAreComparedByBytes() throws {
        for filler in [0, 20] {
            var text = "{\"caf\u{e9}\":1,\"cafe\u{301}\":2"
            for i in 0..<filler { text += ",\"k\(i)\":\(i)" }
            text += "}"
            guard case .object(let o) = try JSONParser().parseNode(text) else { return XCTFail("not an object") }
            XCTAssertEqual(o.count, 2 + filler)
            XCTAssertEqual(o["caf\u{e9}"]?.value, .int(1), "filler \(filler)")
            XCTAssertEqual(o["cafe\u{301}"]?.value, .int(2), "filler \(filler)")
        }
    }

    /// A parsed object is kept as text and decoded on demand: it must accept exactly what the full parser accepts
    /// (same error, same offset) and hold the same values, whatever is read first.
    func testLazyObjectsAcceptExactlyWhatTheParserAccepts() throws {
        let pieces = ["1", "-0", "0.5", "1e400", "1e-400", "-", "01", "1.", "1.e5", "+1", "9223372036854775807",
                      "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
                      String(repeating: "9", count: 400), "true", "tru", "nul1", "null", "false",
                      #""a\"b\\c\/d\b\f\n\r\t""#, #""\u0041\u00e9\u20AC""#, #""\ud83d\ude00""#, #""\ud83d""#,
                      #""\ude00""#, #""\ud83d\u0041""#, #""\x""#, #""\u12G4""#, "\"a\nb\"", "\"h\u{e9}llo \u{1F600}\"",
                      "[1,]", "[1 2]", "{}", "[]", #"{"a":{"b":[1,{"c":"d"}]}}"#, #"{"a":1,}"#, "{a:1}", "[\"abc",
                      "\"abc", "\"0123456789abcdef\"", "\"0123456789\tabcdef\""]
        var texts: [[UInt8]] = []
        for p in pieces {
            texts.append(Array(p.utf8))
            texts.append(Array(#"{"k":\#(p)}"#.utf8))
            texts.append(Array(#" { "x" : [ ] , "k\u0041" : \#(p) , "y":{"z":\#(p)} } "#.utf8))
        }
        for bad: [UInt8] in [[0xC3, 0x28], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xFF],
                             [0xC3], [0xF0, 0x9F, 0x98], [0xC3, 0xA9], [0xF0, 0x9F, 0x98, 0x80]] {
            texts.append(Array(#"{"k":"abcdefgh"#.utf8) + bad + Array(#"xyz"}"#.utf8))
            texts.append(Array(#"{"k\n"#.utf8) + bad + Array(#"":1}"#.utf8))
        }
        texts.append(Array((String(repeating: #"{"a":"#, count: 512) + "1" + String(repeating: "}", count: 512)).utf8))
        texts.append(Array((String(repeating: #"{"a":"#, count: 513) + "1" + String(repeating: "}", count: 513)).utf8))
        for text in texts {
            let label = String(decoding: text, as: UTF8.self)
            let full = Result { () throws(JSONParseError) in try JSONParser().parse(text) }
            let lazy = text.withUnsafeBufferPointer { b in Result { () throws(JSONParseError) in try JSONParser().parseNode(b) } }
            switch (full, lazy) {
            case (.success(let v), .success(let n)):
                if case .object(let o) = n, case .object(let vo) = v {
                    for m in vo.members { XCTAssertEqual(o[m.key]?.value, m.value, label) }  // read from the text
                }
                XCTAssertEqual(n.value, v, label)
            case (.failure(let a), .failure(let b)):
                XCTAssertEqual(a.kind, b.kind, label)
                XCTAssertEqual(a.offset, b.offset, label)
            default:
                XCTFail("parse and parseNode disagree on \(label): \(full) / \(lazy)")
            }
        }
    }

    func testLazyObjectReadsWritesAndSharing() throws {
        let text = #"{"a":1,"o":{"p":"q"},"l":[1],"a":"two","e\u0301":3,"s":"x\ny"}"#
        guard case .object(let o) = try JSONParser().parseNode(text) else { return XCTFail("not an object") }
        XCTAssertEqual(o["a"]?.value, "two")               // the last of a repeated key
        XCTAssertEqual(o["e\u{301}"]?.value, 3)            // an escaped key
        XCTAssertEqual(o["s"]?.value, "x\ny")
        XCTAssertNil(o["missing"])
        XCTAssertTrue(o.contains("l"))
        // A container read twice is the same object: a change through one read shows in the other.
        guard case .object(let inner)? = o["o"], case .object(let again)? = o["o"] else { return XCTFail("no object") }
        XCTAssertTrue(inner === again)
        inner["r"] = .int(5)
        XCTAssertEqual(o.members.map(\.key), ["a", "o", "l", "e\u{301}", "s"])
        XCTAssertEqual(JSONNode.object(o).text(.plain), #"{"a":"two","o":{"p":"q","r":5},"l":[1],"e"# + "\u{301}" + #"":3,"s":"x\ny"}"#)
        // Many reads: the object is then decoded once and for all, with the same answers.
        guard case .object(let big) = try JSONParser().parseNode(#"{"x":1,"y":{"z":2}}"#) else { return XCTFail("") }
        for _ in 0..<20 { XCTAssertEqual(big["x"]?.value, 1) }
        big["x"] = .int(7)
        XCTAssertEqual(JSONNode.object(big).text(.plain), #"{"x":7,"y":{"z":2}}"#)
    }
}
