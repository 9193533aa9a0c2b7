import Foundation
import XCTest
import SwitchyardTestSupport

/// rr's per-message state and "myself" as OpenSIPS has them: add_rr_param's parameters reach record_route_preset,
/// loose_route knows every listener and alias= (is_myself), the state is invisible to the script (avp_print) and a
/// failure route starts without it (a new processing context in OpenSIPS).
final class RRContextTests: MsgOpsTestCase {
    func receive(_ peer: UDPSocket) -> String? {
        var got: String?
        waitUntil(timeout: 5, poll: 0) { got = peer.receive()?.0; return got != nil }
        return got
    }

    /// OpenSIPS links the pending add_rr_param lumps after `;lr` of the first preset header only; the second header
    /// follows the first, as written.
    func testAddRRParamReachesPreset() throws {
        let (sy, p) = try startSwitchyard(ports: 2) { Self.config(port: $0[0]) + """
            loadmodule "rr.so"
            route {
                add_rr_param(";nat=yes");
                record_route_preset("10.0.0.1:5060", "10.0.0.2:5070;transport=tcp");
                $du = "sip:127.0.0.1:\($0[1])";
                forward();
            }
            """ }
        let callee = try UDPSocket(port: p[1]), caller = try UDPSocket()
        caller.send(RRTests.request("INVITE", proxy: p[0], local: caller.port, callID: "rrp-1"), to: p[0])
        let out = try XCTUnwrap(receive(callee), sy.output)
        XCTAssertEqual(Self.header(out.replacingOccurrences(of: "\r\n", with: "\n"), "Record-Route"),
                       ["<sip:10.0.0.1:5060;ftag=a1;lr;nat=yes>", "<sip:10.0.0.2:5070;transport=tcp;ftag=a1;lr>"], out)
    }

    /// A Route naming an alias= host, or another listening socket of the proxy, is ours: removed, not the next hop.
    func testLooseRouteKnowsAliasesAndEveryListener() throws {
        let (sy, p) = try startSwitchyard(ports: 2) { Self.config(port: $0[0]) + """
            socket = udp:127.0.0.1:\($0[1])
            alias = "sip.example.com:5060"
            loadmodule "rr.so"
            route {
                $var(lr) = loose_route();
                xlog("L_NOTICE", "$ci: lr=$var(lr) params=$rr_params du=$du\\n");
                exit;
            }
            """ }
        let caller = try UDPSocket()
        caller.send(RRTests.request("BYE", proxy: p[0], local: caller.port, callID: "alias-1", toTag: ";tag=b1",
                                    headers: ["Route: <sip:sip.example.com:5060;lr;ftag=a1>, <sip:10.0.0.9:5070;lr>"]),
                    to: p[0])
        XCTAssertTrue(sy.waitFor("alias-1: lr=1 params=lr;ftag=a1 du=sip:10.0.0.9:5070;lr"), sy.output)
        caller.send(RRTests.request("BYE", proxy: p[0], local: caller.port, callID: "other-1", toTag: ";tag=b1",
                                    headers: ["Route: <sip:127.0.0.1:\(p[1]);lr;n=2>, <sip:10.0.0.9:5070;lr>"]), to: p[0])
        XCTAssertTrue(sy.waitFor("other-1: lr=1 params=lr;n=2 du=sip:10.0.0.9:5070;lr"), sy.output)
        // A sips URI without a port means 5061 (get_uri_port): not the 5060 alias.
        caller.send(RRTests.request("BYE", proxy: p[0], local: caller.port, callID: "sips-1", toTag: ";tag=b1",
                                    headers: ["Route: <sips:sip.example.com;lr>"]), to: p[0])
        XCTAssertTrue(sy.waitFor("sips-1: lr=1 params=<null> du=sips:sip.example.com;lr"), sy.output)
    }

    /// record_route in the request route, then in the failure route: OpenSIPS runs the failure route in a new
    /// processing context, so the second call works; avp_print shows none of rr's state.
    func testFailureRouteStartsAfreshAndStateIsHidden() throws {
        let (sy, p) = try startSwitchyard(ports: 3) { Self.config(port: $0[0]) + """
            loadmodule "tm.so"
            loadmodule "rr.so"
            route {
                add_rr_param(";a=1");
                record_route();
                $avp(mine) = "x";
                avp_print();
                t_on_failure("again");
                $du = "sip:127.0.0.1:\($0[1])";
                t_relay();
            }
            failure_route[again] {
                $var(param) = add_rr_param(";b=2");
                $var(rr) = record_route();
                xlog("L_NOTICE", "$ci: failure add_rr_param $var(param) record_route $var(rr)\\n");
                avp_print();
            }
            """ }
        _ = try startUAS("uas_503.xml", port: p[1])
        _ = try runUAC("uac_503.xml", local: p[2], target: p[0], calls: 1)
        XCTAssertTrue(sy.waitFor("failure add_rr_param 1 record_route 1"), sy.output)
        let out = sy.output
        XCTAssertTrue(out.contains("name=<mine>"), out)
        XCTAssertFalse(out.contains("__rr") || out.contains("rr_done") || out.contains("rr_pending"), out)
        XCTAssertFalse(out.contains("Double attempt"), out)
    }
}
