import XCTest
@testable import SwitchyardSIP

/// The byte-class table the parsers scan with holds exactly the RFC 3261 sets given as masks, for every byte value.
final class ByteClassTests: XCTestCase {
    func testTableMatchesTheMasks() {
        XCTAssertEqual(Byte.classes.utf8CodeUnitCount, 128)
        for c in UInt8.min...UInt8.max {
            XCTAssertEqual(Byte.isToken(c), Byte.inSet(c, Byte.tokenMasks.lo, Byte.tokenMasks.hi), "byte \(c)")
            XCTAssertEqual(Byte.isViaValue(c), Byte.inSet(c, Byte.viaValueMasks.lo, Byte.viaValueMasks.hi), "byte \(c)")
        }
        // Spot checks against the RFC's wording.
        for ch in "aZ09-.!%*_+`'~" { XCTAssertTrue(Byte.isToken(UInt8(ascii: ch.unicodeScalars.first!))) }
        for ch in ":[]" { XCTAssertFalse(Byte.isToken(UInt8(ascii: ch.unicodeScalars.first!))) }
        for ch in ":[]" { XCTAssertTrue(Byte.isViaValue(UInt8(ascii: ch.unicodeScalars.first!))) }
        for c: UInt8 in [0, 9, 13, 32, 34, 44, 59, 127, 128, 255] { XCTAssertFalse(Byte.isToken(c)) }
    }
}
