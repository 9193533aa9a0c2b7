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

/// The word-at-a-time letter-or-dash count agrees with a byte-by-byte count on every byte value at every position.
final class LettersOrDashesTests: XCTestCase {
    static func reference(_ w: UInt64) -> Int {
        var n = 0
        for k in 0..<8 {
            let c = UInt8(truncatingIfNeeded: w >> UInt64(8 * k))
            guard (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 45 else { break }
            n += 1
        }
        return n
    }

    func testEveryByteAtEveryPosition() {
        let letters = UInt64(littleEndian: 0x2d61_7a41_5a2d_6d4d)  // "Mm-ZAza-" as a word
        for pos in 0..<8 {
            for c in UInt64(0)...255 {
                let shift = UInt64(8 * pos)
                let w = (letters & ~(0xff << shift)) | (c << shift)
                XCTAssertEqual(Byte.lettersOrDashes(w), Self.reference(w), "byte \(c) at \(pos)")
            }
        }
        var g = SystemRandomNumberGenerator()
        for _ in 0..<20000 {
            let w = UInt64.random(in: .min ... .max, using: &g)
            XCTAssertEqual(Byte.lettersOrDashes(w), Self.reference(w))
        }
    }
}
