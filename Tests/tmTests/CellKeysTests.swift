import Foundation
import XCTest
import SwitchyardTestSupport

/// How a request finds its transaction (CellKeys, TM.match), through raw UDP retransmissions of a MESSAGE answered
/// by t_reply: a matched retransmission gets the 200 again without running the script. A branch of the magic cookie
/// alone (matched the RFC 2543 way, as OpenSIPS), a Via host differing only in case, a request without a cookie
/// (matched by Call-ID, CSeq, From, To and never against a cookie transaction), Call-ID and branch of several KB.
final class CellKeysTests: TMTestCase {
    var sy: BinaryRunner!
    var uac: RawSIP!
    // Chosen once per test case instance (XCTest makes one per test method).
    let ports = LocalPorts.freePorts(2)
    var proxy: Int { ports[0] }
    var caller: Int { ports[1] }
    var sentinels = 0

    override func setUpWithError() throws {
        try super.setUpWithError()
        sy = try startSwitchyard(Self.config(port: proxy) + """
        route {
            xlog("L_NOTICE", "run $ci\\n");
            t_reply(200, "OK");
        }
        """, port: proxy)
        uac = try RawSIP(port: caller)
    }

    override func tearDown() {
        uac = nil  // closes its socket: the next test binds the port again
        sy = nil
        super.tearDown()
    }

    func message(branch: String?, callID: String) -> String {
        let m = RawSIP.request("MESSAGE", ruri: "sip:bob@127.0.0.1:\(proxy)", localPort: caller, branch: branch ?? "",
                               callID: callID)
        return branch == nil ? m.replacingOccurrences(of: ";branch=\r\n", with: "\r\n") : m
    }

    /// Sends `text` and waits for its 200 (by Call-ID).
    func exchange(_ text: String, callID: String, file: StaticString = #filePath, line: UInt = #line) {
        uac.send(text, to: proxy)
        let end = Date().addingTimeInterval(5)
        var seen: [String] = []
        while Date() < end {
            guard let r = uac.receive(startingWith: "SIP/2.0 200", timeout: end.timeIntervalSinceNow, seen: &seen) else { break }
            if RawSIP.header(r, "Call-ID") == callID { return }
        }
        XCTFail("no 200 for \(callID.prefix(40)): \(seen.map { $0.prefix(80) })\n\(sy.output.suffix(2000))", file: file, line: line)
    }

    /// Times the script ran for `callID`, once every request sent before has been handled (a later request's run is
    /// logged after theirs).
    func runs(_ callID: String) -> Int {
        sentinels += 1
        let s = "sentinel-\(sentinels)@test"
        exchange(message(branch: "z9hG4bK-sentinel\(sentinels)", callID: s), callID: s)
        XCTAssertTrue(sy.waitFor("run \(s)\n", timeout: 5), sy.output)
        return sy.output.components(separatedBy: "run \(callID)\n").count - 1
    }

    func testCookieAloneIsMatchedTheRFC2543Way() throws {
        let m = message(branch: "z9hG4bK", callID: "cookie-only@test")
        exchange(m, callID: "cookie-only@test")
        exchange(m, callID: "cookie-only@test")
        XCTAssertEqual(runs("cookie-only@test"), 1, sy.output)
    }

    func testViaHostDifferingInCaseMatches() throws {
        let m = message(branch: "z9hG4bK-case", callID: "case@test")
        let via = "Via: SIP/2.0/UDP 127.0.0.1:"
        exchange(m.replacingOccurrences(of: via, with: "Via: SIP/2.0/UDP LocalHost:"), callID: "case@test")
        exchange(m.replacingOccurrences(of: via, with: "Via: SIP/2.0/UDP LOCALHOST:"), callID: "case@test")
        XCTAssertEqual(runs("case@test"), 1, sy.output)
        // Another host is another transaction.
        exchange(m.replacingOccurrences(of: via, with: "Via: SIP/2.0/UDP localhost2:"), callID: "case@test")
        XCTAssertEqual(runs("case@test"), 2, sy.output)
    }

    func testRFC2543RequestMatchesByItsHeadersOnly() throws {
        let old = message(branch: nil, callID: "rfc2543@test")
        XCTAssertFalse(old.contains("branch="), old)
        exchange(old, callID: "rfc2543@test")
        exchange(old, callID: "rfc2543@test")
        XCTAssertEqual(runs("rfc2543@test"), 1, sy.output)

        // The same Call-ID, CSeq, From and To as a cookie transaction: not that transaction.
        exchange(message(branch: "z9hG4bK-mixed", callID: "mixed@test"), callID: "mixed@test")
        exchange(message(branch: nil, callID: "mixed@test"), callID: "mixed@test")
        XCTAssertEqual(runs("mixed@test"), 2, sy.output)
        // And each is matched by its own retransmission.
        exchange(message(branch: "z9hG4bK-mixed", callID: "mixed@test"), callID: "mixed@test")
        exchange(message(branch: nil, callID: "mixed@test"), callID: "mixed@test")
        XCTAssertEqual(runs("mixed@test"), 2, sy.output)
    }

    func testLongCallIDAndBranchMatch() throws {
        let callID = String(repeating: "c", count: 6000) + "@test"
        let m = message(branch: "z9hG4bK" + String(repeating: "b", count: 5000), callID: callID)
        exchange(m, callID: callID)
        exchange(m, callID: callID)
        XCTAssertEqual(runs(callID), 1, sy.output.suffix(3000).description)
    }
}
