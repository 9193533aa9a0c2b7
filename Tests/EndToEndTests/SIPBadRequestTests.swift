import Foundation
import XCTest
import SwitchyardTestSupport

/// Malformed requests that name where to answer (a readable Via) get "400 Bad Request" over real UDP from the real
/// `switchyard` binary, with the request's Via, To, Call-ID and CSeq lines echoed, whatever the line ends.
final class SIPBadRequestTests: XCTestCase {
    static func config(port: Int) -> String {
        """
        log_level = 2
        udp_workers = 2
        socket = udp:127.0.0.1:\(port)
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "maxfwd.so"
        route {
            if (!mf_process_maxfwd_header(10)) {
                sl_send_reply(483, "Too Many Hops");
                exit;
            }
            sl_send_reply(200, "OK");
        }
        """
    }

    private var proxy: BinaryRunner?
    private var proxyPort = 0
    private var cfgPath = ""

    /// switchyard on a kernel-assigned port; started again on a fresh one when another process took the port between
    /// picking and binding it ("Address already in use"; three tries).
    override func setUpWithError() throws {
        for attempt in 1...3 {
            proxyPort = LocalPorts.freePorts(1)[0]
            try? FileManager.default.removeItem(atPath: cfgPath)
            cfgPath = writeTemp(Self.config(port: proxyPort))
            let sy = BinaryRunner(args: ["-f", cfgPath])
            try sy.start()
            proxy = sy
            // The server's "ready:" line, not "ready" alone (which "Address already in use" contains).
            if SIPCallTests.waitForUDPPort(proxyPort, timeout: 15, while: { sy.process.isRunning }),
               waitUntil(timeout: 5, { sy.output.contains(" ready: ") || !sy.process.isRunning }), sy.process.isRunning {
                return
            }
            if attempt < 3 && !sy.process.isRunning && sy.output.contains("Address already in use") { continue }
            throw XCTSkip("switchyard did not start on udp:127.0.0.1:\(proxyPort) (port taken?):\n\(sy.output)")
        }
    }

    override func tearDown() {
        if let sy = proxy, sy.process.isRunning {
            sy.process.terminate()
            _ = sy.wait(timeout: 5)
        }
        try? FileManager.default.removeItem(atPath: cfgPath)
    }

    /// One malformed request: the header lines are built around a Via naming the client and a unique Call-ID.
    struct Case {
        let name: String
        var method = "OPTIONS"
        /// nil: sip:1000@ the proxy.
        var ruri: String? = nil
        /// Replaces (by header name) or adds lines to the good header set; nil value drops the header.
        var edits: [(String, String?)] = []
        var extra: [String] = []
        var body = ""
        var eol = "\r\n"
    }

    static let cases: [Case] = [
        Case(name: "Content-Length not a number", edits: [("Content-Length", "abc")], body: "abc"),
        Case(name: "Content-Length negative", edits: [("Content-Length", "-1")], body: "abc"),
        Case(name: "Content-Length duplicated", extra: ["Content-Length: 0"]),
        Case(name: "Content-Length conflicting", extra: ["l: 3"]),
        Case(name: "Content-Length beyond the datagram", edits: [("Content-Length", "5000")], body: "v=0\r\n"),
        Case(name: "CSeq method mismatch", edits: [("CSeq", "1 BYE")]),
        Case(name: "CSeq not numeric", edits: [("CSeq", "abc OPTIONS")]),
        Case(name: "Call-ID missing", edits: [("Call-ID", nil)]),
        Case(name: "unterminated quote in To", edits: [("To", "\"Bob <sip:1000@127.0.0.1>")]),
        Case(name: "header without colon", extra: ["ThisIsNotAHeader"]),
        Case(name: "bad method token", method: "OPT<IONS"),
        Case(name: "Via port out of range", edits: [("Via", "VIA-PORT-99999")]),
        Case(name: "NUL byte in a header", extra: ["Subject: a\u{0}b"]),
        Case(name: "Max-Forwards not numeric", edits: [("Max-Forwards", "abc")]),
        Case(name: "Max-Forwards negative", edits: [("Max-Forwards", "-5")]),
        Case(name: "Max-Forwards with a plus sign", edits: [("Max-Forwards", "+70")]),
        Case(name: "empty user in the request-URI", ruri: "sip:@127.0.0.1"),
        Case(name: "CSeq not numeric, LF line ends", edits: [("CSeq", "abc OPTIONS")], eol: "\n"),
    ]

