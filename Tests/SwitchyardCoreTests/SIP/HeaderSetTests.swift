import XCTest
import SwitchyardABI
import SwitchyardSIP
@testable import SwitchyardCore

/// sip_header_set through the host table with values that are not one plain ASCII line (non-ASCII, invalid UTF-8,
/// line breaks, empty), read back through sip_header_get and checked in the bytes forward() sends.
final class HeaderSetTests: XCTestCase {
    static let request = "INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1\r\n"
        + "From: <sip:a@example.com>;tag=1\r\nTo: <sip:b@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"
        + "X-Info: old\r\nContent-Length: 0\r\n\r\n"

    /// Sets X-Info to `value` and returns what sip_header_get reads back and the X-Info line forward() sends.
    func setAndRead(_ value: [UInt8]) throws -> (rc: Int32, read: [UInt8], line: [UInt8]) {
        let h = ScriptHarness("route { exit; }")
        let msg = try SIPMessage.parse(Array(Self.request.utf8))
        h.ctx.message.sip = msg
        let api = HostTable.make()
        let ctxp = OpaquePointer(Unmanaged.passUnretained(h.ctx).toOpaque())
        let name = Array("X-Info".utf8).map { CChar(bitPattern: $0) }
        let v = (value + [0]).map { CChar(bitPattern: $0) }  // a pointer even for the empty value
        return try name.withUnsafeBufferPointer { nb in
            let n = sy_str(s: nb.baseAddress, len: nb.count)
            let rc = v.withUnsafeBufferPointer { vb in api.sip_header_set!(ctxp, n, sy_str(s: vb.baseAddress, len: value.count)) }
            var out = sy_str(s: nil, len: 0)
            XCTAssertEqual(api.sip_header_get!(ctxp, n, 0, &out), 0)
            let read = Array(UnsafeRawBufferPointer(start: out.s, count: out.len))
            XCTAssertEqual(out.s?[out.len], 0, "NUL after the value")
            let top = try XCTUnwrap(try msg.vias().first)
            let sent = MessageWriter.forwardedRequest(msg, newRURI: nil, viaPrefix: "SIP/2.0/UDP 192.0.2.1;branch=",
                                                      branch: .text("z9hG4bKx"), topVia: top, topViaText: nil,
                                                      edits: h.ctx.message.edits)
            let prefix = Array("\r\nX-Info: ".utf8)
            guard let at = sent.indices.first(where: { sent[$0...].starts(with: prefix) }) else {
                XCTFail("no X-Info line in \(String(decoding: sent, as: UTF8.self))")
                return (rc, read, [])
            }
            let rest = sent[(at + 2)...]
            let end = try XCTUnwrap(rest.indices.first { sent[$0] == 13 })
            XCTAssertEqual(sent[end + 1], 10)
            XCTAssertTrue(sent[(end + 2)...].starts(with: Array("Content-Length: 0\r\n\r\n".utf8)))
            return (rc, read, Array(sent[(at + 2)..<end]))
        }
    }

    func check(_ value: [UInt8], stored: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try setAndRead(value)
        XCTAssertEqual(r.rc, 0, file: file, line: line)
        XCTAssertEqual(String(decoding: r.read, as: UTF8.self), String(decoding: stored, as: UTF8.self), file: file, line: line)
        XCTAssertEqual(r.read, stored, file: file, line: line)
        XCTAssertEqual(r.line, Array("X-Info: ".utf8) + stored, file: file, line: line)
    }

    func testPlainASCIIKeptAsBytes() throws {
        try check(Array("new value".utf8), stored: Array("new value".utf8))
        try check(Array("a value longer than sixteen bytes".utf8), stored: Array("a value longer than sixteen bytes".utf8))
    }

    func testNonASCIIUTF8KeptAsIs() throws {
        try check(Array("Zoë <sip:z@x>".utf8), stored: Array("Zoë <sip:z@x>".utf8))
        try check(Array("ñ".utf8), stored: Array("ñ".utf8))
    }

    func testInvalidUTF8Repaired() throws {
        // The string path: each bad byte becomes U+FFFD.
        try check([0x41, 0xFF, 0x42], stored: [0x41, 0xEF, 0xBF, 0xBD, 0x42])
        try check([0xC3], stored: [0xEF, 0xBF, 0xBD])
    }

    func testLineBreaksJoined() throws {
        try check(Array("a\r\nb".utf8), stored: Array("a b".utf8))
        try check(Array("a\nb\rc".utf8), stored: Array("a b c".utf8))
        try check(Array("trailing\r\n".utf8), stored: Array("trailing".utf8))
    }

    /// sip_header_add takes a whole line the same way: a CR LF inside cannot start a header of its own.
    func testAddedLineWithCRLFStaysOneLine() throws {
        let h = ScriptHarness("route { exit; }")
        let msg = try SIPMessage.parse(Array(Self.request.utf8))
        h.ctx.message.sip = msg
        let api = HostTable.make()
        let ctxp = OpaquePointer(Unmanaged.passUnretained(h.ctx).toOpaque())
        let line = Array("X-A: a\r\nX-B: b".utf8).map { CChar(bitPattern: $0) }
        let rc = line.withUnsafeBufferPointer { api.sip_header_add!(ctxp, sy_str(s: $0.baseAddress, len: $0.count), 0) }
        XCTAssertEqual(rc, 0)
        let top = try XCTUnwrap(try msg.vias().first)
        let sent = String(decoding: MessageWriter.forwardedRequest(msg, newRURI: nil, viaPrefix: "SIP/2.0/UDP 192.0.2.1;branch=",
                                                                   branch: .text("z9hG4bKx"), topVia: top, topViaText: nil,
                                                                   edits: h.ctx.message.edits), as: UTF8.self)
        XCTAssertTrue(sent.hasSuffix("\r\nContent-Length: 0\r\nX-A: a X-B: b\r\n\r\n"), sent)
    }

    func testEmptyValue() throws {
        try check([], stored: [])
    }
}
