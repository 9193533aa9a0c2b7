import XCTest
import SwitchyardABI

/// ABI 1.14's entries, each at its own offset in the order the header appends them, right after 1.13's
/// rt_sip_resolve_ex: sip_is_myself, ctx_value_set, ctx_value_get (later minors follow them: LocalReplyABITests,
/// RewriteABITests).
final class MyselfABITests: XCTestCase {
    func testEntriesFollowResolveExInOrder() throws {
        let ptr = MemoryLayout<UnsafeRawPointer>.size
        let ex = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.rt_sip_resolve_ex))
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.sip_is_myself), ex + ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.ctx_value_set), ex + 2 * ptr)
        XCTAssertEqual(MemoryLayout<sy_host_api>.offset(of: \.ctx_value_get), ex + 3 * ptr)
        XCTAssertGreaterThanOrEqual(MemoryLayout<sy_host_api>.size, ex + 4 * ptr)
        XCTAssertGreaterThanOrEqual(SY_ABI_MINOR, 14)
    }
}
