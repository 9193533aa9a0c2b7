import Foundation
import XCTest
import SwitchyardTestSupport

/// The end-to-end ACK of a relayed 2xx goes on statelessly with the Via branch OpenSIPS's t_newtran gives it: the
/// INVITE's hash and label with branch number "branches + 1" (here 2: one branch sent), the same for a retransmitted
/// ACK; `$T_id` is the INVITE's label and hash, in that order, in the reversed hex of its branch. Raw UDP peers.
final class E2EAckBranchTests: TMTestCase {
    func testAckBranchDerivesFromTheInvite() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            $du = "sip:127.0.0.1:\(callee)";
            if ($rm == "ACK") { t_relay(); exit; }
            t_relay();
            xlog("TID $T_id\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        var seen: [String] = []
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-e2e-inv",
                                callID: "e2e@test"), to: proxy)
        let invite = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let via = try XCTUnwrap(RawSIP.header(invite, "Via"), invite)
        let branch = String(try XCTUnwrap(via.components(separatedBy: "branch=").last?.prefix { $0 != ";" }, via))
        XCTAssertTrue(branch.hasPrefix("z9hG4bK") && branch.hasSuffix(".0"), branch)
        let parts = branch.dropFirst(7).components(separatedBy: ".")
        XCTAssertEqual(parts.count, 3, branch)
        XCTAssertTrue(sy.waitFor("TID \(parts[1]).\(parts[0])"), "label.hash of \(branch):\n\(sy.output)")

        uas.send(BranchURITests.answer(invite, "200 OK"), to: proxy)
        let ok = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let ack = RawSIP.request("ACK", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-e2e-ack",
                                 callID: "e2e@test", to: RawSIP.header(ok, "To"))
        let expected = "z9hG4bK\(parts[0]).\(parts[1]).2"
        for round in 1...2 {  // the ACK and a retransmission of it: one branch
            uac.send(ack, to: proxy)
            let got = try XCTUnwrap(uas.receive(startingWith: "ACK ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
            let top = try XCTUnwrap(RawSIP.header(got, "Via"), got)
            XCTAssertTrue(top.contains("branch=\(expected)"), "round \(round): \(got)")
            XCTAssertTrue(got.contains("branch=z9hG4bK-e2e-ack"), "the caller's Via stays: \(got)")
        }

        // An ACK that confirms no transaction keeps the core's stateless branch.
        uac.send(RawSIP.request("ACK", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-e2e-none",
                                callID: "e2e-none@test", to: "<sip:bob@h>;tag=x"), to: proxy)
        let stray = try XCTUnwrap(uas.receive(startingWith: "ACK ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertFalse(try XCTUnwrap(RawSIP.header(stray, "Via")).contains("branch=z9hG4bK\(parts[0]).\(parts[1])."), stray)
    }
}
