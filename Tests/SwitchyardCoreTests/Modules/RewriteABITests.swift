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

    /// A context on a reply a plugin built (tm's local_reply_route) is sent as built: the rewrites say so (-5)
    /// instead of reporting a change that never goes out; the body reads as the reply's.
    func testRepliesBuiltHereRefuseRewrites() throws {
        let h = ServerHarness("route { exit; }\n")
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        defer { h.stop() }
        let t = h.server.hostTable.pointee
        let reply = "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n"
            + "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=t9\r\nCall-ID: c16\r\nCSeq: 10 INVITE\r\nContent-Length: 2\r\n\r\nhi"
        let ctx = try XCTUnwrap(reply.withCString {
            t.rt_sip_ctx_open_reply!(t.runtime, $0, reply.utf8.count, UInt32(SY_ROUTE_REQUEST.rawValue), nil)
        })
        defer { t.sip_ctx_close!(ctx, nil) }
        let from = try XCTUnwrap(reply.range(of: "From")).lowerBound.utf16Offset(in: reply)
        let text = "x"
        text.withCString { p in
            let s = sy_str(s: p, len: 1)
            XCTAssertEqual(t.sip_text_replace!(ctx, UInt32(from), 4, s), -5)
            XCTAssertEqual(t.sip_body_set!(ctx, s), -5)
            XCTAssertEqual(t.sip_status_set!(ctx, 480, s), -5)
        }
        var out = sy_str()
        XCTAssertEqual(t.sip_body_get!(ctx, &out), 0)
        XCTAssertEqual(String(decoding: UnsafeRawBufferPointer(start: out.s, count: out.len), as: UTF8.self), "hi")
        XCTAssertEqual(t.sip_body_get!(ctx, nil), -3)
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
