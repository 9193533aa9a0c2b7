import Foundation
import XCTest
import SwitchyardESL

/// A frame body goes to C subscribers as a pointer and a length; one NUL follows its last byte in the array's storage
/// so C code that reads it as a C string stops at the body's end. The bytes themselves are as sent (any byte, not
/// necessarily UTF-8).
final class NulTerminatedBodyTests: XCTestCase {
    private func frame(body: [UInt8], then next: [UInt8] = []) throws -> ESLFrame {
        var p = ESLParser()
        let frames = try p.feed(Array("Content-Type: text/event-json\nContent-Length: \(body.count)\n\n".utf8) + body + next)
        return try XCTUnwrap(frames.first)
    }

    /// A body followed in the read buffer by more of the stream (not a NUL) still ends with a NUL of its own.
    func testTheParsersBodyHasANulAfterItsLastByte() throws {
        let body: [UInt8] = Array(#"{"Event-Name":"DTMF","x":"\#u{e9}"}"#.utf8) + [0xFF, 0xC3, 0x28]
        let f = try frame(body: body, then: Array("Content-Type: text/event-json\n".utf8))
        XCTAssertEqual(f.body, body, "the bytes as sent, invalid UTF-8 included")
        XCTAssertTrue(NulTerminatedBytes.isTerminated(f.body))
        f.body.withUnsafeBufferPointer { b in
            XCTAssertEqual(strlen(UnsafeRawPointer(b.baseAddress!).assumingMemoryBound(to: CChar.self)), body.count)
        }
        XCTAssertTrue(NulTerminatedBytes.isTerminated(try frame(body: []).body), "an empty body too")
    }

    /// terminated() hands a parser's body over as it is (the same storage), and copies any other array once.
    func testTerminatedCopiesOnlyWhatLacksTheNul() throws {
        let f = try frame(body: Array("abc".utf8))
        let same = NulTerminatedBytes.terminated(f.body)
        XCTAssertEqual(same.withUnsafeBufferPointer { $0.baseAddress }, f.body.withUnsafeBufferPointer { $0.baseAddress })

        var plain: [UInt8] = [0x61, 0x62]
        plain.reserveCapacity(64)
        plain.withUnsafeMutableBufferPointer { b in
            // Whatever sits past the count is not trusted unless it is a NUL: make it not one.
            UnsafeMutableRawPointer(b.baseAddress!).storeBytes(of: 0x7A, toByteOffset: 2, as: UInt8.self)
        }
        XCTAssertFalse(NulTerminatedBytes.isTerminated(plain))
        let copy = NulTerminatedBytes.terminated(plain)
        XCTAssertEqual(copy, plain)
        XCTAssertTrue(NulTerminatedBytes.isTerminated(copy))
        XCTAssertTrue(NulTerminatedBytes.isTerminated(NulTerminatedBytes.terminated([])))
    }
}
