import XCTest
@testable import SwitchyardSIP

/// `SIPMessage.salvageRequest`: what error_route sees of a request that did not parse.
final class SalvageTests: XCTestCase {
    func salvage(_ text: String, cut: Int? = nil) -> SIPMessage? {
        SIPMessage.salvageRequest(Array(text.utf8), cut: cut)
    }

    func testOnlyLineEndsIsNothing() {
        XCTAssertNil(salvage("\r\n\r\n\n\r"))
        XCTAssertNil(salvage(""))
    }

    func testNoLineFeedAtAllIsNothing() {
        // The request line never ends: OpenSIPS cannot read it either, and runs no error_route.
        XCTAssertNil(salvage("OPTIONS sip:a@example.com SIP/2.0"))
        XCTAssertNil(salvage("OPTIONS sip:a@example.com SIP/2.0\rVia: SIP/2.0/UDP h\r"))
    }

    func testReplyOrBadRequestLineIsNothing() {
        XCTAssertNil(salvage("SIP/2.0 200 OK\r\nCall-ID: x\r\n\r\n"))
        XCTAssertNil(salvage("OPTIONS\r\nCall-ID: x\r\n\r\n"))
        XCTAssertNil(salvage("OPTIONS sip:a@b HTTP/1.1\r\n\r\n"))
    }

    func testUnterminatedContinuationLine() throws {
        let m = try XCTUnwrap(salvage("OPTIONS sip:a@example.com SIP/2.0\r\nSubject: x\r\nCall-ID: c1\r\n  more"))
        XCTAssertEqual(m.method, "OPTIONS")
        XCTAssertEqual(m.header("Subject"), "x")
        XCTAssertEqual(m.callID, "c1")
        XCTAssertEqual(m.fields.count, 2)
        XCTAssertTrue(m.body.isEmpty)
    }

    func testHeaderLineThatIsJustAColonEndsTheHeaders() throws {
        let text = "OPTIONS sip:a@example.com SIP/2.0\r\nCall-ID: c1\r\n:\r\nSubject: after\r\n\r\n"
        let m = try XCTUnwrap(salvage(text))
        XCTAssertEqual(m.callID, "c1")
        XCTAssertNil(m.header("Subject"))
        XCTAssertEqual(m.fields.count, 1)
        // The rest of the buffer, from the bad line, is the body.
        XCTAssertEqual(String(decoding: m.body, as: UTF8.self), ":\r\nSubject: after\r\n\r\n")
    }

    func testCutAtTheBadHeaderLeavesItAndWhatFollowsOut() throws {
        let text = "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\nVia: garbage\r\n"
            + "Call-ID: c1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCSeq: 1 OPTIONS\r\n\r\n"
        // The parser gives the offset of the Via it could not read.
        let parsed = try SIPMessage.parse(Array(text.utf8))
        var offset: Int? = nil
        do { _ = try parsed.vias() } catch { offset = error.offset }
        let at = try XCTUnwrap(offset)
        XCTAssertEqual(at, text.utf8.count - "Via: garbage\r\nCall-ID: c1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCSeq: 1 OPTIONS\r\n\r\n".utf8.count)
        let m = try XCTUnwrap(salvage(text, cut: at))
        XCTAssertEqual(m.headers("Via").count, 1)
        XCTAssertNil(m.callID)
        XCTAssertEqual(try m.vias().first?.host, "10.0.0.1")
        // Uncut, the bad Via and the Call-ID are there.
        XCTAssertEqual(try XCTUnwrap(salvage(text)).callID, "c1")
    }

    func testParseErrorsCarryTheBadHeadersOffset() {
        func offset(_ text: String) -> Int? {
            do { _ = try SIPMessage.parse(Array(text.utf8)); return nil } catch { return error.offset }
        }
        let head = "OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        let at = head.utf8.count
        XCTAssertEqual(offset(head + "CSeq: x OPTIONS\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: c\r\n\r\n"), at)
        XCTAssertEqual(offset(head + "To: <sip:b@c\r\nFrom: <sip:a@b>;tag=1\r\nCSeq: 1 OPTIONS\r\nCall-ID: c\r\n\r\n"), at)
        XCTAssertEqual(offset(head + "Content-Length: abc\r\n\r\n"), at)
        XCTAssertEqual(offset(head + ":\r\n\r\n"), at)
    }
}
