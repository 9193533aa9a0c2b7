import XCTest
import SwitchyardSIP
@testable import SwitchyardCore

/// ABI 1.16's rewrites as MessageWriter sends them: received header bytes replaced (inside a line, across two lines,
/// an insertion), the checks sip_text_replace makes (Via, first line, overlap), a new body with its Content-Length,
/// and a relayed reply's new status line.
final class TextRewriteWriterTests: XCTestCase {
    static let requestLine = "INVITE sip:b@example.com SIP/2.0"
    static let lines = [
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
        "From: <sip:a@example.com>;tag=1",
        "To: <sip:b@example.com>",
        "Call-ID: c1",
        "CSeq: 1 INVITE",
        "X-Info: old",
        "Content-Length: 4",
    ]
    static let ourVia = "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx"

    static func text(_ lines: [String], body: String = "") -> String { lines.joined(separator: "\r\n") + "\r\n\r\n" + body }

    func forward(_ msg: SIPMessage, _ edits: HeaderEdits, stream: Bool = false) throws -> String {
        let top = try XCTUnwrap(try msg.vias().first)
        let out = MessageWriter.forwardedRequest(msg, newRURI: nil, viaPrefix: "SIP/2.0/UDP 192.0.2.1:5060;branch=",
                                                 branch: .text("z9hG4bKx"), topVia: top, topViaText: nil, edits: edits,
                                                 stream: stream)
        return String(decoding: out, as: UTF8.self)
    }

    /// The byte range of the first `s` in the message.
    func range(_ msg: SIPMessage, _ s: String) throws -> Range<Int> {
        let needle = Array(s.utf8)
        let at = try XCTUnwrap((0...(msg.bytes.count - needle.count)).first { Array(msg.bytes[$0..<($0 + needle.count)]) == needle })
        return at..<(at + needle.count)
    }

    func testHeaderBytesReplacedInsertedAndAcrossLines() throws {
        let msg = try SIPMessage.parse(Array(Self.text([Self.requestLine] + Self.lines, body: "body").utf8))
        var e = HeaderEdits()
        XCTAssertEqual(HostTable.textReplace(&e, msg, try range(msg, "old"), Array("new value".utf8)), 0)
        // An insertion at the start of a line: a whole new line before it.
        let xInfo = try range(msg, "X-Info").lowerBound
        XCTAssertEqual(HostTable.textReplace(&e, msg, xInfo..<xInfo, Array("X-Pre: 1\r\n".utf8)), 0)
        // A range over two lines: its text goes out where it starts, the rest of the range is left out.
        XCTAssertEqual(HostTable.textReplace(&e, msg, try range(msg, "tag=1\r\nTo: <sip:b"), Array("tag=9\r\nTo: <sip:c".utf8)), 0)
        XCTAssertEqual(try forward(msg, e), Self.text([Self.requestLine, Self.ourVia, Self.lines[0], "From: <sip:a@example.com>;tag=9",
                                                        "To: <sip:c@example.com>", "Call-ID: c1", "CSeq: 1 INVITE", "X-Pre: 1", "X-Info: new value",
                                                        "Content-Length: 4"], body: "body"))
        // Refused: a range overlapping an earlier one, on a Via line, on the first line, past the header lines.
        XCTAssertEqual(HostTable.textReplace(&e, msg, try range(msg, "ol"), []), -1)
        XCTAssertEqual(HostTable.textReplace(&e, msg, try range(msg, "10.0.0.1"), []), -3)
        XCTAssertEqual(HostTable.textReplace(&e, msg, try range(msg, "INVITE"), []), -1)
        XCTAssertEqual(HostTable.textReplace(&e, msg, try range(msg, "body"), []), -1)
    }

    func testNewBodyGetsItsContentLength() throws {
        let msg = try SIPMessage.parse(Array(Self.text([Self.requestLine] + Self.lines, body: "body").utf8))
        var e = HeaderEdits()
        e.setBody(Array("a longer body".utf8))
        XCTAssertFalse(e.onlyInline)
        var sent = Self.lines
        sent[6] = "Content-Length: 13"
        XCTAssertEqual(try forward(msg, e), Self.text([Self.requestLine, Self.ourVia] + sent, body: "a longer body"))
        // Without a received Content-Length, one is added, over a datagram too.
        let bare = try SIPMessage.parse(Array(Self.text([Self.requestLine] + Self.lines.dropLast()).utf8))
        XCTAssertEqual(try forward(bare, e), Self.text([Self.requestLine, Self.ourVia] + Self.lines.dropLast() + ["Content-Length: 13"],
                                                        body: "a longer body"))
    }

    func testRelayedReplyGetsTheNewStatusLine() throws {
        let lines = ["Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx", "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
                     "From: <sip:a@example.com>;tag=1", "To: <sip:b@example.com>;tag=2", "Call-ID: c1", "CSeq: 1 INVITE", "Content-Length: 0"]
        let msg = try SIPMessage.parse(Array(Self.text(["SIP/2.0 503 Service Unavailable"] + lines).utf8))
        var e = HeaderEdits()
        e.setStatusLine("SIP/2.0 480 Try Later")
        let top = try XCTUnwrap(try msg.vias().first)
        XCTAssertEqual(String(decoding: MessageWriter.relayedReply(msg, topVia: top, edits: e, stream: false), as: UTF8.self),
                       Self.text(["SIP/2.0 480 Try Later"] + lines.dropFirst()))
    }
}
