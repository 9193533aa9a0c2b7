import XCTest
import SwitchyardABI
@testable import SwitchyardPluginKit

/// The C side of a Swift plugin's fixup (FixupBridge.entry): the argument index a check throws reaches the core only
/// when it names one of the call's arguments; any other (negative, too large) points at the call.
final class FixupBridgeTests: XCTestCase {
    func run(throwing index: Int?, nargs: Int) throws -> (rc: Int32, index: UInt32, message: String) {
        var api = sy_host_api()
        api.header.abi_major = UInt32(SY_ABI_MAJOR)
        return try withUnsafePointer(to: &api) { raw in
            let host = try XCTUnwrap(PluginHost(raw, module: "test"))
            let box = FuncBox(host: host, handler: { _ in 1 },
                              fixup: FixupBox { _ in throw FixupError(argument: index, "refused") })
            let user = Unmanaged.passRetained(box)
            defer { user.release() }
            let args = [sy_fixup_arg](repeating: sy_fixup_arg(), count: nargs)
            var at = UInt32.max
            var err = [CChar](repeating: 0, count: 64)
            let rc = args.withUnsafeBufferPointer { b in
                FixupBridge.entry(b.baseAddress, UInt32(nargs), &at, &err, err.count, user.toOpaque())
            }
            return (rc, at, String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
    }

    func testArgumentIndexInRangeIsPassed() throws {
        let r = try run(throwing: 1, nargs: 2)
        XCTAssertNotEqual(r.rc, 0)
        XCTAssertEqual(r.index, 1)
        XCTAssertEqual(r.message, "refused")
    }

    func testNegativeOrOutOfRangeIndexPointsAtTheCall() throws {
        for index in [-1, 2, Int.max] {
            let r = try run(throwing: index, nargs: 2)
            XCTAssertNotEqual(r.rc, 0, "\(index)")
            XCTAssertEqual(r.index, UInt32.max, "\(index)")
            XCTAssertEqual(r.message, "refused", "\(index)")
        }
    }
}
