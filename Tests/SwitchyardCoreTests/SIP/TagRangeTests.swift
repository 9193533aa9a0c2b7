import XCTest
@testable import SwitchyardCore

/// SIPCore.tagRange: the `;tag=` of a From/To value, outside quotes and angle brackets (the memchr path for the
/// usual value and the byte loop for the others give the same answers).
final class TagRangeTests: XCTestCase {
    func tag(_ value: String) -> String? {
        let b = Array(value.utf8)
        guard let r = SIPCore.tagRange(b, 0..<b.count) else { return nil }
        return String(decoding: b[r], as: UTF8.self)
    }

    func testUsualValues() {
        XCTAssertEqual(tag("sipp <sip:sipp@127.0.0.1:5601>;tag=1SIPpTag001"), "1SIPpTag001")
        XCTAssertEqual(tag("<sip:b@x;tag=inuri>;tag=out"), "out")
        XCTAssertNil(tag("<sip:b@x;tag=inuri>"))
        XCTAssertEqual(tag("<sip:b@x>;foo=1;TAG=abc;bar"), "abc")
        XCTAssertEqual(tag("<sip:b@x> ; tag=t1 ;x"), "t1")
        XCTAssertNil(tag("<sip:b@x>;tagx=1"))
        XCTAssertNil(tag("<sip:b@x>"))
    }

    func testAddrSpecWithoutBrackets() {
        XCTAssertEqual(tag("sip:a@x;tag=abc"), "abc")
        XCTAssertEqual(tag("sip:a@x;p=1;tag=z"), "z")
        XCTAssertNil(tag("sip:a@x;p=1"))
    }

    func testQuotesAndOddBracketsTakeTheByteLoop() {
        XCTAssertEqual(tag("\"A;tag=no <x>\" <sip:a@x>;tag=yes"), "yes")
        XCTAssertNil(tag("\"A;tag=no\" <sip:a@x>"))
        XCTAssertEqual(tag("a;tag=before <sip:a@x>"), "before")
        XCTAssertNil(tag("<sip:a@x;tag=unclosed"))
        XCTAssertEqual(tag("<sip:a@x>;p=1 <sip:b@y;tag=in>;tag=second"), "second")
    }
}
