import XCTest
@testable import SwitchyardSIP

/// The known-method table behind the CSeq check: each of the 14 methods must match its own CSeq method, and a method
/// the table does not know (case differs, a prefix, a longer token) leaves the CSeq alone.
final class KnownMethodTests: XCTestCase {
    static let known = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "PRACK", "SUBSCRIBE", "NOTIFY",
                        "UPDATE", "MESSAGE", "REFER", "PUBLISH"]

    private func request(_ method: String, cseq: String) -> [UInt8] {
        Array(("\(method) sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n"
            + "To: <sip:bob@example.com>\r\nFrom: <sip:a@example.com>;tag=1\r\nCall-ID: c1\r\nCSeq: 1 \(cseq)\r\n"
            + "Content-Length: 0\r\n\r\n").utf8)
    }

    private func isKnown(_ m: String) -> Bool {
        let b = Array(("x" + m + "y").utf8)  // the method inside a larger buffer, as the parser sees it
        return b.withUnsafeBufferPointer { SIPParser.knownMethod($0, 1..<(1 + m.utf8.count)) }
    }

    func testEveryKnownMethodIsInTheTable() {
        for m in Self.known { XCTAssertTrue(isKnown(m), m) }
        for m in ["invite", "Invite", "INV", "INVITEX", "ACKS", "BY", "REGISTERS", "SUBSCRIBX", "PUBLISHX", "FOO", "", "NOTIFZ"] {
            XCTAssertFalse(isKnown(m), m)
        }
    }

    func testKnownMethodNeedsItsOwnCSeqMethod() throws {
        for (i, m) in Self.known.enumerated() {
            XCTAssertEqual(try SIPMessage.parse(request(m, cseq: m)).method, m)
            // Another known method of the same length, and one of another length: both refused.
            let other = Self.known[(i + 1) % Self.known.count]
            XCTAssertThrowsError(try SIPMessage.parse(request(m, cseq: other)), "\(m) / \(other)")
            XCTAssertThrowsError(try SIPMessage.parse(request(m, cseq: m.lowercased())), "\(m) / lower case")
            XCTAssertThrowsError(try SIPMessage.parse(request(m, cseq: m + "X")), "\(m) / longer")
        }
        XCTAssertThrowsError(try SIPMessage.parse(request("NOTIFY", cseq: "UPDATE")), "same length")
    }

    func testUnknownMethodKeepsAMismatchedCSeq() throws {
        for m in ["invite", "INV", "INVITEX"] {
            XCTAssertEqual(try SIPMessage.parse(request(m, cseq: "INVITE")).method, m)
        }
    }
}
