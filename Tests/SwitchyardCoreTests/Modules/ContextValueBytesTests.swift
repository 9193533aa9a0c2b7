import XCTest
import SwitchyardABI
@testable import SwitchyardCore

/// ctx_value_set / ctx_value_get (ABI 1.14) through the host table: raw bytes round-trip (a NUL, 0xFF), removal, and
/// the documented return codes (-1 no such key, -2 bad arguments).
final class ContextValueBytesTests: XCTestCase {
    func testBinaryValueRoundTripsAndReturnCodes() throws {
        let h = ScriptHarness("route { exit; }")
        let api = HostTable.make()
        let ctxp = OpaquePointer(Unmanaged.passUnretained(h.ctx).toOpaque())
        let key: [CChar] = Array("test.k\u{FF}".utf8).map { CChar(bitPattern: $0) } + [CChar(bitPattern: 0xFF)]
        let value: [CChar] = [0x61, 0, CChar(bitPattern: 0xFF), 0x62]
        try key.withUnsafeBufferPointer { kb in
            let k = sy_str(s: kb.baseAddress, len: kb.count)
            var out = sy_str(s: nil, len: 0)
            XCTAssertEqual(api.ctx_value_get!(ctxp, k, &out), -1, "no such key")
            let rc = value.withUnsafeBufferPointer { api.ctx_value_set!(ctxp, k, sy_str(s: $0.baseAddress, len: $0.count)) }
            XCTAssertEqual(rc, 0)
            XCTAssertEqual(api.ctx_value_get!(ctxp, k, &out), 0)
            let read = Array(UnsafeRawBufferPointer(start: try XCTUnwrap(out.s), count: out.len))
            XCTAssertEqual(read, value.map { UInt8(bitPattern: $0) })
            XCTAssertEqual(out.s?[out.len], 0, "NUL after the value")
            // Removal, then bad arguments.
            XCTAssertEqual(api.ctx_value_set!(ctxp, k, sy_str(s: nil, len: 0)), 0)
            XCTAssertEqual(api.ctx_value_get!(ctxp, k, &out), -1)
            XCTAssertEqual(api.ctx_value_get!(ctxp, sy_str(s: kb.baseAddress, len: 0), &out), -2, "empty key")
            XCTAssertEqual(api.ctx_value_get!(ctxp, k, nil), -2, "NULL out")
            XCTAssertEqual(api.ctx_value_get!(nil, k, &out), -2, "NULL ctx")
            XCTAssertEqual(api.ctx_value_set!(ctxp, sy_str(s: kb.baseAddress, len: 0), k), -1, "empty key")
        }
    }
}
