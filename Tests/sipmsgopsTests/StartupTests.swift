import Foundation
import XCTest
import SwitchyardTestSupport

/// OpenSIPS's route rules and arities, checked when the script is loaded (file:line:col).
final class StartupTests: MsgOpsTestCase {
    func testRouteRulesAreEnforced() throws {
        for (body, fn, route) in [("onreply_route[r] { ruri_add_param(\"x\"); }", "ruri_add_param", "onreply_route"),
                                  ("onreply_route[r] { append_urihf(\"A: \", \"\\r\\n\"); }", "append_urihf", "onreply_route"),
                                  ("branch_route[b] { is_uri_user_e164(\"$ru\"); }", "is_uri_user_e164", "branch_route"),
                                  ("event_route[E_X] { is_method(\"INVITE\"); }", "is_method", "event_route")] {
            let (status, out) = try check(Self.config(port: LocalPorts.freePorts(1)[0]) + "route { exit; }\n" + body)
            XCTAssertEqual(status, 1, out)
            XCTAssertTrue(out.contains("function '\(fn)' cannot be used in \(route)"), out)
            XCTAssertTrue(out.contains("check.cfg:8:"), "file:line:col of the call\n\(out)")
        }
    }

    func testArgumentsAreChecked() throws {
        for call in ["is_method()", "has_totag(\"x\")", "remove_hf()", "ruri_has_param(\"a\", \"b\", \"c\")",
                     "append_hf(\"X-A: 1\\r\\n\", \"From\", \"x\")"] {
            let (status, out) = try check(Self.config(port: LocalPorts.freePorts(1)[0]) + "route {\n    \(call);\n}\n")
            XCTAssertEqual(status, 1, "\(call)\n\(out)")
            XCTAssertTrue(out.contains("check.cfg:8:5"), "\(call): file:line:col\n\(out)")
        }
    }

    /// Literal arguments are checked at startup (OpenSIPS's fixups), at the place of the argument.
    func testLiteralArgumentsAreCheckedAtStartup() throws {
        for (call, expect) in [("remove_hf_re(\"X-(\")", "check.cfg:8:18: error: remove_hf_re(): bad regular expression 'X-('"),
                               ("if (is_privacy(\"nobody\")) exit", "check.cfg:8:20: error: is_privacy(): 'nobody' is not a privacy value")] {
            let (status, out) = try check(Self.config(port: LocalPorts.freePorts(1)[0]) + "route {\n    \(call);\n}\n")
            XCTAssertEqual(status, 1, "\(call)\n\(out)")
            XCTAssertTrue(out.contains(expect), "\(call)\n\(out)")
        }
        // In variables they are known at run time only: the script loads.
        let (status, out) = try check(Self.config(port: LocalPorts.freePorts(1)[0]) + """
        route { $var(p) = "nobody"; if (is_privacy("$var(p)")) exit; remove_hf_re("$var(p)"); }
        """)
        XCTAssertEqual(status, 0, out)
    }

    func testAWellFormedScriptLoads() throws {
        let (status, out) = try check(Self.config(port: LocalPorts.freePorts(1)[0]) + """
        route {
            if (is_method("CANCEL")) { exit; }
            if (has_totag()) { append_hf("X-In-Dialog: 1\\r\\n"); }
            remove_hf("X-A"); remove_hf_re("^X-"); remove_hf_glob("X-*"); insert_hf("X-B: 2\\r\\n");
            if (is_present_hf("X-C") && has_body() && has_body_part("application/sdp") && is_privacy("id")) exit;
            if (ruri_has_param("a") || ruri_has_param("a", "1")) { ruri_del_param("a"); ruri_add_param("b"); }
            ruri_tel2sip(); append_urihf("X-U: <", ">\\r\\n"); list_hdr_has_option("Supported", "timer");
            append_hf("X-After: 1\\r\\n", "Call-ID"); insert_hf("X-Before: 1\\r\\n", "CSeq");
            if (is_uri_user_e164("$fu")) exit;
        }
        failure_route[f] { if (is_method("INVITE")) append_hf("X-F: 1\\r\\n"); }
        branch_route[b] { remove_hf("X-B"); }
        onreply_route { if (has_body("application/sdp")) remove_hf("X-R"); }
        local_route { if (is_method("OPTIONS")) insert_hf("X-L: 1\\r\\n"); }
        """)
        XCTAssertEqual(status, 0, out)
    }
}
