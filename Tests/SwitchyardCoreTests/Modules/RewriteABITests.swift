import XCTest
import SwitchyardABI

/// ABI 1.16's entries, each at its own offset in the order the header appends them, right after 1.14's
/// ctx_value_get: sip_text_replace, sip_body_get, sip_body_set, sip_status_set, the last entries of the table.
final class RewriteABITests: XCTestCase {
    func testEntriesFollowContextValuesInOrder() throws {
        let ptr = MemoryLayout<UnsafeRawPointer>.size
        let get = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.ctx_value_get))
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_text_replace), get + ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_body_get), get + 2 * ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_body_set), get + 3 * ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_status_set), get + 4 * ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.size, get + 5 * ptr)
        XCTAssertEqual(SY_ABI_MINOR, 16)
    }
}
