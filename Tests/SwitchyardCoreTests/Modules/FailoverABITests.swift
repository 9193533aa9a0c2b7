import XCTest
import SwitchyardABI

/// ABI 1.11's DNS failover entry is appended after the header insertion group: the table grows by one pointer and
/// every earlier entry keeps its offset.
final class FailoverABITests: XCTestCase {
    func testBuildRequestAtIsTheLastEntry() throws {
        let ptr = MemoryLayout<UnsafeRawPointer>.size
        let insert = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.sip_reply_header_add))
        let at = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.sip_build_request_at))
        XCTAssertEqual(at, insert + ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.size, at + ptr)
    }
}