    /// The request bytes and the header lines the 400 must echo (name -> exact line).
    static func build(_ c: Case, clientPort: Int, proxyPort: Int, index: Int) -> (bytes: [UInt8], echo: [String]) {
        let branch = "z9hG4bK-bad\(index)-\(UInt32.random(in: 1...UInt32.max))"
        var headers: [(String, String)] = [
            ("Via", "SIP/2.0/UDP 127.0.0.1:\(clientPort);branch=\(branch)"),
            ("From", "<sip:bad@127.0.0.1>;tag=bad\(index)"),
            ("To", "<sip:1000@127.0.0.1:\(proxyPort)>"),
            ("Call-ID", "bad\(index)-\(UUID().uuidString)@test"),
            ("CSeq", "\(index + 1) \(c.method)"),
            ("Max-Forwards", "70"),
            ("Content-Length", String(c.body.utf8.count)),
        ]
        for (name, value) in c.edits {
            guard let i = headers.firstIndex(where: { $0.0 == name }) else { continue }
            if let value {
                headers[i].1 = value == "VIA-PORT-99999" ? "SIP/2.0/UDP 127.0.0.1:99999;branch=\(branch)" : value
            } else {
                headers.remove(at: i)
            }
        }
        let lines = headers.map { "\($0.0): \($0.1)" }
        let all = ["\(c.method) \(c.ruri ?? "sip:1000@127.0.0.1:\(proxyPort)") SIP/2.0"] + lines.dropLast() + c.extra + [lines.last ?? ""]
        let text = all.joined(separator: c.eol) + c.eol + c.eol + c.body
        let echo = lines.filter { l in ["Via:", "To:", "Call-ID:", "CSeq:"].contains { l.hasPrefix($0) } }
        return (Array(text.utf8), echo)
    }

    func testEveryMalformedRequestGets400WithItsHeadersEchoed() throws {
        let client = try SIPCallTests.UDPClient()
        for (i, c) in Self.cases.enumerated() {
            let (bytes, echo) = Self.build(c, clientPort: client.localPort, proxyPort: proxyPort, index: i)
            let callID = echo.first { $0.hasPrefix("Call-ID:") }
            let branch = "z9hG4bK-bad\(i)-"
            XCTAssertTrue(client.send(bytes, to: proxyPort), c.name)
            let replies = client.receive(timeout: 5) { r in r.contains(callID ?? branch) && r.contains(branch) }
            guard let reply = replies.first(where: { $0.contains(callID ?? branch) && $0.contains(branch) }) else {
                XCTFail("\(c.name): no reply; got \(replies)\n--- switchyard:\n\(proxy?.output.suffix(2000) ?? "")")
                continue
            }
            XCTAssertTrue(reply.hasPrefix("SIP/2.0 400 Bad Request\r\n"), "\(c.name): \(reply)")
            let replyLines = reply.components(separatedBy: "\r\n")
            for line in echo {
                XCTAssertTrue(replyLines.contains(line), "\(c.name): '\(line)' not echoed in\n\(reply)")
            }
            XCTAssertFalse(reply.contains("\u{0}"), "\(c.name): a NUL came back")
        }
        // A well-formed request still gets the script's answer.
        let (good, _) = Self.build(Case(name: "good"), clientPort: client.localPort, proxyPort: proxyPort, index: 999)
        XCTAssertTrue(client.send(good, to: proxyPort))
        let replies = client.receive(timeout: 5) { $0.contains("z9hG4bK-bad999-") }
        XCTAssertTrue(replies.contains { $0.hasPrefix("SIP/2.0 200 OK\r\n") && $0.contains("z9hG4bK-bad999-") }, "\(replies)")
        XCTAssertTrue(proxy?.process.isRunning ?? false)
    }
}
