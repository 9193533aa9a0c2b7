import Foundation
import XCTest
import SwitchyardTestSupport

/// append_to_reply: the lines reach the replies the proxy itself sends for the request, stateless (sl_send_reply) and
/// stateful (t_reply), and not the request it forwards.
final class ReplyTests: MsgOpsTestCase {
    func testLinesReachLocalReplies() throws {
        for (module, reply) in [("sl", "sl_send_reply(404, \"Not Here\");"), ("tm", "t_reply(404, \"Not Here\");")] {
            let (sy, p) = try startSwitchyard(ports: 2) { Self.config(port: $0[0], extra: "loadmodule \"\(module).so\"") + """

            route {
                if (is_method("ACK")) exit;
                append_to_reply("X-Reply-A: 1\\r\\nX-Reply-B: two\\r\\n");
                \(reply)
            }
            """ }
            let run = try runUAC("uac_404.xml", local: p[1], target: p[0], calls: 1)
            assertAllSuccessful(run, calls: 1, sy)
            let replies = Self.messages(run.1, "SIP/2.0 404")
            XCTAssertFalse(replies.isEmpty, "\(module): \(run.1.trace)")
            for r in replies {
                XCTAssertEqual(Self.header(r, "X-Reply-A"), ["1"], "\(module):\n\(r)")
                XCTAssertEqual(Self.header(r, "X-Reply-B"), ["two"], "\(module):\n\(r)")
                let lines = r.components(separatedBy: "\n")
                XCTAssertEqual(lines.firstIndex { $0.hasPrefix("X-Reply-B:") }, lines.firstIndex { $0.hasPrefix("X-Reply-A:") }.map { $0 + 1 },
                               "in order\n\(r)")
            }
        }
    }

    func testRouteRules() throws {
        let (status, out) = try check(Self.config(port: LocalPorts.freePorts(1)[0]) + "route { exit; }\nonreply_route[r] { append_to_reply(\"X-A: 1\\r\\n\"); }")
        XCTAssertEqual(status, 1, out)
        XCTAssertTrue(out.contains("function 'append_to_reply' cannot be used in onreply_route"), out)
    }
}
