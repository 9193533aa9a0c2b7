import Foundation
import XCTest
import SwitchyardTestSupport

/// MI t_uac_dlg answers later without holding an MI thread: while requests wait for a silent UAS, more of them than
/// mi_fifo has threads, other MI commands are answered at once; each t_uac_dlg then gets OpenSIPS's timeout answer;
/// the same over mi_http (one httpd thread) and mi_datagram; a server stopping meanwhile answers the waiting ones and
/// does not wait for their transactions; an HTTP client waiting gets that answer, not a closed connection; mi_fifo's
/// immediate answers interleaved with a later one all arrive.
final class MIAsyncTests: TMTestCase {
    func json(_ text: String) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    }

    let headers = "headers=From: <sip:mi@127.0.0.1>\\r\\nTo: <sip:quiet@127.0.0.1>\\r\\n"

    func testUACDialogHoldsNoMIThread() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, silent) = (ports[0], ports[1])
        let cfg = try cliConfig()
        _ = try startSwitchyard(Self.config(port: proxy, extra: miFifo + "\nmodparam(\"tm\", \"fr_timeout\", 8)")
            + "\nroute { exit; }\n", port: proxy)
        let quiet = try startUAS("uas_options_silent.xml", port: silent)

        // Six waiting requests: more than mi_fifo's four threads.
        let begin = Date()
        var waiting: [(Process, Pipe)] = []
        for _ in 0..<6 {
            waiting.append(try start(cfg, ["t_uac_dlg", "method=OPTIONS", "ruri=sip:quiet@127.0.0.1:\(silent)", headers]))
        }
        // Other commands are answered while they wait (all six in the table: none holds a thread).
        var out = ""
        XCTAssertTrue(waitUntil(6) {
            out = (try? cli(cfg, ["get_statistics", "tm:inuse_transactions", "tm:UAC_transactions"]).1) ?? ""
            return json(out)?["tm:inuse_transactions"] as? Int == 6
        }, out)
        XCTAssertEqual(json(out)?["tm:UAC_transactions"] as? Int, 6, out)
        let asked = Date()
        let (rcV, outV) = try cli(cfg, ["version"])
        XCTAssertEqual(rcV, 0, outV)
        XCTAssertTrue(outV.contains("Server"), outV)
        XCTAssertLessThan(Date().timeIntervalSince(asked), 4, "the MI answered only after the t_uac_dlg requests")
        XCTAssertGreaterThanOrEqual(quiet.received("OPTIONS "), 6, quiet.report)
        XCTAssertTrue(waiting.allSatisfy { $0.0.isRunning }, "a t_uac_dlg answered before its timeout")

        // Each gets the answer of a request that timed out: the status alone.
        for w in waiting {
            let (rcT, outT) = finish(w)
            XCTAssertEqual(rcT, 0, outT)
            XCTAssertEqual(json(outT)?.count, 1, outT)
            XCTAssertEqual(json(outT)?["Status"] as? String, "408 Request Timeout", outT)
        }
        XCTAssertGreaterThan(Date().timeIntervalSince(begin), 7.5)
    }

    func testStopDoesNotWaitForUACDialog() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, silent) = (ports[0], ports[1])
        let cfg = try cliConfig()
        let sy = try startSwitchyard(Self.config(port: proxy, extra: miFifo + "\nmodparam(\"tm\", \"fr_timeout\", 60)")
            + "\nroute { exit; }\n", port: proxy)
        let quiet = try startUAS("uas_options_silent.xml", port: silent)
        let pending = try start(cfg, ["t_uac_dlg", "method=OPTIONS", "ruri=sip:quiet@127.0.0.1:\(silent)", headers])
        XCTAssertTrue(waitUntil(10) { quiet.received("OPTIONS ") >= 1 }, quiet.report)

        let stopping = Date()
        sy.process.terminate()
        XCTAssertNotNil(sy.wait(timeout: 15), sy.output)
        XCTAssertLessThan(Date().timeIntervalSince(stopping), 12, sy.output)
        // The waiting client got an answer instead of hanging on its reply FIFO.
        let (rc, out) = finish(pending)
        XCTAssertNotEqual(rc, 0, out)
        XCTAssertTrue(out.contains("server stopping"), out)
    }

    func testHTTPAndDatagramHoldNoThread() throws {
        let ports = LocalPorts.freePorts(6)
        let (proxy, silent, http, dgram, waitingPort, otherPort) = (ports[0], ports[1], ports[2], ports[3], ports[4], ports[5])
        _ = try startSwitchyard(Self.config(port: proxy, extra: """
        modparam("tm", "fr_timeout", 4)
        loadmodule "httpd.so"
        loadmodule "mi_http.so"
        modparam("httpd", "port", \(http))
        modparam("httpd", "threads", 1)
        loadmodule "mi_datagram.so"
        modparam("mi_datagram", "socket_name", "udp:127.0.0.1:\(dgram)")
        """) + "\nroute { exit; }\n", port: proxy)
        _ = try startUAS("uas_options_silent.xml", port: silent)
        let uac = #"{"jsonrpc":"2.0","method":"t_uac_dlg","params":{"method":"OPTIONS","ruri":"sip:quiet@127.0.0.1:\#(silent)","headers":"From: <sip:mi@127.0.0.1>\r\nTo: <sip:quiet@127.0.0.1>\r\n"},"id":1}"#
        let version = #"{"jsonrpc":"2.0","method":"version","id":2}"#

        let begin = Date()
        let waitingHTTP = try XCTUnwrap(HTTPClient(port: http))
        XCTAssertTrue(waitingHTTP.send(HTTPClient.post(uac)))
        let waitingUDP = try RawSIP(port: waitingPort)
        waitingUDP.send(uac, to: dgram)

        // While both wait, the one httpd thread and the datagram reader answer others at once.
        let other = try XCTUnwrap(HTTPClient(port: http))
        XCTAssertTrue(other.send(HTTPClient.post(version)))
        let answer = try XCTUnwrap(other.response())
        XCTAssertEqual(answer.status, 200)
        XCTAssertTrue(answer.body.contains("\"Server\""), answer.body)
        let otherUDP = try RawSIP(port: otherPort)
        otherUDP.send(version, to: dgram)
        let v = try XCTUnwrap(otherUDP.receive(timeout: 2))
        XCTAssertTrue(v.contains("\"Server\""), v)
        XCTAssertLessThan(Date().timeIntervalSince(begin), 3, "answered only after the t_uac_dlg requests")

        // Then each t_uac_dlg gets its timeout answer.
        let late = try XCTUnwrap(waitingHTTP.response())
        XCTAssertEqual(late.status, 200)
        XCTAssertTrue(late.body.contains(#""result":{"Status":"408 Request Timeout"}"#), late.body)
        let lateUDP = try XCTUnwrap(waitingUDP.receive(timeout: 8))
        XCTAssertTrue(lateUDP.contains(#""result":{"Status":"408 Request Timeout"}"#), lateUDP)
        XCTAssertGreaterThan(Date().timeIntervalSince(begin), 3.5)
    }

    /// The server stops while an HTTP client waits on t_uac_dlg: the client reads the "server stopping" answer
    /// (httpd sends the resumed requests' answers before it stops its daemon), not a closed connection.
    func testStopAnswersAWaitingHTTPClient() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, silent, http) = (ports[0], ports[1], ports[2])
        let sy = try startSwitchyard(Self.config(port: proxy, extra: """
        modparam("tm", "fr_timeout", 60)
        loadmodule "httpd.so"
        loadmodule "mi_http.so"
        modparam("httpd", "port", \(http))
        """) + "\nroute { exit; }\n", port: proxy)
        let quiet = try startUAS("uas_options_silent.xml", port: silent)
        let uac = #"{"jsonrpc":"2.0","method":"t_uac_dlg","params":{"method":"OPTIONS","ruri":"sip:quiet@127.0.0.1:\#(silent)","headers":"From: <sip:mi@127.0.0.1>\r\nTo: <sip:quiet@127.0.0.1>\r\n"},"id":7}"#
        // Several waiting clients: stopping the daemon right after resuming them closed some unanswered.
        var waiting: [HTTPClient] = []
        for _ in 0..<4 {
            let c = try XCTUnwrap(HTTPClient(port: http, timeout: 15))
            XCTAssertTrue(c.send(HTTPClient.post(uac)))
            waiting.append(c)
        }
        XCTAssertTrue(waitUntil(10) { quiet.received("OPTIONS ") >= 4 }, quiet.report)

        sy.process.terminate()
        for (i, c) in waiting.enumerated() {
            let answer = try XCTUnwrap(c.response(), "client \(i): the connection closed without an answer:\n\(sy.output)")
            XCTAssertTrue(answer.body.contains("server stopping"), "client \(i): \(answer.status) \(answer.body)")
        }
        XCTAssertNotNil(sy.wait(timeout: 15), sy.output)
    }

    /// Over mi_fifo, a later answer (t_uac_dlg timing out) and a burst of immediate ones interleaved: each client gets
    /// its own answer, the immediate ones without waiting behind the later one.
    func testFifoLaterAnswerAmongImmediateOnes() throws {
        let ports = LocalPorts.freePorts(2)
        let (proxy, silent) = (ports[0], ports[1])
        let cfg = try cliConfig()
        _ = try startSwitchyard(Self.config(port: proxy, extra: miFifo + "\nmodparam(\"tm\", \"fr_timeout\", 3)")
            + "\nroute { exit; }\n", port: proxy)
        let quiet = try startUAS("uas_options_silent.xml", port: silent)
        let later = try start(cfg, ["t_uac_dlg", "method=OPTIONS", "ruri=sip:quiet@127.0.0.1:\(silent)", headers])
        XCTAssertTrue(waitUntil(10) { quiet.received("OPTIONS ") >= 1 }, quiet.report)

        let count = 100
        let replies = FifoReplies(count)
        let dir = workDir
        for i in 0..<count {
            Thread {
                replies.set(i, Self.fifoRequest(dir: dir, body: #"{"jsonrpc":"2.0","method":"version","id":\#(i)}"#,
                                                name: "imm\(i)", timeout: 10))
            }.start()
        }
        XCTAssertTrue(replies.wait(timeout: 20), "not every immediate request was answered")
        for i in 0..<count {
            XCTAssertTrue(replies.get(i)?.hasSuffix(#","id":\#(i)}"#) ?? false, "request \(i): \(String(describing: replies.get(i)))")
        }
        XCTAssertTrue(later.0.isRunning, "the t_uac_dlg answered before its timeout")
        let (rc, out) = finish(later)
        XCTAssertEqual(rc, 0, out)
        XCTAssertEqual(json(out)?["Status"] as? String, "408 Request Timeout", out)
    }
}
