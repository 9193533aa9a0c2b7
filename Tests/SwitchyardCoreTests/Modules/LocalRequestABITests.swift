import XCTest
import SwitchyardABI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// ABI 1.10 rt_sip_ctx_open_request / sip_build_edited: a context on request bytes a plugin built, its header edits
/// in the bytes given back, its own Via the only one; route_find_kind finds the local_route.
final class LocalRequestABITests: XCTestCase {
    func testEditedRequestKeepsItsViaAndCarriesTheEdits() throws {
        let h = ServerHarness("local_route { xlog(\"L\\n\"); }\nroute { exit; }\n")
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        defer { h.stop() }
        let t = h.server.hostTable.pointee
        XCTAssertNotNil(t.rt_route_find_kind!(t.runtime, UInt32(SY_ROUTE_LOCAL.rawValue), ""))
        let req = "OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n"
            + "From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c1\r\nCSeq: 10 OPTIONS\r\nX-Old: 1\r\nContent-Length: 0\r\n\r\n"
        XCTAssertNil(t.rt_sip_ctx_open_request!(t.runtime, "garbage", 7, UInt32(SY_ROUTE_LOCAL.rawValue), nil))
        let ctx = try XCTUnwrap(req.withCString { t.rt_sip_ctx_open_request!(t.runtime, $0, req.utf8.count,
                                                                            UInt32(SY_ROUTE_LOCAL.rawValue), nil) })
        XCTAssertEqual(t.ctx_route_type!(ctx), UInt32(SY_ROUTE_LOCAL.rawValue))
        let line = "X-Local: 1"
        XCTAssertEqual(line.withCString { t.sip_header_add!(ctx, sy_str(s: $0, len: line.utf8.count), 0) }, 0)
        var out = sy_str()
        XCTAssertEqual(t.sip_build_edited!(ctx, &out), 0)
        let text = String(decoding: UnsafeRawBufferPointer(start: out.s, count: out.len), as: UTF8.self)
        t.sip_ctx_close!(ctx, nil)
        XCTAssertTrue(text.hasPrefix("OPTIONS sip:b@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n"), text)
        XCTAssertEqual(text.components(separatedBy: "Via:").count, 2, text)
        XCTAssertTrue(text.contains("X-Old: 1\r\n"), text)
        XCTAssertTrue(text.contains("X-Local: 1\r\n"), text)
        XCTAssertTrue(text.hasSuffix("\r\n\r\n"), text)
    }
}
