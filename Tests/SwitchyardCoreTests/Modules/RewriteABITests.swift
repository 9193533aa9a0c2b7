import XCTest
import SwitchyardABI

/// ABI 1.16's entries, each at its own offset in the order the header appends them, right after 1.15's
/// rt_sip_ctx_open_reply: sip_text_replace, sip_body_get, sip_body_set, sip_status_set, the last entries of the table.
final class RewriteABITests: XCTestCase {
    func testEntriesFollowContextValuesInOrder() throws {
        let ptr = MemoryLayout<UnsafeRawPointer>.size
        let reply = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.rt_sip_ctx_open_reply))
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_text_replace), reply + ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_body_get), reply + 2 * ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_body_set), reply + 3 * ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_status_set), reply + 4 * ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.size, reply + 5 * ptr)
        XCTAssertEqual(SY_ABI_MINOR, 16)
    }
}
