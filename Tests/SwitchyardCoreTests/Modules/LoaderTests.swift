import Foundation
import XCTest
import SwitchyardABI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The loader against good plugins and deliberately bad files.
final class LoaderTests: XCTestCase {
    var dir: String { PluginBuilder.outDir.path }

    func errors(_ config: String) -> [String] {
        let h = ServerHarness("mpath = \"\(dir)\"\n" + config)
        let errs = h.prepare(checkOnly: true)
        return errs.map(\.description)
    }

    func assertRefused(_ config: String, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        let errs = errors(config)
        XCTAssertFalse(errs.isEmpty, "expected a refusal", file: file, line: line)
        let all = errs.joined(separator: "\n")
        for f in fragments {
            XCTAssertTrue(all.contains(f), "missing '\(f)' in:\n\(all)", file: file, line: line)
        }
    }

    func testTextFileNamedSo() throws {
        let p = PluginBuilder.outDir.appendingPathComponent("x.so").path
        _ = FileManager.default.createFile(atPath: p, contents: Data("just text, not ELF\n".utf8))
        assertRefused("loadmodule \"x.so\"", ["x.so", "cannot load", ":2:1:"])
    }

    func testNoEntrySymbol() throws {
        try PluginBuilder.build("noentry")
        assertRefused("loadmodule \"noentry.so\"", ["noentry.so", "not a Switchyard plugin", "switchyard_plugin_entry"])
    }

    func testWrongMajor() throws {
        try PluginBuilder.build("wrong_major")
        let core = "\(SY_ABI_MAJOR).\(SY_ABI_MINOR)"
        assertRefused("loadmodule \"wrong_major.so\"", ["wrong_major.so", "ABI 2.\(SY_ABI_MINOR)", "speaks ABI \(core)", "major version differs; rebuild the plugin"])
    }

    func testNewerMinor() throws {
        try PluginBuilder.build("newer_minor")
        assertRefused("loadmodule \"newer_minor.so\"", ["newer_minor.so", "ABI 1.\(SY_ABI_MINOR + 1)", "newer than this core's ABI 1.\(SY_ABI_MINOR)"])
    }

    func testTruncatedTable() throws {
        try PluginBuilder.build("truncated")
        assertRefused("loadmodule \"truncated.so\"", ["truncated.so", "32 bytes", "truncated table"])
    }

    func testPluginRefuses() throws {
        try PluginBuilder.build("refuses")
        assertRefused("loadmodule \"refuses.so\"", ["refuses.so", "refused to load"])
    }

    func testFileNotFoundListsPaths() {
        assertRefused("loadmodule \"nowhere.so\"", ["file not found", "\(dir)/nowhere.so", "\(dir)/libnowhere.so"])
    }

    func testMissingDependency() throws {
        try PluginBuilder.build("needs_missing")
        assertRefused("loadmodule \"needs_missing.so\"", ["needs_missing", "nonexistent_mod"])
    }

    func testDependencyCycle() throws {
        try PluginBuilder.build("dep_a")
        try PluginBuilder.build("dep_b")
        assertRefused("loadmodule \"dep_a.so\"\nloadmodule \"dep_b.so\"", ["dependency cycle", "dep_a", "dep_b"])
    }

    func testDuplicateLoad() throws {
        try PluginBuilder.build("good")
        try PluginBuilder.build("dup_name")
        assertRefused("loadmodule \"good.so\"\nloadmodule \"good.so\"", ["already loaded"])
        assertRefused("loadmodule \"good.so\"\nloadmodule \"dup_name.so\"", ["module 'good' is already loaded"])
    }

    func testModparamErrors() throws {
        try PluginBuilder.build("good")
        assertRefused("loadmodule \"good.so\"\nmodparam(\"nope\", \"level\", 1)", ["no module 'nope' is loaded", ":3:1:"])
        assertRefused("loadmodule \"good.so\"\nmodparam(\"good\", \"colour\", 1)", ["module good has no parameter 'colour'", "level, name"])
        assertRefused("loadmodule \"good.so\"\nmodparam(\"good\", \"level\", \"high\")", ["module good, parameter 'level': expected an integer, got the string \"high\", which is not an integer"])
        assertRefused("loadmodule \"good.so\"\nmodparam(\"good\", \"name\", 5)", ["module good, parameter 'name': expected a string, got an integer (quote it to pass a string)"])
        XCTAssertEqual(errors("loadmodule \"good.so\"\nmodparam(\"good\", \"level\", \"3\")"), [], "a quoted integer (2.x configs)")
        assertRefused("loadmodule \"good.so\"\nmodparam(\"good\", \"level\", 1)\nmodparam(\"good\", \"level\", 2)", ["set more than once"])
        XCTAssertEqual(errors("loadmodule \"good.so\"\nmodparam(\"good\", \"name\", \"a\")\nmodparam(\"g.*\", \"name\", \"b\")"), [], "repeatable params and regex module names")
    }

