import Foundation
import XCTest
import SwitchyardTestSupport

/// Details where the bytes or the log must be OpenSIPS 3.6.8's: `$T_ruri` where the transaction has no such branch
/// (an error, xlog prints nothing), and the Record-Route line ahead of our Via on the wire. Raw UDP peers.
final class OpenSIPSParityTests: TMTestCase {
    /// `$T_ruri` reads the current branch of the transaction: in a branch route the branch being built is not in the
    /// transaction yet (OpenSIPS logs an error, xlog prints nothing); after `t_newtran()` alone there is no branch;
    /// after `t_relay()` it is branch 0's URI; in a reply route the reply's branch; without a transaction `$ru`.
    func testTRuriInEachRoute() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            xlog("L_NOTICE", "req notx=[$T_ruri]\\n");
            t_newtran();
            xlog("L_NOTICE", "req newtran=[$T_ruri]\\n");
            $ru = "sip:alice@127.0.0.1:\(callee)";
            t_on_branch("b");
            t_on_reply("r");
            t_relay();
            xlog("L_NOTICE", "req relayed=[$T_ruri]\\n");
        }
        branch_route[b] {
            xlog("L_NOTICE", "branch idx=[$T_branch_idx] ruri=[$T_ruri]\\n");
        }
        onreply_route[r] {
            xlog("L_NOTICE", "reply $rs ruri=[$T_ruri]\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-truri",
                                callID: "truri@test"), to: proxy)
        var seen: [String] = []
        let relayed = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(BranchURITests.answer(relayed, "486 Busy Here"), to: proxy)
        XCTAssertTrue(sy.waitFor("reply 486 ruri=[sip:alice@127.0.0.1:\(callee)]", timeout: 5), sy.output)
        XCTAssertTrue(sy.output.contains("req notx=[sip:bob@127.0.0.1:\(proxy)]"), sy.output)
        XCTAssertTrue(sy.output.contains("req newtran=[]"), sy.output)
        XCTAssertTrue(sy.output.contains("branch idx=[0] ruri=[]"), sy.output)
        XCTAssertTrue(sy.output.contains("req relayed=[sip:alice@127.0.0.1:\(callee)]"), sy.output)
        XCTAssertTrue(sy.output.contains("_tm_branch_index greater than nr_of_outgoings"), sy.output)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 486", timeout: 5, seen: &seen), "\(seen)")
    }

    /// record_route() before t_relay(): the relayed INVITE carries the Record-Route line first, then our Via, then
    /// the caller's Via, as OpenSIPS writes it (its Via is anchored at the received top Via when the branch is built,
    /// behind the Record-Route the script anchored there earlier). The same for a branch route's record_route().
    func testRecordRouteComesBeforeOurVia() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: #"loadmodule "rr.so""#) + """
        route {
            if ($rm == "INVITE") record_route();
            else t_on_branch("rr");
            $du = "sip:127.0.0.1:\(callee)";
            t_relay();
        }
        branch_route[rr] { record_route(); }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        for (method, branch) in [("INVITE", "z9hG4bK-rr1"), ("OPTIONS", "z9hG4bK-rr2")] {
            uac.send(RawSIP.request(method, ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: branch,
                                    callID: "rr-\(method)@test"), to: proxy)
            var seen: [String] = []
            let relayed = try XCTUnwrap(uas.receive(startingWith: method + " ", timeout: 5, seen: &seen),
                                        "\(seen)\n\(sy.output)")
            let lines = relayed.components(separatedBy: "\r\n")
            XCTAssertEqual(lines.count > 3 ? Array(lines[1...3].map { String($0.prefix(while: { $0 != ":" })) }) : [],
                           ["Record-Route", "Via", "Via"], relayed)
            XCTAssertEqual(lines.count > 2 ? lines[1] : "", "Record-Route: <sip:127.0.0.1:\(proxy);lr>", relayed)
            XCTAssertTrue(lines.count > 2 && lines[2].hasPrefix("Via: SIP/2.0/UDP 127.0.0.1:\(proxy);branch=z9hG4bK"),
                          relayed)
            XCTAssertEqual(lines.count > 3 ? lines[3] : "", "Via: SIP/2.0/UDP 127.0.0.1:\(caller);branch=\(branch)", relayed)
        }
    }
}
