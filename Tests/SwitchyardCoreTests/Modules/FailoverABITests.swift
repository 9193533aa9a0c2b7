import XCTest
import SwitchyardABI

/// ABI 1.11's DNS failover entries, 1.12's and 1.13's resolver entries: each right after the one before it (its offset,
/// whatever is appended later), so every earlier entry keeps its offset.
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

    /// ABI 1.12's rt_sip_resolve comes right after rt_sip_learn_failed; its item keeps the documented layout (ip[46],
    /// port, proto[8]: 56 bytes).
    func testSIPResolveFollowsLearnFailed() throws {
        let ptr = MemoryLayout<UnsafeRawPointer>.size
        let learn = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.rt_sip_learn_failed))
        let resolve = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.rt_sip_resolve))
        XCTAssertEqual(resolve, learn + ptr)
        XCTAssertGreaterThanOrEqual(MemoryLayout<sy_host_api>.size, resolve + ptr)
        XCTAssertEqual(MemoryLayout<sy_sip_resolved>.size, 56)
        XCTAssertEqual(MemoryLayout<sy_sip_resolved>.offset(of: \.ip), 0)
        XCTAssertEqual(MemoryLayout<sy_sip_resolved>.offset(of: \.port), 46)
        XCTAssertEqual(MemoryLayout<sy_sip_resolved>.offset(of: \.proto), 48)
    }

    /// ABI 1.13's rt_sip_resolve_ex comes right after rt_sip_resolve (1.14's entries follow it: MyselfABITests).
    func testSIPResolveExFollowsSIPResolve() throws {
        let ptr = MemoryLayout<UnsafeRawPointer>.size
        let resolve = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.rt_sip_resolve))
        let ex = try XCTUnwrap(MemoryLayout<sy_host_api>.offset(of: \.rt_sip_resolve_ex))
        XCTAssertEqual(ex, resolve + ptr)
        XCTAssertGreaterThanOrEqual(MemoryLayout<sy_host_api>.size, ex + ptr)
    }
}