    func testUnknownFunctionWithoutLoadmodule() {
        assertRefused("route { good_echo(\"x\", $var(y)); }", ["unknown function 'good_echo' (missing loadmodule?)"])
    }

    func testArityAndTypesCheckedAtStartup() throws {
        try PluginBuilder.build("good")
        assertRefused("loadmodule \"good.so\"\nroute { good_echo(\"x\"); }", ["too few arguments for good_echo()"])
        assertRefused("loadmodule \"good.so\"\nroute { good_echo(\"x\", \"y\"); }", ["must be a variable"])
        assertRefused("loadmodule \"good.so\"\nroute { good_ret(\"abc\"); }", ["expects an integer"])
        assertRefused("loadmodule \"good.so\"\nroute { good_echo(\"x\", $var(y), 3); }", ["too many arguments"])
    }

    func testInitOrderFollowsDependencies() throws {
        try PluginBuilder.build("dep_order_a")
        try PluginBuilder.build("dep_order_b")
        let h = ServerHarness("mpath = \"\(dir)\"\nloadmodule \"dep_order_a.so\"\nloadmodule \"dep_order_b.so\"\n")
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        h.stop()
        let lines = h.messages.filter { $0.contains("dep_order") }.map { $0.components(separatedBy: ": ").last ?? $0 }
        XCTAssertEqual(lines, ["init dep_order_b", "init dep_order_a", "destroy dep_order_a", "destroy dep_order_b"])
    }

    func testOlderMinorPluginLoadsAndWorks() throws {
        try PluginBuilder.build("older_minor")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "older_minor.so"
        modparam("older_minor", "x", 7)
        startup_route { older_minor_hello($var(h)); xlog("said: $var(h)"); }
        """)
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        h.stop()
        XCTAssertTrue(h.messages.contains("said: hello from 1.0"), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("init x=7") })
        XCTAssertEqual(h.server.modules.module(named: "older_minor")?.abiVersion, "1.0")
    }

    /// A plugin built against the frozen 1.5 header (unchanged, with the 1.5 docs' major check in its entry) still
    /// compiles, needs no core symbol, loads and behaves: modparam, script function, statistic, hand-written MI JSON.
    func testABI15PluginLoadsAndWorks() throws {
        let so = try PluginBuilder.build("abi_1_5")
        XCTAssertEqual(try PluginBuilder.undefinedSymbols(so).filter { !$0.contains("@GLIBC") && !$0.hasPrefix("_ITM_") && $0 != "__gmon_start__" }, [],
                       "a 1.5 plugin needs libc only")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_5.so"
        modparam("abi15", "greeting", "good day")
        event_route[E_GREET] { abi15_greet("$param(who)", $var(out)); xlog("greeted: $var(out)"); }
        """)
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.modules.module(named: "abi15")?.abiVersion, "1.5")
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("init on a core of ABI \(SY_ABI_MAJOR).\(SY_ABI_MINOR)") }, h.messages.joined(separator: "\n"))
        let before = h.server.stats.stat(group: "abi15", name: "calls")?.value ?? -1
        XCTAssertEqual(h.server.raiseEvent("E_GREET", [(name: "who", value: .str("Bob"))]), 0)
        XCTAssertTrue(h.waitFor("greeted: good day, Bob"), h.messages.joined(separator: "\n"))
        XCTAssertEqual(h.server.mi.handle(#"{"jsonrpc":"2.0","method":"abi15_status","id":1}"#),
                       #"{"jsonrpc":"2.0","result":{"greeting":"good day","calls":\#(before + 1)},"id":1}"#)
    }

    func testGoodPluginEndToEnd() throws {
        try PluginBuilder.build("good")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "good.so"
        modparam("good", "level", 3)
        modparam("good", "name", "first")
        event_route[E_GO] {
            good_echo("got $param(who)", $var(out));
            xlog("echo: $var(out)");
            if (good_ret(-1)) xlog("neg is true?"); else xlog("neg is false");
            good_ret(0);
            xlog("never printed");
        }
        startup_route { raise_event("E_GO", $avp(none)); }
        """)
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        XCTAssertEqual(h.server.raiseEvent("E_GO", [(name: "who", value: .str("alice"))]), 0)
        XCTAssertTrue(h.waitFor("neg is false"))
        h.stop()
        XCTAssertTrue(h.messages.contains("echo: got alice"), h.messages.joined(separator: "\n"))
        XCTAssertFalse(h.messages.contains("never printed"))
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("name=first") })
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("init level=3") })
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("destroy") })
    }
}
