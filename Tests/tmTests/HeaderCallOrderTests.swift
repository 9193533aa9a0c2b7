import Foundation
import XCTest
import SwitchyardTestSupport

/// Lines the script puts before a request's first header (its Via, as a UAC sends it) reach the callee in the order
/// of the calls, as OpenSIPS's lumps at one offset: `insert_hf(.., "Via")` then `record_route()` sends that line, then
/// Record-Route, then our Via; the other order of calls, the other order of lines. Raw UDP peers, t_relay.
final class HeaderCallOrderTests: TMTestCase {
    func testLinesBeforeTheFirstHeaderKeepCallOrder() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        loadmodule "sipmsgops.so"
        loadmodule "rr.so"
        """) + """
        route {
            if ($rU == "first") { insert_hf("X-Line: 1\\r\\n", "Via"); record_route(); }
            else { record_route(); insert_hf("X-Line: 1\\r\\n", "Via"); }
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        var seen: [String] = []
        for (user, expected) in [("first", ["X-Line: 1", "Record-Route:", "Via: SIP/2.0/UDP 127.0.0.1:\(proxy)"]),
                                 ("rr", ["Record-Route:", "X-Line: 1", "Via: SIP/2.0/UDP 127.0.0.1:\(proxy)"])] {
            uac.send(RawSIP.request("MESSAGE", ruri: "sip:\(user)@h", localPort: caller, branch: "z9hG4bK-order-\(user)",
                                    callID: "order-\(user)@test"), to: proxy)
            let got = try XCTUnwrap(uas.receive(startingWith: "MESSAGE sip:\(user)@", timeout: 5, seen: &seen),
                                    "\(seen)\n\(sy.output)")
            let lines = got.components(separatedBy: "\r\n")
            // After the request line: the two lines in call order, our Via, then the caller's.
            XCTAssertGreaterThan(lines.count, 4, got)
            XCTAssertTrue(zip(lines.dropFirst(), expected).allSatisfy { $0.hasPrefix($1) }, "\(user): \(got)")
            XCTAssertTrue(lines.count > 4 && lines[4].hasPrefix("Via: SIP/2.0/UDP 127.0.0.1:\(caller)"), got)
            uas.send(BranchURITests.answer(got, "200 OK"), to: proxy)
            XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        }
    }
}
