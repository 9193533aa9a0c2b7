import XCTest
import SwitchyardSIP
@testable import SwitchyardCore

/// The stateless / local reply (sl_send_reply, tm's 100 Trying and t_reply) byte for byte, as statelessReply(into:)
/// writes it into a reused writer: status line, the request's Vias (the top one with received/rport), From, To (a tag
/// added from 180 on), Call-ID, CSeq, Record-Route on 18x/2xx only, the extra lines, Server, `Content-Length: 0`.
final class StatelessReplyBytesTests: XCTestCase {
    static let request = [
        "INVITE sip:b@example.com SIP/2.0",
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport",
        "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK0",
        "Max-Forwards: 70",
        "Record-Route: <sip:rr1.example.com;lr>",
        "From: <sip:a@example.com>;tag=f1",
        "To: <sip:b@example.com>",
        "Call-ID: c1@10.0.0.1",
        "CSeq: 7 INVITE",
        "Record-Route: <sip:rr2.example.com;lr>",
        "Contact: <sip:a@10.0.0.1>",
        "Content-Length: 4",
    ].joined(separator: "\r\n") + "\r\n\r\nbody"

    /// The reply built into `writer` (which may hold an earlier message: it is emptied first), as text.
    func reply(_ writer: inout ByteWriter, code: Int, reason: String, toTag: String?, extra: String = "",
               server: String? = nil) throws -> String {
        let msg = try SIPMessage.parse(Array(Self.request.utf8))
        let top = try XCTUnwrap(try msg.vias().first)
        let source = try XCTUnwrap(SocketAddress(ip: "192.0.2.9", port: 5062))
        let viaText = MessageWriter.viaWithSource(msg, top, source, reply: true)
        MessageWriter.statelessReply(into: &writer, to: msg, code: code, reason: reason, topVia: top, topViaText: viaText,
                                     toTag: toTag, extraHeaders: extra, server: server)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    func testTryingHasNoTagNoRecordRouteAndTheReceivedRportVia() throws {
        var w = ByteWriter(capacity: 16)
        defer { w.release() }
        XCTAssertEqual(try reply(&w, code: 100, reason: "Trying", toTag: nil), [
            "SIP/2.0 100 Trying",
            "Via: SIP/2.0/UDP 10.0.0.1:5060;received=192.0.2.9;branch=z9hG4bK1;rport=5062",
            "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK0",
            "From: <sip:a@example.com>;tag=f1",
            "To: <sip:b@example.com>",
            "Call-ID: c1@10.0.0.1",
            "CSeq: 7 INVITE",
            "Content-Length: 0",
        ].joined(separator: "\r\n") + "\r\n\r\n")
    }

    func testRingingHasTheTagRecordRoutesExtraLinesAndServer() throws {
        var w = ByteWriter(capacity: 16)
        defer { w.release() }
        // An earlier, longer message in the reused writer leaves nothing behind.
        w.append(text: String(repeating: "x", count: 2000))
        XCTAssertEqual(try reply(&w, code: 180, reason: "Ringing", toTag: "t-42",
                                 extra: "Contact: <sip:b@192.0.2.1>\r\nX-Extra: 1\r\n", server: "Server: Switchyard"), [
            "SIP/2.0 180 Ringing",
            "Via: SIP/2.0/UDP 10.0.0.1:5060;received=192.0.2.9;branch=z9hG4bK1;rport=5062",
            "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK0",
            "Record-Route: <sip:rr1.example.com;lr>",
            "From: <sip:a@example.com>;tag=f1",
            "To: <sip:b@example.com>;tag=t-42",
            "Call-ID: c1@10.0.0.1",
            "CSeq: 7 INVITE",
            "Record-Route: <sip:rr2.example.com;lr>",
            "Contact: <sip:b@192.0.2.1>",
            "X-Extra: 1",
            "Server: Switchyard",
            "Content-Length: 0",
        ].joined(separator: "\r\n") + "\r\n\r\n")
    }

    func testAFailureHasNoRecordRouteAndAThreeDigitStatusFromAnyCode() throws {
        var w = ByteWriter(capacity: 16)
        defer { w.release() }
        XCTAssertEqual(try reply(&w, code: 486, reason: "Busy Here", toTag: "t-1"), [
            "SIP/2.0 486 Busy Here",
            "Via: SIP/2.0/UDP 10.0.0.1:5060;received=192.0.2.9;branch=z9hG4bK1;rport=5062",
            "Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK0",
            "From: <sip:a@example.com>;tag=f1",
            "To: <sip:b@example.com>;tag=t-1",
            "Call-ID: c1@10.0.0.1",
            "CSeq: 7 INVITE",
            "Content-Length: 0",
        ].joined(separator: "\r\n") + "\r\n\r\n")
    }
}
