import XCTest
import SwitchyardSIP
@testable import SwitchyardCore

/// Lines the script adds at one place of the received message go out in the order of the calls, whatever the call
/// (OpenSIPS anchors them at one offset and keeps the order its lumps were made in): top lines (record_route,
/// insert_hf) with lines anchored before the first field, lines anchored after a field with those anchored before the
/// next one, bottom lines (append_hf) with lines anchored after the last field. Our Via follows the lines at its place.
final class MessageWriterCallOrderTests: XCTestCase {
    typealias W = MessageWriterTests

    func forward(_ msg: SIPMessage, _ edits: HeaderEdits) -> String {
        let top = try? msg.vias().first
        let out = MessageWriter.forwardedRequest(msg, newRURI: nil, viaPrefix: "SIP/2.0/UDP 192.0.2.1:5060;branch=",
                                                 branch: .text("z9hG4bKx"), topVia: top ?? nil, topViaText: nil,
                                                 edits: edits, stream: false)
        return String(decoding: out, as: UTF8.self)
    }

    /// The request with its Via first (as a UAC sends it).
    func viaFirst() throws -> (SIPMessage, [String]) {
        let lines = Array(W.requestLines[1...]) + [W.requestLines[0]]
        return (try SIPMessage.parse(Array(W.text([W.requestLine] + lines, body: "body").utf8)), lines)
    }

    /// insert_hf("X: 1\r\n", "Via"); record_route(); insert_hf("Y: 2\r\n"): X, Record-Route, Y, our Via.
    func testTopAndAnchoredBeforeTheFirstFieldInCallOrder() throws {
        let (msg, lines) = try viaFirst()
        var e = HeaderEdits()
        e.addAnchored(AnchoredLine(field: 0, after: false, line: "X: 1"))
        e.addTop("Record-Route: <sip:192.0.2.1;lr>")
        e.addTop("Y: 2")
        XCTAssertEqual(forward(msg, e), W.text(
            [W.requestLine, "X: 1", "Record-Route: <sip:192.0.2.1;lr>", "Y: 2", W.ourVia] + lines, body: "body"))
        // The other order of calls: the other order of lines.
        var f = HeaderEdits()
        f.addTop("Record-Route: <sip:192.0.2.1;lr>")
        f.addAnchored(AnchoredLine(field: 0, after: false, line: "X: 1"))
        XCTAssertEqual(forward(msg, f), W.text(
            [W.requestLine, "Record-Route: <sip:192.0.2.1;lr>", "X: 1", W.ourVia] + lines, body: "body"))
    }

    /// insert_hf("A", "To") before append_hf("B", "From") (From right before To): A, then B, between From and To; and
    /// append_hf("C") then append_hf("D", <last field>): C, D at the end.
    func testAfterAFieldAndBeforeTheNextAndAtTheBottomInCallOrder() throws {
        let msg = try SIPMessage.parse(Array(W.text([W.requestLine] + W.requestLines, body: "body").utf8))
        let from = try XCTUnwrap(W.requestLines.firstIndex { $0.hasPrefix("From:") })
        let last = W.requestLines.count - 1
        var e = HeaderEdits()
        e.addAnchored(AnchoredLine(field: from + 1, after: false, line: "A: 1"))
        e.addAnchored(AnchoredLine(field: from, after: true, line: "B: 2"))
        e.addBottom("C: 3")
        e.addAnchored(AnchoredLine(field: last, after: true, line: "D: 4"))
        var expect = [W.requestLine, W.requestLines[0], W.ourVia] + W.requestLines[1...]
        expect.insert(contentsOf: ["A: 1", "B: 2"], at: expect.firstIndex { $0.hasPrefix("To:") }!)
        expect += ["C: 3", "D: 4"]
        XCTAssertEqual(forward(msg, e), W.text(expect, body: "body"))
    }
}
