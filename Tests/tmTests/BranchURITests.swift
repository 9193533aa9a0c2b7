import Foundation
import XCTest
import SwitchyardTestSupport

/// What a branch keeps of its relay: its request-URI read back from the request line (ending at a tab as the core's
/// parser ends it) and its `$du`, kept even when the script that relayed it does not read `$tm.branch.duri` (a script
/// loaded later by reload_routes may). Raw UDP peers.
final class BranchURITests: TMTestCase {
    /// The callee's answer to `request` (its Vias, From, To with a tag, Call-ID, CSeq).
    static func answer(_ request: String, _ status: String) -> String {
        let keep = ["via:", "from:", "call-id:", "cseq:"]
        var out = "SIP/2.0 \(status)\r\n"
        for l in request.components(separatedBy: "\r\n") {
            let low = l.lowercased()
            if keep.contains(where: { low.hasPrefix($0) }) { out += l + "\r\n" }
            if low.hasPrefix("to:") { out += l + ";tag=callee\r\n" }
        }
        return out + "Content-Length: 0\r\n\r\n"
    }

    func testRequestURIEndsAtATab() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, caller, callee) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            $du = "sip:127.0.0.1:\(callee)";
            t_on_failure("busy");
            t_relay();
        }
        failure_route[busy] {
            xlog("L_NOTICE", "busy ruri=[$T_ruri] uri0=[$(tm.branch.uri[0])]\\n");
        }
        """, port: proxy)
        let uac = try RawSIP(port: caller)
        let uas = try RawSIP(port: callee)
        let invite = RawSIP.request("INVITE", ruri: "sip:bob@h", localPort: caller, branch: "z9hG4bK-tab", callID: "tab@test")
            .replacingOccurrences(of: "INVITE sip:bob@h SIP/2.0", with: "INVITE sip:bob@h\tSIP/2.0")
        uac.send(invite, to: proxy)
        var seen: [String] = []
        let relayed = try XCTUnwrap(uas.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uas.send(Self.answer(relayed, "486 Busy Here"), to: proxy)
        XCTAssertTrue(sy.waitFor("busy ruri=[sip:bob@h] uri0=[sip:bob@h]", timeout: 5), sy.output)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 486", timeout: 5, seen: &seen), "\(seen)")
    }

    func testDestinationKeptAcrossReloadRoutes() throws {
        let ports = LocalPorts.freePorts(4)
        let (proxy, caller, first, second) = (ports[0], ports[1], ports[2], ports[3])
        func script(_ secondRoute: String) -> String {
            Self.config(port: proxy, extra: miFifo) + """
            route {
                $du = "sip:127.0.0.1:\(first)";
                t_on_failure("next");
                t_relay();
            }
            failure_route[next] {
                $du = "sip:127.0.0.1:\(second)";
                t_on_failure("last");
                t_relay();
            }
            failure_route[last] {
                \(secondRoute)
            }
            """
        }
        // The running script never reads $tm.branch.duri: the first branch is relayed under it.
        let sy = try startSwitchyard(script(#"xlog("L_NOTICE", "old last\n");"#), port: proxy)
        let uac = try RawSIP(port: caller)
        let uasA = try RawSIP(port: first)
        let uasB = try RawSIP(port: second)
        uac.send(RawSIP.request("INVITE", ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: "z9hG4bK-reload",
                                callID: "reload@test"), to: proxy)
        var seen: [String] = []
        let toA = try XCTUnwrap(uasA.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")

        // The new script reads it, in the failure route armed after the swap.
        try script(#"xlog("L_NOTICE", "new last d0=$(tm.branch.duri[0]) d1=$(tm.branch.duri[1])\n");"#)
            .write(toFile: "\(workDir)/switchyard.cfg", atomically: true, encoding: .utf8)
        let reload = Self.fifoRequest(dir: workDir, body: #"{"jsonrpc":"2.0","method":"reload_routes","id":1}"#,
                                      name: "reload", timeout: 5)
        XCTAssertTrue(reload?.contains("\"result\"") ?? false, reload ?? "no MI reply")

        uasA.send(Self.answer(toA, "486 Busy Here"), to: proxy)
        let toB = try XCTUnwrap(uasB.receive(startingWith: "INVITE ", timeout: 5, seen: &seen), "\(seen)\n\(sy.output)")
        uasB.send(Self.answer(toB, "486 Busy Here"), to: proxy)
        XCTAssertTrue(sy.waitFor("new last d0=sip:127.0.0.1:\(first) d1=sip:127.0.0.1:\(second)", timeout: 5), sy.output)
        XCTAssertFalse(sy.output.contains("old last"), sy.output)
        XCTAssertNotNil(uac.receive(startingWith: "SIP/2.0 486", timeout: 5, seen: &seen), "\(seen)")
    }
}
