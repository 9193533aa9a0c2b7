import XCTest
import TMBranch

/// The branch parameter tm reads from every reply's Via (BranchParam.parse, in place, no per-byte bounds checks):
/// well-formed values and each way a value can be malformed, each read from an allocation exactly as long as it.
final class BranchParamTests: XCTestCase {
    /// Parses `bytes` from an allocation of exactly that size, followed in memory by nothing of the value.
    private func parse(_ bytes: [UInt8]) -> [UInt32]? {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        defer { p.deallocate() }
        p.initialize(from: bytes, count: bytes.count)
        return BranchParam.parse(p, bytes.count).map { [$0.hash, $0.label, $0.branch] }
    }
    private func parse(_ s: String) -> [UInt32]? { parse(Array(s.utf8)) }

    func testWellFormedValues() {
        XCTAssertEqual(parse("z9hG4bK0.0.0"), [0, 0, 0], "the shortest")
        XCTAssertEqual(parse("z9hG4bK21.a.3"), [0x12, 0xa, 3], "reversed hex: least significant digit first")
        XCTAssertEqual(parse("z9hG4bKffffffff.12345678.1"), [0xffff_ffff, 0x8765_4321, 1], "8 digits")
        XCTAssertEqual(parse("z9hG4bKABCDEF.aBc.F"), [0xfed_cba, 0xcba, 0xf], "upper- and mixed-case hex")
    }

    /// Values of 10 and 11 bytes pass the length test but cannot hold the cookie and three numbers.
    func testShortValues() {
        XCTAssertNil(parse("z9hG4bK0.0"), "exactly 10 bytes")
        XCTAssertNil(parse("z9hG4bK0.0."), "11 bytes, empty third part")
        XCTAssertNil(parse("z9hG4bK000"), "10 bytes, one part")
        XCTAssertNil(parse("z9hG4bK"), "the cookie alone")
        XCTAssertNil(parse(""), "empty")
        XCTAssertNil(parse("z9hG4bK.."), "9 bytes")
    }

    func testNineHexDigitsInAPartAreRefused() {
        XCTAssertNotNil(parse("z9hG4bK12345678.0.0"))
        XCTAssertNil(parse("z9hG4bK123456789.0.0"), "9 digits, first part")
        XCTAssertNil(parse("z9hG4bK0.123456789.0"), "9 digits, second part")
        XCTAssertNil(parse("z9hG4bK0.0.123456789"), "9 digits, last part")
    }

    func testDotsAndEmptyParts() {
        XCTAssertNil(parse("z9hG4bK1.2.3."), "trailing dot")
        XCTAssertNil(parse("z9hG4bK1..2.3"), "doubled dot")
        XCTAssertNil(parse("z9hG4bK.1.2.3"), "leading dot")
        XCTAssertNil(parse("z9hG4bK1.2..3"), "empty middle part")
        XCTAssertNil(parse("z9hG4bK1.2"), "two parts")
        XCTAssertNil(parse("z9hG4bK1.2.3.4"), "four parts")
        XCTAssertNil(parse("z9hG4bK1.2.3x"), "three parts then extra bytes")
        XCTAssertNil(parse("z9hG4bK1.2.3 "), "three parts then a space")
    }

    func testNonHexBytes() {
        XCTAssertNil(parse("z9hG4bKg.0.0"), "g")
        XCTAssertNil(parse("z9hG4bKG.0.0"), "G")
        XCTAssertNil(parse("z9hG4bK0.:.0"), "':' follows '9'")
        XCTAssertNil(parse("z9hG4bK0./.0"), "'/' precedes '0'")
        XCTAssertNil(parse("z9hG4bK0.0.@"), "'@' precedes 'A'")
        XCTAssertNil(parse("z9hG4bK0.0.`"), "'`' precedes 'a'")
        // Bytes that become a hex letter or digit by the case fold (| 0x20) only if it were applied wrongly.
        for c: UInt8 in [0x80, 0xC1, 0xE1, 0xFF, 0x00, 0x10, 0x01, 0x06] {
            XCTAssertNil(parse(Array("z9hG4bK0.".utf8) + [c] + Array(".0".utf8)), "byte \(c)")
            XCTAssertNil(parse(Array("z9hG4bK0.0.0".utf8) + [c]), "byte \(c) after three parts")
        }
    }

    func testTheCookieIsExact() {
        XCTAssertNil(parse("z9hg4bK1.2.3"), "g in lower case")
        XCTAssertNil(parse("Z9hG4bK1.2.3"))
        XCTAssertNil(parse("z9hG4bk1.2.3"))
        XCTAssertNil(parse("z9hG4b 1.2.3"))
        XCTAssertNil(parse("x9hG4bK1.2.3"))
    }

    /// What tm writes (TM.withBranchID: each number least significant digit first, lower-case) reads back.
    func testRoundTripOfWhatTMWrites() {
        func revhex(_ v: UInt32) -> String {
            var v = v, s = ""
            repeat { s += String(v & 15, radix: 16); v >>= 4 } while v > 0
            return s
        }
        for (h, l, b) in [(0, 0, 0), (1, 0x1234_5678, 11), (0xffff, 0xffff_ffff, 0), (4095, 7, 63)] as [(UInt32, UInt32, UInt32)] {
            XCTAssertEqual(parse("z9hG4bK\(revhex(h)).\(revhex(l)).\(revhex(b))"), [h, l, b])
        }
    }
}
