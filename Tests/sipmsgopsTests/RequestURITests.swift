import Foundation
import XCTest
import SwitchyardTestSupport

/// The request-URI functions: parameters added and removed are what the callee gets in the request line; the tests'
/// outcomes are logged.
final class RequestURITests: MsgOpsTestCase {
    func testParametersReachTheCallee() throws {
        let (sy, ports) = try startSwitchyard(ports: 3) { Self.config(port: $0[0]) + """
        route {
            if (is_method("INVITE")) {
                ruri_add_param("gone=1");
                ruri_add_param("tgrp=7");
                ruri_add_param("flag");
                if (ruri_has_param("tgrp", "7")) xlog("L_NOTICE", "tgrp is 7\\n");
                if (!ruri_has_param("tgrp", "8")) xlog("L_NOTICE", "tgrp is not 8\\n");
                if (!ruri_has_param("tgrp")) xlog("L_NOTICE", "tgrp has a value\\n");
                if (ruri_has_param("flag")) xlog("L_NOTICE", "flag without value\\n");
                if (ruri_del_param("gone")) xlog("L_NOTICE", "gone removed\\n");
                if (!ruri_del_param("nothere")) xlog("L_NOTICE", "nothere not found\\n");
                $var(u) = "sip:+4930123456@example.com";
                if (is_uri_user_e164("$var(u)")) xlog("L_NOTICE", "e164 $var(u)\\n");
                if (!is_uri_user_e164("sip:4930123456@example.com")) xlog("L_NOTICE", "no plus, no e164\\n");
                if (is_uri_user_e164("tel:+4930123456;phone-context=x")) xlog("L_NOTICE", "tel e164\\n");
                if (ruri_tel2sip()) xlog("L_NOTICE", "sip stays $ru\\n");
            }
            if (is_method("BYE")) {
                $ru = "tel:+4930123";
                ruri_tel2sip();
                xlog("L_NOTICE", "bye to $ru\\n");
            }
            $du = "sip:127.0.0.1:\($0[1])";
            forward();
        }
        """ }
        let (proxy, uasPort, uacPort) = (ports[0], ports[1], ports[2])
        let uas = try startUAS("uas.xml", port: uasPort)
        let run = try runUAC("uac.xml", local: uacPort, target: proxy, calls: 1)
        assertAllSuccessful(run, calls: 1, sy)
        let invite = Self.messages(uas, "INVITE ").first ?? ""
        XCTAssertTrue(invite.hasPrefix("INVITE sip:1000@127.0.0.1:\(proxy);tgrp=7;flag SIP/2.0"), invite)
        for line in ["tgrp is 7", "tgrp is not 8", "tgrp has a value", "flag without value", "gone removed", "nothere not found",
                     "e164 sip:+4930123456@example.com", "no plus, no e164", "tel e164",
                     "sip stays sip:1000@127.0.0.1:\(proxy);tgrp=7;flag", "bye to sip:+4930123@127.0.0.1;user=phone"] {
            XCTAssertTrue(sy.waitFor(line, timeout: 5), "\(line)\n\(sy.output)")
        }
        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.02) { Self.messages(uas, "BYE ").count == 1 }, uas.report)
        XCTAssertTrue(Self.messages(uas, "BYE ").first?.hasPrefix("BYE sip:+4930123@127.0.0.1;user=phone SIP/2.0") ?? false,
                      uas.report)
    }
}
