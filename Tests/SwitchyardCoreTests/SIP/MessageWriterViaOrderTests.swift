import XCTest
import SwitchyardSIP
@testable import SwitchyardCore

/// Where our Via goes among the script's lines on the slow path (header edits beyond one inline value): lines
/// anchored before the received top Via come before it, lines anchored after the field ahead of that Via too, a
/// removed field ahead of it leaves it right before the Via; with a stream hop the missing Content-Length is added.
final class MessageWriterViaOrderTests: XCTestCase {
    typealias W = MessageWriterTests

    func forward(_ msg: SIPMessage, _ edits: HeaderEdits, stream: Bool = true) -> String {
        let top = try? msg.vias().first
        let out = MessageWriter.forwardedRequest(msg, newRURI: nil, viaPrefix: "SIP/2.0/UDP 192.0.2.1:5060;branch=",
                                                 branch: .text("z9hG4bKx"), topVia: top ?? nil, topViaText: nil,
                                                 edits: edits, stream: stream)
        return String(decoding: out, as: UTF8.self)
    }

    func request(_ headers: [String], body: String = "body") throws -> SIPMessage {
        try SIPMessage.parse(Array(W.text([W.requestLine] + headers, body: body).utf8))
    }

    /// insert_hf("X: 1\r\n", "Via"): a line anchored before the received top Via goes before our Via.
    func testLineAnchoredAtTheTopViaGoesBeforeOurVia() throws {
        var e = HeaderEdits()
        e.addAnchored(AnchoredLine(field: 1, after: false, line: "X: 1"))
        XCTAssertEqual(forward(try request(W.requestLines), e), W.text(
            [W.requestLine, W.requestLines[0], "X: 1", W.ourVia] + W.requestLines[1...], body: "body"))
    }

    /// A line anchored after Max-Forwards (the field right before the received Via) also goes before our Via.
    func testLineAnchoredAfterTheFieldBeforeTheViaGoesBeforeOurVia() throws {
        var e = HeaderEdits()
        e.addAnchored(AnchoredLine(field: 0, after: true, line: "X: 2"))
        XCTAssertEqual(forward(try request(W.requestLines), e), W.text(
            [W.requestLine, W.requestLines[0], "X: 2", W.ourVia] + W.requestLines[1...], body: "body"))
    }

    /// Max-Forwards removed and a top line: the top line, then our Via, then the received Via.
    func testRemovedFieldBeforeTheViaWithATopLine() throws {
        var e = HeaderEdits()
        e.remove(0)
        e.addTop("Record-Route: <sip:192.0.2.1;lr>")
        XCTAssertEqual(forward(try request(W.requestLines), e), W.text(
            [W.requestLine, "Record-Route: <sip:192.0.2.1;lr>", W.ourVia] + W.requestLines[1...], body: "body"))
    }

    /// The slow path toward a stream hop on a request without Content-Length: it is added after the headers.
    func testSlowPathAddsContentLengthForAStream() throws {
        let headers = Array(W.requestLines.dropLast())
        var e = HeaderEdits()
        e.addTop("Record-Route: <sip:192.0.2.1;lr>")
        let msg = try request(headers)
        XCTAssertEqual(forward(msg, e, stream: true), W.text(
            [W.requestLine, "Record-Route: <sip:192.0.2.1;lr>", headers[0], W.ourVia] + headers[1...]
                + ["Content-Length: 4"], body: "body"))
        XCTAssertEqual(forward(msg, e, stream: false), W.text(
            [W.requestLine, "Record-Route: <sip:192.0.2.1;lr>", headers[0], W.ourVia] + headers[1...], body: "body"))
    }

    /// A request without a Via never reaches the writer (the parser refuses it), so the writer places our Via only at
    /// the received top Via.
    func testRequestWithoutViaIsRefusedByTheParser() {
        let headers = W.requestLines.filter { !$0.hasPrefix("Via:") }
        XCTAssertThrowsError(try request(headers))
    }
}
