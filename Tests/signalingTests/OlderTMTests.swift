import Foundation
import XCTest
import SwitchyardTestSupport

/// signaling against a tm that publishes API 1.1 (no module_t_reply), the C fixture Tests/SIP/signaling/plugins/
/// tm_api_1_1.c: the server starts, a request without a transaction is answered statelessly, and one with a
/// transaction is not answered at all (never statelessly over a transaction).
final class OlderTMTests: SignalingTestCase {
    /// Builds the fixture as a third party would, against the repository's headers, with zero warnings.
    func buildOldTM() throws -> String {
        try CPlugin.build("Tests/SIP/signaling/plugins/tm_api_1_1.c", into: workDir)
    }

    func testTMAPI11() throws {
        let tm = try buildOldTM()
        let (sy, ports) = try startSwitchyard(ports: 1) { Self.config(port: $0[0], tm: false) + """
        loadmodule "\(tm)"
        route {
            if ($rU == "tran") {
                fake_tran();
                if (!send_reply(486, "Busy Here")) xlog("L_NOTICE", "not answered over the transaction $ci\\n");
                exit;
            }
            if (send_reply(404, "Not Found")) xlog("L_NOTICE", "answered $ci\\n");
            exit;
        }
        """ }
        let proxy = ports[0]
        XCTAssertTrue(sy.output.contains("tm: published API 1.1, rc 0"), sy.output)
        XCTAssertTrue(sy.output.contains("tm API older than 1.2: stateless replies, none over a transaction"), sy.output)
        let caller = try UDPSocket()
        // No transaction: the fixture's module_t_state says -1, the reply is stateless.
        caller.send(Self.invite(user: "plain", proxy: proxy, local: caller.port, callID: "old-tm-plain",
                                branch: "z9hG4bK-old-plain"), to: proxy)
        let reply = Self.receive(caller, startingWith: "SIP/2.0 404")
        XCTAssertEqual(reply?.components(separatedBy: "\r\n").first, "SIP/2.0 404 Not Found", sy.output)
        XCTAssertTrue(reply?.contains("Call-ID: old-tm-plain") == true, reply ?? "")
        XCTAssertTrue(sy.waitFor("answered old-tm-plain"), sy.output)
        XCTAssertTrue(sy.output.contains("tm: state -1"), sy.output)
        // A transaction this tm cannot reply on: -1, logged, and nothing sent.
        caller.send(Self.invite(user: "tran", proxy: proxy, local: caller.port, callID: "old-tm-tran",
                                branch: "z9hG4bK-old-tran"), to: proxy)
        XCTAssertTrue(sy.waitFor("not answered over the transaction old-tm-tran"), sy.output)
        XCTAssertTrue(sy.output.contains("tm: state 0"), sy.output)
        XCTAssertTrue(sy.output.contains("the loaded tm cannot reply on it"), sy.output)
        // One worker: the next request's reply comes after anything the previous one sent.
        caller.send(Self.invite(user: "plain", proxy: proxy, local: caller.port, callID: "old-tm-after",
                                branch: "z9hG4bK-old-after"), to: proxy)
        let next = Self.receive(caller, startingWith: "SIP/2.0")
        XCTAssertTrue(next?.contains("Call-ID: old-tm-after") == true, "a reply sent over the transaction: \(next ?? "none")")
        XCTAssertTrue(sy.process.isRunning)
    }
}
