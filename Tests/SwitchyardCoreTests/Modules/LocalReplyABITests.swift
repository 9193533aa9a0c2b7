import Foundation
import XCTest
import SwitchyardABI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// ABI 1.15 rt_sip_ctx_open_reply: its place in the host table (right after 1.14's ctx_value_get), a
/// context on reply bytes a plugin built that a script route reads, requests and garbage refused, and a plugin built
/// against the frozen 1.14 header still loading.
final class LocalReplyABITests: XCTestCase {
    func testEntryFollowsContextValueGet() throws {
        let ptr = MemoryLayout<UnsafeRawPointer>.size
        let get = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.ctx_value_get))
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.rt_sip_ctx_open_reply), get + ptr)
        XCTAssertGreaterThanOrEqual(MemoryLayout<sy_host_api>.size, get + 2 * ptr)
        XCTAssertGreaterThanOrEqual(SY_ABI_MINOR, 15)
    }

    func testRouteReadsTheReplyBytes() throws {
        let h = ServerHarness("route[lr] { xlog(\"LR rs=$rs rr=$rr to=$hdr(To) ci=$ci si=$si var=$var(v)\\n\"); }\nroute { exit; }\n")
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        defer { h.stop() }
        let t = h.server.hostTable.pointee
        XCTAssertGreaterThanOrEqual(t.header.abi_minor, 15)
        let route = try XCTUnwrap(t.rt_route_find_kind!(t.runtime, UInt32(SY_ROUTE_REQUEST.rawValue), "lr"))
        let kind = UInt32(SY_ROUTE_REQUEST.rawValue)
        let reply = "SIP/2.0 486 Busy Here\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n"
            + "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=t9\r\nCall-ID: c15\r\nCSeq: 10 INVITE\r\nContent-Length: 0\r\n\r\n"
        let request = "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKy\r\n"
            + "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c16\r\nCSeq: 10 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        XCTAssertNil(t.rt_sip_ctx_open_reply!(t.runtime, "garbage", 7, kind, nil))
        XCTAssertNil(request.withCString { t.rt_sip_ctx_open_reply!(t.runtime, $0, request.utf8.count, kind, nil) }, "a request")
        XCTAssertNil(reply.withCString { t.rt_sip_ctx_open_reply!(t.runtime, $0, reply.utf8.count, 0xdead, nil) }, "unknown kind")
        XCTAssertNil(reply.withCString { t.rt_sip_ctx_open_reply!(nil, $0, reply.utf8.count, kind, nil) }, "no runtime")
        let ctx = try XCTUnwrap(reply.withCString { t.rt_sip_ctx_open_reply!(t.runtime, $0, reply.utf8.count, kind, nil) })
        XCTAssertEqual(t.ctx_route_type!(ctx), kind)
        _ = t.route_run!(ctx, route)
        t.sip_ctx_close!(ctx, nil)
        XCTAssertTrue(h.waitFor("LR rs=486 rr=Busy Here to=<sip:b@h>;tag=t9 ci=c15 si=<null> var=<null>"),
                      h.messages.joined(separator: "\n"))
    }

    /// Built against the frozen 1.14 header (Fixtures/plugins/abi_1_14): loads, its fixups run and its handler works
    /// on this core (1.15 appended rt_sip_ctx_open_reply to the host table).
    func testA114BuiltPluginStillLoads() throws {
        let dir = PluginBuilder.outDir.path
        try PluginBuilder.build("abi_1_11", headerDir: Repo.fixtures.appendingPathComponent("plugins/abi_1_14").path,
                                output: "abi_1_11_built_1_14")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_11_built_1_14.so"
        event_route[E_FIX] { abi111_level(3, "built14"); }
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        XCTAssertEqual(h.server.modules.module(named: "abi111")?.abiVersion, "1.14")
        XCTAssertEqual(h.messages.filter { $0.hasSuffix("fixup level=C 3 name=C built14") }.count, 1, h.messages.joined(separator: "\n"))
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.raiseEvent("E_FIX", []), 0)
        XCTAssertTrue(h.waitFor("level=3 name=built14"), h.messages.joined(separator: "\n"))
    }
}
