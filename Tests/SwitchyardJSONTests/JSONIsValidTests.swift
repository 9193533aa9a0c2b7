import XCTest
import SwitchyardJSON

/// `JSONParser.isValid` accepts exactly what `parse` accepts.
final class JSONIsValidTests: XCTestCase {
    func testAgreesWithParse() {
        let texts = [
            #"{"Event-Name":"DTMF","DTMF-Digit":"5"}"#, #"{"Event-Name":"DTMF", broken"#, #"{}"#, " [1, 2.5e3, -0, true, null] ",
            #"{"a":{"b":[{"c":"\u00e9\ud83d\ude00"}]}}"#, #"{"a":"\ud800"}"#, #"{"a":1,}"#, #"{"a" 1}"#, "[01]", "1e999",
            "99999999999999999999", "\"caf\u{e9}\"", "\"\u{1}\"", "{\"a\":\"b\"} x", "", " ", "{", "[[[[]]]]",
            String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
        ]
        for t in texts {
            let bytes = Array(t.utf8)
            let valid = bytes.withUnsafeBufferPointer { JSONParser().isValid($0) }
            XCTAssertEqual(valid, (try? JSONParser().parse(bytes)) != nil, t.prefix(60).description)
        }
        let bad: [UInt8] = [0x22, 0xC0, 0xAF, 0x22] // overlong UTF-8
        XCTAssertFalse(bad.withUnsafeBufferPointer { JSONParser().isValid($0) })
        XCTAssertNil(try? JSONParser().parse(bad))
    }
}
