import Foundation
import XCTest
import SwitchyardTestSupport

/// The Via branch of end-to-end ACKs after forking (OpenSIPS's t_newtran: the INVITE's hash and label, branch
/// number nr_of_outgoings + 1; ack_matching ignores the To-tag of a proxied INVITE): the ACKs of two forked 2xx
/// (two To-tags) share one branch; after a serial fork (a failure route relays again) the number counts both
/// branches. Raw UDP peers.
final class E2EAckForkTests: TMTestCase {
    /// The hash and label of the INVITE's transaction, read from a branch's Via branch ("z9hG4bK" hash.label.n).
    func transaction(_ invite: String) throws -> String {
        let via = try XCTUnwrap(RawSIP.header(invite, "Via"), invite)
        let branch = try XCTUnwrap(via.components(separatedBy: "branch=").last?.prefix { $0 != ";" }, via)
        let parts = branch.dropFirst(7).components(separatedBy: ".")
        XCTAssertEqual(parts.count, 3, String(branch))
        return "\(parts[0]).\(parts[1])"
    }

    func ackBranch(_ ack: String) -> String {
        RawSIP.header(ack, "Via")?.components(separatedBy: "branch=").last.map { String($0.prefix { $0 != ";" }) } ?? ""
    }

    func testAcksOfForkedTwoHundredsShareTheBranch() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, caller, one, two) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "ACK") { $du = "sip:127.0.0.1:\(one)"; t_relay(); exit; }
            $ru = "sip:bob@127.0.0.1:\(one)";
            append_branch("sip:bob@127.0.0.1:\(two)");
            t_relay();
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let (uas1, uas2) = (try RawSIP(port: one), try RawSIP(port: two))
        var seen: [String] = []
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-fork-inv",
                                callID: "fork@test"), to: proxy)
        let inv1 = try XCTUnwrap(uas1.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let inv2 = try XCTUnwrap(uas2.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let t = try transaction(inv1)
        XCTAssertEqual(try transaction(inv2), t)
        uas1.send(BranchURITests.answer(inv1, "200 OK"), to: proxy)
        let ok1 = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas2.send(BranchURITests.answer(inv2, "200 OK").replacingOccurrences(of: ";tag=callee", with: ";tag=other"),
                  to: proxy)
        let ok2 = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let (to1, to2) = (try XCTUnwrap(RawSIP.header(ok1, "To")), try XCTUnwrap(RawSIP.header(ok2, "To")))
        XCTAssertNotEqual(to1, to2)
        // Both ACKs go to the first callee here (the script's $du): the branch is what matters.
        var branches: [String] = []
        for (i, to) in [to1, to2].enumerated() {
            uac.send(RawSIP.request("ACK", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-fork-ack\(i)",
                                    callID: "fork@test", to: to), to: proxy)
            let ack = try XCTUnwrap(uas1.receive(startingWith: "ACK ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
            XCTAssertTrue(ack.contains(to), ack)
            branches.append(ackBranch(ack))
        }
        XCTAssertEqual(branches, ["z9hG4bK\(t).3", "z9hG4bK\(t).3"], "two branches sent: number 3 for both ACKs")
    }

    func testSerialForkCountsTheFailureRoutesBranch() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, caller, one, two) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            if ($rm == "ACK") { $du = "sip:127.0.0.1:\(two)"; t_relay(); exit; }
            t_on_failure("next");
            $du = "sip:127.0.0.1:\(one)";
            t_relay();
        }
        failure_route[next] {
            $du = "sip:127.0.0.1:\(two)";
            t_relay();
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let (uas1, uas2) = (try RawSIP(port: one), try RawSIP(port: two))
        var seen: [String] = []
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-serial-inv",
                                callID: "serial@test"), to: proxy)
        let inv1 = try XCTUnwrap(uas1.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        let t = try transaction(inv1)
        uas1.send(BranchURITests.answer(inv1, "503 Unavailable"), to: proxy)
        let inv2 = try XCTUnwrap(uas2.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertEqual(ackBranch(inv2), "z9hG4bK\(t).1", "the failure route's branch is number 1: \(inv2)")
        uas2.send(BranchURITests.answer(inv2, "200 OK"), to: proxy)
        let ok = try XCTUnwrap(uac.receive(startingWith: "SIP/2.0 200", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uac.send(RawSIP.request("ACK", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-serial-ack",
                                callID: "serial@test", to: RawSIP.header(ok, "To")), to: proxy)
        let ack = try XCTUnwrap(uas2.receive(startingWith: "ACK ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        XCTAssertEqual(ackBranch(ack), "z9hG4bK\(t).3", ack)
    }
}
