import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The httpd module (Plugins/httpd, libmicrohttpd) with mi_http registered on it: slow and silent clients never
/// delay another client, the 16 KiB head limit, unknown paths, and the MI command listing the roots.
final class HTTPDTests: XCTestCase {
    /// A server with httpd on a free port (kernel-assigned): the harness and the port.
    private func server(extra: String = "", file: StaticString = #filePath, line: UInt = #line) throws -> (ServerHarness, Int) {
        let (h, port, errors) = ServerHarness.launched { httpPort in """
        loadmodule "httpd.so"
        loadmodule "mi_http.so"
        modparam("httpd", "port", \(httpPort))
        \(extra)
        """ }
        XCTAssertEqual(errors, [], file: file, line: line)
        guard errors.isEmpty else { throw XCTSkip("server did not start") }
        addTeardownBlock { h.stop() }
        return (h, port)
    }

    private let version = #"{"jsonrpc":"2.0","method":"version","id":7}"#

    /// 200 connections that each send one byte and stall: a request on a new connection is still answered, and the
    /// stalled ones are closed once conn_timeout has passed (not before).
    func testTwoHundredStalledConnectionsDoNotDelayARequest() throws {
        let timeout = 3
        let (_, port) = try server(extra: """
        modparam("httpd", "conn_timeout", \(timeout))
        modparam("httpd", "threads", 2)
        """)
        let opened = Date()
        var stalled: [HTTPClient] = []
        for i in 0..<200 {
            guard let c = HTTPClient(port: port) else { return XCTFail("connection \(i) refused") }
            XCTAssertTrue(c.send("P"))
            stalled.append(c)
        }
        // A generous deadline (30 s receive timeout): the assertion is on the answer, not on the time it took.
        let client = try XCTUnwrap(HTTPClient(port: port, timeout: 30))
        client.send(HTTPClient.post(version))
        let r = client.response()
        XCTAssertEqual(r?.status, 200)
        XCTAssertTrue(r?.body.contains(#""id":7"#) ?? false, r?.body ?? "no answer")
        XCTAssertTrue(r?.body.contains("Switchyard") ?? false, r?.body ?? "no answer")

        // Every stalled connection is closed by the server, and none before conn_timeout had passed.
        var open = Set(stalled.indices)
        var firstClose: Date? = nil
        let deadline = Date().addingTimeInterval(Double(timeout) + 30)
        waitUntil(timeout: deadline.timeIntervalSinceNow, poll: 0.05) {
            for i in open where stalled[i].isClosedByPeer() {
                open.remove(i)
                if firstClose == nil { firstClose = Date() }
            }
            return open.isEmpty
        }
        XCTAssertEqual(open.count, 0, "\(open.count) stalled connections still open")
        if let firstClose {
            XCTAssertGreaterThanOrEqual(firstClose.timeIntervalSince(opened), Double(timeout) - 0.5,
                                        "a stalled connection was closed before conn_timeout")
        }
        // And the server still serves.
        let after = try XCTUnwrap(HTTPClient(port: port))
        after.send(HTTPClient.post(version))
        XCTAssertEqual(after.response()?.status, 200)
    }

    /// Twenty connections that send one byte each (the probe that used to delay every request by 25 s).
    func testTwentyOneByteConnectionsDoNotDelayRequests() throws {
        let (_, port) = try server(extra: #"modparam("httpd", "threads", 1)"#)
        let stalled = (0..<20).compactMap { _ in HTTPClient(port: port) }
        XCTAssertEqual(stalled.count, 20)
        stalled.forEach { $0.send("P") }
        let c = try XCTUnwrap(HTTPClient(port: port))
        for i in 0..<10 { // several requests, one connection, all answered while the twenty stall
            c.send(HTTPClient.post(#"{"jsonrpc":"2.0","method":"uptime","id":\#(i)}"#))
            let r = c.response()
            XCTAssertEqual(r?.status, 200)
            XCTAssertTrue(r?.body.contains(#""id":\#(i)"#) ?? false)
        }
        XCTAssertFalse(stalled[0].isClosedByPeer()) // conn_timeout (30 s) has not passed: they are still open
    }

    func testHeadLimitIs16KiB() throws {
        let (h, port) = try server()
        func status(_ headerBytes: Int) -> Int? {
            guard let c = HTTPClient(port: port) else { return nil }
            c.send(HTTPClient.post(version, extra: "X-Pad: \(String(repeating: "a", count: headerBytes))\r\n"))
            return c.response()?.status
        }
        XCTAssertEqual(status(15 * 1024), 200)
        XCTAssertEqual(status(16 * 1024 + 10), 431)
        XCTAssertEqual(status(40 * 1024), 431)   // past libmicrohttpd's own buffer: still 431
        XCTAssertEqual(status(200 * 1024), 431)
        XCTAssertTrue(h.messages.contains { $0.contains("431") }, "one log line per refused head")
        XCTAssertEqual(status(100), 200)
    }

    func testUnknownPathAndRootList() throws {
        let (_, port) = try server()
        let c = try XCTUnwrap(HTTPClient(port: port))
        c.send("GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(c.response()?.status, 404)
        let m = try XCTUnwrap(HTTPClient(port: port))
        m.send(HTTPClient.post(#"{"jsonrpc":"2.0","method":"httpd_list_root_path","id":1}"#))
        let r = m.response()
        XCTAssertEqual(r?.status, 200)
        XCTAssertTrue(r?.body.contains(#""http_root":"mi""#) ?? false, r?.body ?? "")
        XCTAssertTrue(r?.body.contains(#""module":"mi_http""#) ?? false, r?.body ?? "")
    }

    func testPortTakenFailsStartup() throws {
        let (_, port) = try server()
        let second = ServerHarness(plugins: """
        loadmodule "httpd.so"
        modparam("httpd", "port", \(port))
        """)
        let errors = second.launch()
        XCTAssertFalse(errors.isEmpty)
        XCTAssertTrue(second.messages.contains { $0.contains("cannot listen on 127.0.0.1:\(port)") }, second.messages.joined(separator: "\n"))
        second.stop()
    }

    func testBadModparamsAreRefused() {
        for (name, value) in [("port", "0"), ("conn_timeout", "0"), ("ip", "\"not-an-ip\""), ("receive_buf_size", "100")] {
            let h = ServerHarness(plugins: """
            loadmodule "httpd.so"
            modparam("httpd", "\(name)", \(value))
            """)
            let errors = h.launch()
            XCTAssertFalse(errors.isEmpty, "\(name) = \(value) accepted")
            h.stop()
        }
    }
}
