import Foundation
import XCTest
import SwitchyardTestSupport

/// A CANCEL from the caller before the callee answered anything: `200 canceling` at once, no CANCEL to the silent
/// callee (RFC 3261 9.1); its first provisional reply brings the CANCEL, without a Reason header as OpenSIPS sends
/// such a delayed one; the callee's 487 reaches the caller. Raw UDP peers.
final class DeferredCancelTests: TMTestCase {
    func testCancelOwedUntilTheFirstProvisionalReply() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "CANCEL") {
                if (t_check_trans()) t_relay();
                exit;
            }
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        let ruri = "sip:bob@127.0.0.1:\(proxy)"
        uac.send(RawSIP.request("INVITE", ruri: ruri, localPort: caller, branch: "z9hG4bK-dc", callID: "dc@test"), to: proxy)
        var seen: [String] = []
        let invite = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uac.send(RawSIP.request("CANCEL", ruri: ruri, localPort: caller, branch: "z9hG4bK-dc", callID: "dc@test"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "\(seen)")
        XCTAssertFalse(uas.drain(0.3).contains { $0.hasPrefix("CANCEL ") }, "no CANCEL before the callee answered")
        uas.send(BranchURITests.answer(invite, "180 Ringing"), to: proxy)
        let cancel = try XCTUnwrap(uas.receive(startingWith: "CANCEL ", timeout: 5, seen: &seen), "\(seen)")
        XCTAssertNil(RawSIP.header(cancel, "Reason"), cancel)
        uas.send(BranchURITests.answer(invite, "487 Request Terminated"), to: proxy)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 487", timeout: 5, seen: &seen), "\(seen)")
    }
}
