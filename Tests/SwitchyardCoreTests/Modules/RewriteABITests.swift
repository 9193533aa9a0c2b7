import Foundation
import XCTest
import SwitchyardABI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// ABI 1.16's entries, each at its own offset in the order the header appends them, right after 1.15's
/// rt_sip_ctx_open_reply: sip_text_replace, sip_body_get, sip_body_set, sip_status_set, the last entries of the table at 1.16.
final class RewriteABITests: XCTestCase {
    func testEntriesFollowContextValuesInOrder() throws {
        let ptr = MemoryLayout<UnsafeRawPointer>.size
        let reply = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.rt_sip_ctx_open_reply))
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_text_replace), reply + ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_body_get), reply + 2 * ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_body_set), reply + 3 * ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_status_set), reply + 4 * ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.size, reply + 5 * ptr)
        XCTAssertGreaterThanOrEqual(SY_ABI_MINOR, 16)
    }

    /// Built against the frozen 1.15 header (Fixtures/plugins/abi_1_15): loads, its fixups run and its handler works
    /// on this core (1.16 appended the rewriting entries to the host table).
    func testA115BuiltPluginStillLoads() throws {
        let dir = PluginBuilder.outDir.path
        try PluginBuilder.build("abi_1_11", headerDir: Repo.fixtures.appendingPathComponent("plugins/abi_1_15").path,
                                output: "abi_1_11_built_1_15")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_11_built_1_15.so"
        event_route[E_FIX] { abi111_level(3, "built15"); }
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        XCTAssertEqual(h.server.modules.module(named: "abi111")?.abiVersion, "1.15")
        XCTAssertEqual(h.messages.filter { $0.hasSuffix("fixup level=C 3 name=C built15") }.count, 1, h.messages.joined(separator: "\n"))
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.raiseEvent("E_FIX", []), 0)
        XCTAssertTrue(h.waitFor("level=3 name=built15"), h.messages.joined(separator: "\n"))
    }
}
