import Foundation
import XCTest
import SwitchyardTestSupport

/// add_body_part and remove_body_part (sipmsgops) on a call through a stateless proxy: the callee gets the bodies
/// built, each with its Content-Type and Content-Length.
final class BodyPartTests: TextOpsTestCase {
    func testPartsAddedAndRemoved() throws {
        let (sy, ports) = try startSwitchyard(ports: 3) { Self.config(port: $0[0]) + """
        route {
            if (is_method("INVITE")) {
                if (add_body_part("<presence/>", "application/pidf+xml", "Content-ID: <p1>\\r\\n")) append_hf("X-Added: 1\\r\\n");
                add_body_part("note", "text/plain");
                if (remove_body_part("text/plain")) append_hf("X-Removed: 1\\r\\n");
                if (!remove_body_part("image/png")) append_hf("X-Not-Removed: 1\\r\\n");
            }
            if (is_method("ACK")) {
                if (!remove_body_part()) append_hf("X-No-Body: 1\\r\\n");
            }
            if (is_method("BYE")) add_body_part("bye text", "text/plain");
            $du = "sip:127.0.0.1:\($0[1])";
            forward();
        }
        """ }
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let uas = try startUAS("uas.xml", port: uasPort)
        let run = try runUAC("uac_textops.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)

        let inv = try XCTUnwrap(Self.messages(uas, "INVITE ").first, uas.report)
        let text = inv.joined(separator: "\n")
        let b = "OSS-unique-boundary-42"
        XCTAssertEqual(Self.header(inv, "Content-Type"), ["multipart/mixed;boundary=\(b)"], text)
        XCTAssertEqual(Self.header(inv, "X-Added") + Self.header(inv, "X-Removed") + Self.header(inv, "X-Not-Removed"),
                       ["1", "1", "1"], text)
        let body = Self.body(inv)
        XCTAssertEqual(body.first, "--\(b)", text)
        XCTAssertEqual(Array(body.dropFirst().prefix(3)), ["Content-Type: application/sdp", "", "v=0"], text)
        XCTAssertEqual(Array(body.suffix(6)), ["--\(b)", "Content-Type: application/pidf+xml", "Content-ID: <p1>", "",
                                               "<presence/>", "--\(b)--"], text)
        XCTAssertEqual(body.filter { $0 == "--\(b)" }.count, 2, text)
        XCTAssertEqual(Self.header(inv, "Content-Length"), [String(Self.bodyLength(inv))], text)

        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.02) { Self.messages(uas, "BYE ").count == 1 }, uas.report)
        let ack = try XCTUnwrap(Self.messages(uas, "ACK ").first, uas.report)
        XCTAssertEqual(Self.header(ack, "X-No-Body"), ["1"], ack.joined(separator: "\n"))
        let bye = try XCTUnwrap(Self.messages(uas, "BYE ").first, uas.report)
        XCTAssertEqual(Self.header(bye, "Content-Type"), ["text/plain"], bye.joined(separator: "\n"))
        XCTAssertEqual(Self.body(bye), ["bye text"], bye.joined(separator: "\n"))
        XCTAssertEqual(Self.header(bye, "Content-Length"), ["8"], bye.joined(separator: "\n"))
    }
}
