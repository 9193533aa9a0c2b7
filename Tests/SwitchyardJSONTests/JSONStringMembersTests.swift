import XCTest
@testable import SwitchyardJSON

/// JSONObjectNode(strings:): an object of raw string members (a tree the core hands the json module) copied as bytes
/// and decoded per member when read, answering as the same object parsed from its JSON text would.
final class JSONStringMembersTests: XCTestCase {
    private func object(_ pairs: [(String, String)]) -> JSONObjectNode {
        let bytes = pairs.map { (Array($0.0.utf8), Array($0.1.utf8)) }
        return JSONObjectNode(strings: bytes.count) { i in
            (bytes[i].0.withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: $0.count) },
             bytes[i].1.withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: $0.count) })
        }!
    }

    func testReadsLikeTheParsedText() throws {
        let pairs = [("Event-Name", "DTMF"), ("Odd", "{\"not\": \"json\"}"), ("Quote", "a\"b\\c\n"), ("Event-Name", "LAST"),
                     ("Empty", ""), ("Zoë", "é")]
        let o = object(pairs)
        // Lookups answered from the bytes: a value that looks like JSON stays a string; the last repeated key wins.
        guard case .string(let odd)? = o["Odd"] else { return XCTFail("Odd is not a string") }
        XCTAssertEqual(odd, "{\"not\": \"json\"}")
        guard case .string(let name)? = o["Event-Name"] else { return XCTFail("no Event-Name") }
        XCTAssertEqual(name, "LAST")
        XCTAssertNil(o["Missing"])
        XCTAssertTrue(o.contains("Zoë"))
        // Decoded whole: the same members, order and text as the document parsed from the JSON text.
        var text = "{"
        for (i, p) in pairs.enumerated() {
            if i > 0 { text += "," }
            text += JSONSerializer.quoted(p.0) + ":" + JSONSerializer.quoted(p.1)
        }
        text += "}"
        let parsed = try JSONParser().parseNode(text)
        XCTAssertEqual(JSONNode.object(o).text(.plain), parsed.text(.plain))
        XCTAssertEqual(o.keys, ["Event-Name", "Odd", "Quote", "Empty", "Zoë"])
    }
}
