import Foundation
import XCTest
import SwitchyardTestSupport

/// TMCB_REQUEST_IN callbacks run before the transaction keeps the request and before the 100 Trying is built: a
/// callback (Tests/SIP/tm/plugins/tm_request_in.c) sees nothing sent upstream yet, and the AVP it sets on the request
/// reaches the failure route.
final class RequestInOrderTests: TMTestCase {
    func buildPlugin() throws -> String {
        try CPlugin.build("Tests/SIP/tm/plugins/tm_request_in.c", into: workDir)
    }

    func testCallbacksRunBeforeTheTransactionKeepsTheRequest() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, busy, caller) = (ports[0], ports[1], ports[2])
        let plugin = try buildPlugin()
        let sy = try startSwitchyard(Self.config(port: proxy, extra: "loadmodule \"\(plugin)\"") + """
        route {
            t_on_failure("f");
            $du = "sip:127.0.0.1:\(busy)";
            t_relay();
        }
        failure_route[f] { xlog("L_NOTICE", "failure sees $avp(req_in)\\n"); }
        """, port: proxy)
        XCTAssertTrue(sy.waitFor("tm_request_in: registered"), sy.output)
        let uas = try startUAS("uas_486.xml", port: busy)
        let run = try runUAC("uac_486.xml", local: caller, target: proxy, calls: 1, timeout: 10)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(uas, lastReceived: "ACK ", calls: 1), uas.report)
        XCTAssertEqual(run.uac.received("SIP/2.0 100 Giving it a try"), 1, run.uac.report)
        XCTAssertTrue(sy.waitFor("tm_request_in: code=0"), sy.output)
        XCTAssertTrue(sy.waitFor("failure sees seen"), sy.output)
    }
}
