import XCTest
import SwitchyardSIP
@testable import SwitchyardCore

/// Lines added at the place of a header the script removed first are still sent, in that header's place. OpenSIPS
/// drops them: its del_lump at that offset comes before the later anchor in the lump list, and process_lumps skips
/// the anchor ("overlapped lumps offsets, ignoring"). Switchyard keeps them (sipmsgops and rr READMEs, differences).
final class MessageWriterRemovedAnchorTests: XCTestCase {
    typealias W = MessageWriterTests

    func forward(_ edits: HeaderEdits) throws -> String {
        let msg = try SIPMessage.parse(Array(W.text([W.requestLine] + W.requestLines, body: "body").utf8))
        let top = try XCTUnwrap(try msg.vias().first)
        let out = MessageWriter.forwardedRequest(msg, newRURI: nil, viaPrefix: "SIP/2.0/UDP 192.0.2.1:5060;branch=",
                                                 branch: .text("z9hG4bKx"), topVia: top, topViaText: nil, edits: edits,
                                                 stream: false)
        return String(decoding: out, as: UTF8.self)
    }

    func index(_ prefix: String) throws -> Int { try XCTUnwrap(W.requestLines.firstIndex { $0.hasPrefix(prefix) }) }

    /// The request as forwarded with no edit, less `removed` and with `lines` where `at` was.
    func expected(removing removed: Int, inserting lines: [String], at: Int) -> String {
        var out = W.requestLines
        out.remove(at: removed)
        out.insert(contentsOf: lines, at: at)
        let via = out.firstIndex { $0.hasPrefix("Via:") }!
        out.insert(W.ourVia, at: via)
        return W.text([W.requestLine] + out, body: "body")
    }

    /// remove_hf("X-Info"); insert_hf("A: 1\r\n", "X-Info"): A is sent where X-Info was.
    func testInsertBeforeARemovedHeaderIsSent() throws {
        let x = try index("X-Info:")
        var e = HeaderEdits()
        e.remove(x)
        e.addAnchored(AnchoredLine(field: x, after: false, line: "A: 1"))
        XCTAssertEqual(try forward(e), expected(removing: x, inserting: ["A: 1"], at: x))
    }

    /// remove_hf("To"); append_hf("A: 1\r\n", "From") (From right before To): A is sent between From and Call-ID.
    func testAppendAfterTheHeaderBeforeARemovedOneIsSent() throws {
        let from = try index("From:"), to = try index("To:")
        XCTAssertEqual(to, from + 1)
        var e = HeaderEdits()
        e.remove(to)
        e.addAnchored(AnchoredLine(field: from, after: true, line: "A: 1"))
        XCTAssertEqual(try forward(e), expected(removing: to, inserting: ["A: 1"], at: to))
    }

    /// remove_hf(<first header>); record_route(): the Record-Route is sent on top.
    func testTopLineAfterRemovingTheFirstHeaderIsSent() throws {
        var e = HeaderEdits()
        e.remove(0)
        e.addTop("Record-Route: <sip:192.0.2.1;lr>")
        XCTAssertEqual(try forward(e), expected(removing: 0, inserting: ["Record-Route: <sip:192.0.2.1;lr>"], at: 0))
    }
}
