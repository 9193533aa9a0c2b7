import XCTest
import SwitchyardSIP
@testable import SwitchyardCore

/// The top Via as OpenSIPS rewrites it (received_builder / rport_builder, placed by build_req_buf_from_sip_req for a
/// forwarded request and build_res_buf_from_sip_req for a local reply).
final class ViaSourceTests: XCTestCase {
    func via(_ value: String, from ip: String = "127.0.0.1", port: Int = 5062, force: Bool = false,
             reply: Bool = false) throws -> String? {
        let text = "INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP \(value)\r\nFrom: <sip:a@x>;tag=1\r\n"
            + "To: <sip:b@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        let msg = try SIPMessage.parse(Array(text.utf8))
        let top = try XCTUnwrap(try msg.vias().first)
        let source = try XCTUnwrap(SocketAddress(ip: ip, port: port))
        return MessageWriter.viaWithSource(msg, top, source, forceRport: force, reply: reply)
    }

    func testSameAddressNoRportIsUnchanged() throws {
        XCTAssertNil(try via("127.0.0.1:5062;branch=z9hG4bK1"))
        XCTAssertNil(try via("127.0.0.1:5062;branch=z9hG4bK1", reply: true))
    }

    func testOtherAddressGetsReceivedAfterHostPort() throws {
        XCTAssertEqual(try via("10.0.0.1:5062;branch=z9hG4bK1"), "SIP/2.0/UDP 10.0.0.1:5062;received=127.0.0.1;branch=z9hG4bK1")
        XCTAssertEqual(try via("10.0.0.1:5062;branch=z9hG4bK1", reply: true),
                       "SIP/2.0/UDP 10.0.0.1:5062;received=127.0.0.1;branch=z9hG4bK1")
    }

    func testForcedRportOnForwardedRequest() throws {
        XCTAssertEqual(try via("127.0.0.1:5062;branch=z9hG4bK1", port: 5070, force: true),
                       "SIP/2.0/UDP 127.0.0.1:5062;rport=5070;received=127.0.0.1;branch=z9hG4bK1")
    }

    func testForcedRportOnLocalReply() throws {
        XCTAssertEqual(try via("127.0.0.1:5062;branch=z9hG4bK1", port: 5070, force: true, reply: true),
                       "SIP/2.0/UDP 127.0.0.1:5062;received=127.0.0.1;rport=5070;branch=z9hG4bK1")
    }

    func testViaRportFilledInPlace() throws {
        XCTAssertEqual(try via("127.0.0.1:5062;branch=z9hG4bK1;rport", port: 5070),
                       "SIP/2.0/UDP 127.0.0.1:5062;received=127.0.0.1;branch=z9hG4bK1;rport=5070")
        XCTAssertEqual(try via("127.0.0.1:5062;rport;branch=z9hG4bK1", port: 5070, reply: true),
                       "SIP/2.0/UDP 127.0.0.1:5062;received=127.0.0.1;rport=5070;branch=z9hG4bK1")
    }

    func testReceivedReplacedInPlaceOnRequest() throws {
        XCTAssertEqual(try via("127.0.0.1:5062;branch=z9hG4bK1;received=1.2.3.4"),
                       "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1;received=127.0.0.1")
        XCTAssertEqual(try via("127.0.0.1:5062;branch=z9hG4bK1;received=1.2.3.4", port: 5070, force: true),
                       "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK1;rport=5070;received=127.0.0.1")
    }
}
