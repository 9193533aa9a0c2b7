import XCTest
@testable import SwitchyardMI

final class MIRegistryTests: XCTestCase {
    func testDefaultQualifiedAliasAndLookup() throws {
        let registry = MIRegistry()
        try registry.register(module: "dialog", name: "dlg_list") { _ in .result("flat") }
        try registry.register(module: "statistics", name: "get_statistics", aliases: ["statistics:get"]) { _ in .ok }
        try registry.register(module: "tm", name: "tm:only") { _ in .ok }
        XCTAssertEqual(registry.lookup("dlg_list")?.module, "dialog")
        XCTAssertEqual(registry.lookup("dialog:dlg_list")?.name, "dlg_list")
        XCTAssertEqual(registry.lookup("statistics:get")?.name, "get_statistics")
        XCTAssertNil(registry.lookup("statistics:get_statistics"))
        XCTAssertNil(registry.lookup("get"))
        XCTAssertEqual(registry.lookup("tm:only")?.aliases, [])
        XCTAssertEqual(registry.allNames, ["dlg_list", "get_statistics", "dialog:dlg_list", "statistics:get", "tm:only"])
    }

    func testDuplicateNamesThrow() throws {
        let registry = MIRegistry()
        try registry.register(module: "a", name: "x") { _ in .ok }
        XCTAssertThrowsError(try registry.register(module: "b", name: "x") { _ in .ok }) { error in
            XCTAssertEqual(error as? MIRegistryError, .duplicateName("x"))
        }
        XCTAssertThrowsError(try registry.register(module: "b", name: "y", aliases: ["a:x"]) { _ in .ok }) { error in
            XCTAssertEqual(error as? MIRegistryError, .duplicateName("a:x"))
        }
        // A failed registration leaves nothing behind.
        XCTAssertNil(registry.lookup("y"))
        XCTAssertEqual(registry.commands.count, 1)
    }

    func testInvalidDefinitionsThrow() {
        let registry = MIRegistry()
        XCTAssertThrowsError(try registry.register(module: "a", name: "") { _ in .ok })
        XCTAssertThrowsError(try registry.register(module: "a", name: "has space") { _ in .ok })
        XCTAssertThrowsError(try registry.register(module: "a", name: "r", recipes: []) { _ in .ok })
        XCTAssertThrowsError(try registry.register(module: "a", name: "r", recipes: [["p", "p"]]) { _ in .ok })
        XCTAssertThrowsError(try registry.register(module: "a", name: "r", recipes: [["p", "q"], ["q", "p"]]) { _ in .ok })
        XCTAssertTrue(registry.commands.isEmpty)
    }
}
