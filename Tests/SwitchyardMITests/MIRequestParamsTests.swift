import XCTest
@testable import SwitchyardMI

final class MIRequestParamsTests: XCTestCase {
    func testIntAccessor() throws {
        let p = MIRequestParams.named(["a": 5, "b": "-7", "c": "+3", "d": 2.0, "e": "1.5", "f": " 4", "g": "", "h": true,
                                       "i": "-", "j": "99999999999999999999", "k": 2.5])
        XCTAssertEqual(try p.int("a"), 5)
        XCTAssertEqual(try p.int("b"), -7)
        XCTAssertEqual(try p.int("c"), 3)
        XCTAssertEqual(try p.int("d"), 2)
        for bad in ["e", "f", "g", "h", "i", "j", "k"] {
            XCTAssertThrowsError(try p.int(bad)) { XCTAssertEqual($0 as? MIError, .badType(bad)) }
        }
        XCTAssertThrowsError(try p.int("absent")) { XCTAssertEqual($0 as? MIError, .missingParameter) }
    }

    func testStringAccessor() throws {
        let p = MIRequestParams.named(["s": "x", "i": 12, "d": 3.0, "f": 0.5, "n": .null, "o": [:]])
        XCTAssertEqual(try p.string("s"), "x")
        XCTAssertEqual(try p.string("i"), "12")
        XCTAssertEqual(try p.string("d"), "3")
        XCTAssertEqual(try p.string("f"), "0.5")
        XCTAssertThrowsError(try p.string("n")) { XCTAssertEqual($0 as? MIError, .badType("n")) }
        XCTAssertThrowsError(try p.string("o")) { XCTAssertEqual($0 as? MIError, .badType("o")) }
    }

    func testArrayAccessors() throws {
        let p = MIRequestParams.named(["a": ["x", 1], "e": [], "s": "x", "bad": [["nested"]]])
        XCTAssertEqual(try p.array("a"), ["x", 1])
        XCTAssertEqual(try p.stringArray("a"), ["x", "1"])
        XCTAssertThrowsError(try p.array("e")) { XCTAssertEqual($0 as? MIError, .emptyArray("e")) }
        XCTAssertThrowsError(try p.array("s")) { XCTAssertEqual($0 as? MIError, .badType("s")) }
        XCTAssertThrowsError(try p.stringArray("bad")) { XCTAssertEqual($0 as? MIError, .badType("bad")) }
    }

    func testPositionalLookupThroughRecipe() {
        let p = MIRequestParams(storage: .positional(["4", "9472"]), recipe: ["level", "pid"])
        XCTAssertEqual(try p.int("level"), 4)
        XCTAssertEqual(try p.int("pid"), 9472)
        XCTAssertTrue(p.has("pid"))
        XCTAssertFalse(p.has("other"))
        XCTAssertNil(MIRequestParams.none.json("x"))
    }
}
