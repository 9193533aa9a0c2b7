import XCTest
import SwitchyardABI

/// ABI 1.11's DNS failover entry comes right after the header insertion group (its offset, whatever is appended
/// later): every earlier entry keeps its offset.
final class FailoverABITests: XCTestCase {
    func testBuildRequestAtFollowsTheHeaderInsertionGroup() throws {
        let ptr = MemoryLayout<UnsafeRawPointer>.size
        let insert = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.sip_reply_header_add))
        let at = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.sip_build_request_at))
        XCTAssertEqual(at, insert + ptr)
        XCTAssertGreaterThanOrEqual(MemoryLayout<sy_host_api>.size, at + ptr)
        let learn = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.rt_sip_learn_failed))
        XCTAssertEqual(learn, at + ptr)
        XCTAssertGreaterThanOrEqual(MemoryLayout<sy_host_api>.size, learn + ptr)
    }
}
