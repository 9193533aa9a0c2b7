import Foundation
import XCTest
import SwitchyardTestSupport

/// Serial forking after a silent branch (the proxy's own 408 at fr_timeout): the armed failure route is used up when
/// it runs, so a t_relay in it without t_on_failure ends the call with the next round's final (no failure route);
/// a route re-armed there runs once for the next round; `$T_branch_idx` is the branch that ended each round.
final class SerialTimeoutTests: TMTestCase {
    /// Both rounds to silent callees, the failure route not re-armed: it runs once, the caller gets 408 after the
    /// second round's timeout, and the second callee alone sees the second round.
    func testTimeoutThenTimeoutWithoutRearming() throws {
        let (sy, proxy, a, b, uacPort) = try startSerial(thenIn: "t_relay();")
        let first = try RawSIP(port: a)
        let second = try RawSIP(port: b)
        let run = try runUAC("uac_408.xml", local: uacPort, target: proxy, calls: 1, timeout: 12)
        assertAllSuccessful(run, calls: 1, sy)
        // The caller's final reply can arrive before the routes' lines are read: wait for the last one.
        sy.waitFor("f ran code=408 idx=0")
        XCTAssertEqual(runs(sy, "f ran"), ["f ran code=408 idx=0"], sy.output)
        XCTAssertTrue(first.drain(0.2).contains { $0.hasPrefix("INVITE ") }, "round one reached the first callee")
        XCTAssertTrue(second.drain(0.2).contains { $0.hasPrefix("INVITE ") }, "round two reached the second callee")
    }

    /// Re-armed with another route before the second relay: "f" runs for round one, "g" once for round two (its
    /// branch is index 1), and the caller gets 408.
    func testTimeoutThenTimeoutRearmedWithAnotherRoute() throws {
        let (sy, proxy, a, b, uacPort) = try startSerial(thenIn: "t_on_failure(\"g\"); t_relay();", routes: """
        failure_route[g] {
            xlog("L_NOTICE", "g ran code=$T_reply_code idx=$T_branch_idx\\n");
        }
        """)
        let first = try RawSIP(port: a)
        let second = try RawSIP(port: b)
        let run = try runUAC("uac_408.xml", local: uacPort, target: proxy, calls: 1, timeout: 12)
        assertAllSuccessful(run, calls: 1, sy)
        // The caller's final reply can arrive before the routes' lines are read: wait for the last one.
        sy.waitFor("g ran code=408 idx=1")
        XCTAssertEqual(runs(sy, "f ran"), ["f ran code=408 idx=0"], sy.output)
        XCTAssertEqual(runs(sy, "g ran"), ["g ran code=408 idx=1"], sy.output)
        _ = (first, second)
    }

    /// A 503 round, then a silent one re-armed with "g": each route once, the caller gets the 408 of round two.
    func testRejectedThenTimeout() throws {
        let (sy, proxy, a, b, uacPort) = try startSerial(firstRelay: "t_relay(\"no-dns-failover\");", thenIn: "t_on_failure(\"g\"); t_relay();", routes: """
        failure_route[g] {
            xlog("L_NOTICE", "g ran code=$T_reply_code idx=$T_branch_idx\\n");
        }
        """)
        let busy = try startUAS("uas_503.xml", port: a)
        let silent = try RawSIP(port: b)
        let run = try runUAC("uac_408.xml", local: uacPort, target: proxy, calls: 1, timeout: 12)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(busy, lastReceived: "ACK ", calls: 1), busy.report)
        // The caller's final reply can arrive before the routes' lines are read: wait for the last one.
        sy.waitFor("g ran code=408 idx=1")
        XCTAssertEqual(runs(sy, "f ran"), ["f ran code=503 idx=0"], sy.output)
        XCTAssertEqual(runs(sy, "g ran"), ["g ran code=408 idx=1"], sy.output)
        _ = silent
    }

    /// A silent round, then a 503 one not re-armed: "f" once, and the caller gets the 503 (no failure route for it).
    func testTimeoutThenRejected() throws {
        let (sy, proxy, a, b, uacPort) = try startSerial(thenIn: "t_relay(\"no-dns-failover\");")
        let silent = try RawSIP(port: a)
        let busy = try startUAS("uas_503.xml", port: b)
        let run = try runUAC("uac_503.xml", local: uacPort, target: proxy, calls: 1, timeout: 12)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(busy, lastReceived: "ACK ", calls: 1), busy.report)
        // The caller's final reply can arrive before the routes' lines are read: wait for the last one.
        sy.waitFor("f ran code=408 idx=0")
        XCTAssertEqual(runs(sy, "f ran"), ["f ran code=408 idx=0"], sy.output)
        _ = silent
    }

    /// Round one rings, then fr_inv_timeout: the callee is CANCELled (its 487 ACKed, not relayed), "f" runs once for
    /// the proxy's 408 and relays to a silent callee without re-arming: the caller gets the 408 of round two.
    func testRingingTimeoutThenSilentRound() throws {
        let (sy, proxy, a, b, uacPort) = try startSerial(extra: "modparam(\"tm\", \"fr_timeout\", 2)\nmodparam(\"tm\", \"fr_inv_timeout\", 2)", logged: " local=$T_reply_reason", thenIn: "t_relay();")
        let ringing = try startUAS("uas_ring_cancel.xml", port: a)
        let silent = try RawSIP(port: b)
        let run = try runUAC("uac_408.xml", local: uacPort, target: proxy, calls: 1, timeout: 12)
        assertAllSuccessful(run, calls: 1, sy)
        XCTAssertTrue(uasCompleted(ringing, lastReceived: "ACK ", calls: 1), "CANCEL, then the ACK of its 487\n\(ringing.report)")
        // The caller's final reply can arrive before the routes' lines are read: wait for the last one.
        sy.waitFor("f ran code=408 idx=0 local=Request Timeout")
        XCTAssertEqual(runs(sy, "f ran"), ["f ran code=408 idx=0 local=Request Timeout"], sy.output)
        XCTAssertTrue(silent.drain(0.2).contains { $0.hasPrefix("INVITE ") }, "round two reached the silent callee")
    }

    /// A proxy relaying to 127.0.0.1:`a` with failure route "f" armed; "f" logs `f ran code=... idx=...` (plus
    /// `logged`), sets `$du` to 127.0.0.1:`b` and runs `thenIn`. `routes`: further routes. Ports: proxy, a, b, UAC.
    private func startSerial(extra: String = "modparam(\"tm\", \"fr_timeout\", 2)", firstRelay: String = "t_relay();",
                             logged: String = "", thenIn: String, routes: String = "") throws
        -> (BinaryRunner, Int, Int, Int, Int) {
        let ports = LocalPorts.freePorts(4)
        let (proxy, a, b, uacPort) = (ports[0], ports[1], ports[2], ports[3])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: extra) + """
        route {
            $du = "sip:127.0.0.1:\(a)";
            t_on_failure("f");
            \(firstRelay)
        }
        failure_route[f] {
            xlog("L_NOTICE", "f ran code=$T_reply_code idx=$T_branch_idx\(logged)\\n");
            $du = "sip:127.0.0.1:\(b)";
            \(thenIn)
        }
        \(routes)
        """, port: proxy)
        return (sy, proxy, a, b, uacPort)
    }

    /// The log lines (from `prefix` to the end of the line) the failure routes wrote.
    private func runs(_ sy: BinaryRunner, _ prefix: String) -> [String] {
        sy.output.components(separatedBy: "\n").compactMap { line in
            line.range(of: prefix).map { String(line[$0.lowerBound...]).trimmingCharacters(in: .whitespaces) }
        }
    }
}
