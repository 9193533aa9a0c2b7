import Foundation
import XCTest
import SwitchyardTestSupport

/// `$(<reply>..)` and `$(<request>..)` in a failure route read the reply as received (our Via on top) and the stored
/// request, also after the route's own final reply ended the transaction, and in a replica's failure route.
final class PVContextLifetimeTests: TMTestCase {
    static func script(uas: Int) -> String {
        """
        loadmodule "sl.so"
        route {
            t_on_failure("f");
            if ($rm == "REGISTER") {
                t_replicate("sip:127.0.0.1:\(uas)");
                sl_send_reply(200, "Saved");
                exit;
            }
            $du = "sip:127.0.0.1:\(uas)";
            t_relay();
        }
        failure_route[f] {
            if ($rm == "OPTIONS") t_reply(404, "x");
            xlog("L_NOTICE", "$rm: rs=$(<reply>rs) rr=$(<reply>rr) ru=$(<request>ru) via=$(<reply>hdr(Via))\\n");
        }
        """
    }

    /// A non-INVITE answered by the failure route: the cell goes to WAIT at once, yet the route still reads both.
    func testReplyAndRequestOutliveTheRoutesOwnFinalReply() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, uasPort, caller) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + Self.script(uas: uasPort), port: proxy)
        let uas = try startUAS("uas_options_404.xml", port: uasPort)
        let uac = try RawSIP(port: caller)
        uac.send(RawSIP.request("OPTIONS", ruri: "sip:1000@127.0.0.1:\(proxy)", localPort: caller,
                                branch: "z9hG4bK-life1", callID: "life1@test"), to: proxy)
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 404 x", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(waitUntil(5) { uas.received("OPTIONS ") == 1 }, uas.report)
        // The received reply: its top Via is ours, not the caller's.
        XCTAssertTrue(sy.waitFor("OPTIONS: rs=404 rr=Not Here ru=sip:1000@127.0.0.1:\(proxy) via=SIP/2.0/UDP 127.0.0.1:\(proxy);branch=z9hG4bK"),
                      sy.output)
    }

    /// A replica's failure route reads the reply its destination sent, though none is relayed upstream.
    func testReplicaFailureRouteReadsTheReceivedReply() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, replica, caller) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + Self.script(uas: replica), port: proxy)
        let uas = try startUAS("uas_register_404.xml", port: replica)
        let uac = try RawSIP(port: caller)
        uac.send(RawSIP.request("REGISTER", ruri: "sip:127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-life2",
                                callID: "life2@test"), to: proxy)
        var seen: [String] = []
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200 Saved", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertTrue(waitUntil(5) { uas.received("REGISTER ") == 1 }, uas.report)
        XCTAssertTrue(sy.waitFor("REGISTER: rs=404 rr=Not Here ru=sip:127.0.0.1:\(proxy) via=SIP/2.0/UDP 127.0.0.1:\(proxy);branch=z9hG4bK"),
                      sy.output)
    }
}
