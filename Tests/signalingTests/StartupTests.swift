import Foundation
import XCTest
import SwitchyardTestSupport

/// OpenSIPS's rules for send_reply (REQUEST, FAILURE and ERROR routes; an int code and a reason), checked when the
/// script is loaded, with the file:line:col of the call.
final class StartupTests: SignalingTestCase {
    func check(_ config: String) throws -> (Int32?, String) {
        let cfg = "\(workDir)/check.cfg"
        try config.write(toFile: cfg, atomically: true, encoding: .utf8)
        return try BinaryRunner.run(["-c", "-f", cfg], cwd: workDir)
    }

    func testRoutesAndArguments() throws {
        for (body, expect) in [("onreply_route[r] { send_reply(200, \"OK\"); }", "function 'send_reply' cannot be used in onreply_route"),
                               ("branch_route[b] { send_reply(486, \"Busy\"); }", "function 'send_reply' cannot be used in branch_route"),
                               ("route[x] { send_reply(486); }", "too few arguments for send_reply()"),
                               ("route[x] { send_reply(\"busy\", \"Busy\"); }", "send_reply(): parameter 1 expects an integer"),
                               // A literal code out of range is refused at startup, at the code (OpenSIPS's fixup).
                               ("route[x] { send_reply(700, \"Big\"); }", "check.cfg:9:23: error: send_reply(): wrong code 700, allowed values: 1xx - 6xx only"),
                               ("route[x] { send_reply(\"99\", \"Small\"); }", "check.cfg:9:23: error: send_reply(): wrong code 99")] {
            let (status, out) = try check(Self.config(port: LocalPorts.freePorts(1)[0], tm: true) + "route { exit; }\n" + body)
            XCTAssertEqual(status, 1, "\(body)\n\(out)")
            XCTAssertTrue(out.contains(expect), "\(body)\n\(out)")
            XCTAssertTrue(out.contains("check.cfg:9:"), "\(body): file:line:col\n\(out)")
        }
        for tm in [true, false] {
            let (status, out) = try check(Self.config(port: LocalPorts.freePorts(1)[0], tm: tm) + """
            route { send_reply(404, "Not Found"); $var(c) = 700; send_reply($var(c), "Dynamic"); }
            failure_route[f] { send_reply(500, "Server Error"); }
            error_route { send_reply(400, "Bad Request"); }
            """)
            XCTAssertEqual(status, 0, out)
        }
    }
}
