import Foundation
import XCTest
import SwitchyardABI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// ABI 1.11 from a C plugin (Fixtures/plugins/abi_1_11.c): a function's fixup sees each call site's literal arguments
/// at startup and refuses one with the place of the argument; sip_header_insert and sip_reply_header_add where there
/// is no SIP message.
final class FixupABITests: XCTestCase {
    var dir: String { PluginBuilder.outDir.path }

    func config(_ body: String) -> String {
        """
        mpath = "\(dir)"
        loadmodule "abi_1_11.so"
        \(body)
        """
    }

    func testFixupSeesLiteralsAndTheHandlerRuns() throws {
        try PluginBuilder.build("abi_1_11")
        let h = ServerHarness(config("""
        event_route[E_FIX] { $var(n) = "dyn"; abi111_level(3, "a $var(n)"); abi111_level(4, "$var(n)"); abi111_level("5", "lit"); }
        """))
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        XCTAssertEqual(h.server.modules.module(named: "abi111")?.abiVersion, "1.\(SY_ABI_MINOR)")
        let log = { h.messages.joined(separator: "\n") }
        // Once per call site, at startup: literals as the handler gets them, strings with variables as dynamic.
        for line in ["fixup level=C 3 name=D", "fixup level=C 4 name=D", "fixup level=C 5 name=C lit"] {
            XCTAssertEqual(h.messages.filter { $0.hasSuffix(line) }.count, 1, "\(line)\n\(log())")
        }
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.raiseEvent("E_FIX", []), 0)
        XCTAssertTrue(h.waitFor("level=5 name=lit"), log())
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("level=3 name=a dyn") } && h.messages.contains { $0.hasSuffix("level=4 name=dyn") },
                      log())
        XCTAssertEqual(h.messages.filter { $0.contains("fixup ") }.count, 3, "no fixup at run time\n\(log())")
    }

    func testRefusedCallSitesStopStartupAtTheArgument() throws {
        try PluginBuilder.build("abi_1_11")
        for (line, expect) in [("route { abi111_level(12, \"x\"); }", ":3:22: error: abi111_level(): level 12 is not 1..9"),
                               ("route {\n  abi111_level(1, \"bad\");\n}", ":4:19: error: abi111_level(): name 'bad' is refused"),
                               ("route { $var(a) = 1; abi111_level($var(a), \"$var(a)\"); }", ":3:22: error: abi111_level(): nothing literal")] {
            let h = ServerHarness(config(line))
            let errors = h.prepare(workers: 1).map(\.description)
            XCTAssertEqual(errors.count, 1, "\(line)\n\(errors)")
            XCTAssertTrue(errors.first?.contains(expect) ?? false, "\(line)\n\(errors)")
        }
    }

    /// An event route runs on OpenSIPS's dummy request, which has a Call-ID: both calls work on it.
    func testHeaderInsertOnTheDummyRequest() throws {
        try PluginBuilder.build("abi_1_11")
        let h = ServerHarness(config("event_route[E_INS] { if (abi111_insert(\"X-A: 1\", \"Call-ID\")) xlog(\"insert done\"); }"))
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.raiseEvent("E_INS", []), 0)
        XCTAssertTrue(h.waitFor("insert done"), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("insert rc=0 reply rc=0") }, h.messages.joined(separator: "\n"))
    }

    /// A table that says 1.10 with items as long as 1.11's (Fixtures/plugins/abi_1_10_tail.c): no fixup is read from
    /// them, whatever their size (the bytes there hold a refusing check).
    func testA110ItemHasNoFixupWhateverItsSize() throws {
        try PluginBuilder.build("abi_1_10_tail")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_10_tail.so"
        event_route[E_TAIL] { abi110tail_f(); }
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        XCTAssertEqual(h.server.modules.module(named: "abi110tail")?.abiVersion, "1.10")
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.raiseEvent("E_TAIL", []), 0)
        XCTAssertTrue(h.waitFor("tail ran"), h.messages.joined(separator: "\n"))
    }

    /// Built against the frozen 1.10 header (Fixtures/plugins/abi_1_10): loads and works on this core. (A 1.10
    /// function item, without `fixup`, is the 1.9 one: abi_1_9_built_1_9 in RuntimeABITests loads such items.)
    func testA110BuiltPluginStillLoads() throws {
        try PluginBuilder.build("abi_1_10", headerDir: Repo.fixtures.appendingPathComponent("plugins/abi_1_10").path,
                                output: "abi_1_10_built_1_10")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_10_built_1_10.so"
        event_route[E_CTX] { xlog("CTX rs=$(<fixed>rs) xc=$(<fixed>hdr(X-C))"); }
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        XCTAssertEqual(h.server.modules.module(named: "abi110")?.abiVersion, "1.10")
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.raiseEvent("E_CTX", []), 0)
        XCTAssertTrue(h.waitFor("CTX rs=503 xc=from C"), h.messages.joined(separator: "\n"))
    }

    /// Built against the frozen 1.11 header (Fixtures/plugins/abi_1_11): loads, its fixups run and its handler works
    /// on this core (1.12 appended rt_sip_resolve to the host table).
    func testA111BuiltPluginStillLoads() throws {
        try PluginBuilder.build("abi_1_11", headerDir: Repo.fixtures.appendingPathComponent("plugins/abi_1_11").path,
                                output: "abi_1_11_built_1_11")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_11_built_1_11.so"
        event_route[E_FIX] { abi111_level(3, "built"); }
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        XCTAssertEqual(h.server.modules.module(named: "abi111")?.abiVersion, "1.11")
        XCTAssertEqual(h.messages.filter { $0.hasSuffix("fixup level=C 3 name=C built") }.count, 1, h.messages.joined(separator: "\n"))
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.raiseEvent("E_FIX", []), 0)
        XCTAssertTrue(h.waitFor("level=3 name=built"), h.messages.joined(separator: "\n"))
    }

    /// Built against the frozen 1.12 header (Fixtures/plugins/abi_1_12): loads, its fixups run and its handler works
    /// on this core (1.13 appended rt_sip_resolve_ex to the host table).
    func testA112BuiltPluginStillLoads() throws {
        try PluginBuilder.build("abi_1_11", headerDir: Repo.fixtures.appendingPathComponent("plugins/abi_1_12").path,
                                output: "abi_1_11_built_1_12")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_11_built_1_12.so"
        event_route[E_FIX] { abi111_level(3, "built"); }
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        XCTAssertEqual(h.server.modules.module(named: "abi111")?.abiVersion, "1.12")
        XCTAssertEqual(h.messages.filter { $0.hasSuffix("fixup level=C 3 name=C built") }.count, 1, h.messages.joined(separator: "\n"))
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.raiseEvent("E_FIX", []), 0)
        XCTAssertTrue(h.waitFor("level=3 name=built"), h.messages.joined(separator: "\n"))
    }
}
