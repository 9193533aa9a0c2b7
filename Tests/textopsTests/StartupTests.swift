import Foundation
import XCTest
import SwitchyardTestSupport

/// Literal expressions are checked at startup (OpenSIPS's fixups): a bad one names the place of the argument.
final class StartupTests: TextOpsTestCase {
    func testBadExpressionsStopStartup() throws {
        let port = LocalPorts.freePorts(1)[0]
        for (call, reason) in [("search(\"a(\")", "bad regular expression 'a('"),
                               ("replace_all(\"[x\", \"y\")", "bad regular expression '[x'"),
                               ("subst(\"/a/b\")", "bad subst expression '/a/b'"),
                               ("subst_uri(\"/a/b/q\")", "unknown flag 'q'"),
                               ("subst_body(\"/a/\\\\1/\")", "names a group the expression does not have")] {
            let (status, out) = try check(Self.config(port: port) + "route {\n    \(call);\n}\n")
            XCTAssertNotEqual(status, 0, "\(call)\n\(out)")
            XCTAssertTrue(out.contains(reason), "\(call)\n\(out)")
            XCTAssertTrue(out.contains("check.cfg:"), "\(call)\n\(out)")
        }
        let (status, out) = try check(Self.config(port: port) + "route { exit; }\nonreply_route { codec_delete(\"PCMA\"); }\n"
                                      + "failure_route[f] { change_reply_status(500, \"x\"); }\n")
        XCTAssertNotEqual(status, 0, out)
        XCTAssertTrue(out.contains("function 'change_reply_status' cannot be used in failure_route"), out)
    }
}
