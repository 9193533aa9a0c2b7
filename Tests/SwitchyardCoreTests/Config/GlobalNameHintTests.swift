import XCTest
@testable import SwitchyardCore

/// "Did you mean" for an unknown global reuses one pair of rows for every known name (it made two arrays per name,
/// seen while profiling Fuzz/config): it still picks the closest known name, the alphabetically first of equals.
final class GlobalNameHintTests: XCTestCase {
    /// The closest name as the hint chose it before: every distance on its own, sorted by (distance, name).
    static func reference(_ name: String) -> String? {
        let limit = name.count <= 4 ? 1 : 2
        return GlobalNames.known.map { ($0, GlobalNames.editDistance($0, name, limit: limit)) }
            .filter { $0.1 <= limit }
            .sorted { ($0.1, $0.0) < ($1.1, $1.0) }
            .first.map { "did you mean '\($0.0)'?" }
    }

    func testTheClosestNameIsSuggested() {
        XCTAssertEqual(GlobalNames.hint(forUnknown: "log_levl"), "did you mean 'log_level'?")
        XCTAssertEqual(GlobalNames.hint(forUnknown: "udp_worker"), "did you mean 'udp_workers'?")
        XCTAssertEqual(GlobalNames.hint(forUnknown: "Log_Level"), "did you mean 'log_level'? names are case-sensitive")
        XCTAssertNil(GlobalNames.hint(forUnknown: "completely_unrelated"))
        XCTAssertNil(GlobalNames.hint(forUnknown: ""))
    }

    func testSameChoiceAsEveryDistanceOnItsOwn() {
        // Typos of every known name (one and two edits, short names, names of other lengths) and some strangers.
        var names = ["x", "ab", "tos", "tis", "dns", "mhome", "memlo", "wdirr", "é", "tcp_keep", "zzzzzzzz"]
        for k in GlobalNames.known.sorted() {
            names.append(String(k.dropLast()))
            names.append(k + "s")
            names.append("x" + k.dropFirst())
            names.append(String(k.dropFirst().dropLast()))
        }
        for name in names where GlobalNames.removed[name] == nil && !name.hasPrefix("tls_")
            && GlobalNames.knownByLowercase[name.lowercased()] == nil {
            XCTAssertEqual(GlobalNames.hint(forUnknown: name), Self.reference(name), name)
        }
        XCTAssertEqual(GlobalNames.editDistance("kitten", "sitting", limit: 3), 3)
        XCTAssertEqual(GlobalNames.editDistance("kitten", "sitting", limit: 2), 3)
        XCTAssertEqual(GlobalNames.editDistance("", "abc", limit: 3), 3)
        XCTAssertEqual(GlobalNames.editDistance("abc", "", limit: 3), 3)
    }
}
