import Foundation
import XCTest
import SwitchyardTestSupport

/// t_reply_with_body on the wire (the core builds the reply in the thread's output buffer, then replaces its
/// `Content-Length: 0` with the body's length and the body): a sipp UAC checks the 200's Content-Length, body and To
/// tag, and its trace shows the bytes: one Content-Length, the blank line, the body.
final class ReplyWithBodyTests: TMTestCase {
    func testTReplyWithBodySendsTheBodyAndItsLength() throws {
        let uacPort = LocalPorts.freeUDPPort()
        let (sy, ports) = try startSwitchyard(ports: 1, avoid: [uacPort]) { ports in
            Self.config(port: ports[0]) + """
            route {
                if (!t_newtran()) exit;
                t_reply_with_body(200, "OK", "hello");
            }
            """
        }
        let run = try runUAC("uac_message_body_check.xml", local: uacPort, target: ports[0], calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        let received = run.uac.trace.components(separatedBy: "message received").dropFirst()
        let reply = try XCTUnwrap(received.first { $0.contains("SIP/2.0 200 OK") }, run.uac.report)
        XCTAssertTrue(reply.contains("\r\nContent-Length: 5\r\n\r\nhello"), reply)
        XCTAssertEqual(reply.components(separatedBy: "Content-Length:").count - 1, 1, "one Content-Length: \(reply)")
    }
}
