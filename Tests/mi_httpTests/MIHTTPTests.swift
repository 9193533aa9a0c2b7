import Foundation
import Synchronization
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The mi_http plugin (Plugins/mi_http, served by Plugins/httpd) driven by the real opensips-cli
/// (`communication_type = http`) and by raw HTTP over sockets: every status code, keep-alive and pipelining, JSON-RPC
/// errors, huge bodies, a stalled client and 1,000 concurrent requests.
final class MIHTTPTests: XCTestCase {
    // MARK: - Helpers

    /// A TCP port nobody listens on right now (bind port 0, read it back, close).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_addr.s_addr = inet_addr("127.0.0.1")
        sa.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: sa.sin_port))
    }

    /// A started server loading httpd and mi_http on a free port (returned) plus `extra` config lines.
    private func server(extra: String = "", file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let port = Self.freePort()
        let h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "httpd.so"
        loadmodule "mi_http.so"
        modparam("httpd", "port", \(port))
        \(extra)
        """)
        XCTAssertEqual(h.prepare().map(\.description), [], file: file, line: line)
        try h.start()
        addTeardownBlock { h.stop() }
        return port
    }

    private func cliPath(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        for d in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(d)/opensips-cli"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        XCTFail("opensips-cli is not on PATH: install it with `pip install opensipscli` (.ci/run does)", file: file, line: line)
        throw XCTSkip("opensips-cli missing")
    }

    private func cliConfig(port: Int, root: String = "mi") -> String {
        let cfg = "/tmp/sy-mi-http-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).cfg"
        try? "[default]\ncommunication_type = http\nurl = http://127.0.0.1:\(port)/\(root)\noutput_type = pretty-print\n"
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        addTeardownBlock { unlink(cfg) }
        return cfg
    }

    private func cli(_ cfg: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try cliPath())
        p.arguments = ["-f", cfg, "-x", "mi"] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    private func cliJSON(_ cfg: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Any? {
        let r = try cli(cfg, args)
        XCTAssertEqual(r.status, 0, "mi \(args.joined(separator: " ")): \(r.out) \(r.err)", file: file, line: line)
        return try? JSONSerialization.jsonObject(with: Data(r.out.utf8), options: [.fragmentsAllowed])
    }

    typealias Client = HTTPClient
    typealias Response = HTTPClient.Response

    static func post(_ body: String, path: String = "/mi", extra: String = "", version: String = "1.1") -> String {
        HTTPClient.post(body, path: path, extra: extra, version: version)
    }

    /// One request on a fresh connection.
    private func request(_ port: Int, _ raw: String) -> Response? {
        guard let c = Client(port: port) else { return nil }
        c.send(raw)
        return c.response()
    }

    // MARK: - opensips-cli

    func testOpensipsCLIOverHTTP() throws {
        let port = try server()
        let cfg = cliConfig(port: port)

        let version = try cliJSON(cfg, ["version"]) as? [String: Any]
        XCTAssertTrue((version?["Server"] as? String)?.hasPrefix("OpenSIPS (3.6.8 (") ?? false, "\(String(describing: version))")
        let which = try cliJSON(cfg, ["which"]) as? [String]
        XCTAssertTrue(which?.contains("get_statistics") ?? false)
        let recipes = try cliJSON(cfg, ["which", "command=log_level"]) as? [[String]]
        XCTAssertEqual(recipes?.contains(["level"]), true)
        let uptime = try cliJSON(cfg, ["uptime"]) as? [String: Any]
        XCTAssertNotNil(uptime?["Up time"])
        let ps = try cliJSON(cfg, ["ps"]) as? [String: Any]
        XCTAssertFalse((ps?["Processes"] as? [Any] ?? []).isEmpty)

        let levels = try cliJSON(cfg, ["log_level"]) as? [String: Any]
        XCTAssertNotNil(levels?["Processes"])
        let set = try cliJSON(cfg, ["log_level", "4"]) as? [String: Any]           // positional
        XCTAssertEqual(set?["New global log level"] as? Int, 4)
        let setNamed = try cliJSON(cfg, ["log_level", "level=3"]) as? [String: Any] // named
        XCTAssertEqual(setNamed?["New global log level"] as? Int, 3)

        let stats = try cliJSON(cfg, ["get_statistics", "core:", "load:"]) as? [String: Any]
        XCTAssertNotNil(stats?["load:processes_number"], "\(String(describing: stats))")
        let one = try cliJSON(cfg, ["get_statistics", "load:processes_number"]) as? [String: Any]
        XCTAssertEqual(one?.count, 1)

        let modules = try cliJSON(cfg, ["list_modules"])
        XCTAssertTrue("\(String(describing: modules))".contains("mi_http"))

        let bad = try cli(cfg, ["log_level", "4", "999999999"])
        XCTAssertTrue((bad.out + bad.err).contains("Bad PID"), bad.out + bad.err)
        XCTAssertTrue((bad.out + bad.err).contains("-32602"), bad.out + bad.err)
    }

    func testRootModparamWithOpensipsCLI() throws {
        let port = try server(extra: #"modparam("mi_http", "root", "/admin/json/")"#)
        let version = try cliJSON(cliConfig(port: port, root: "admin/json"), ["version"]) as? [String: Any]
        XCTAssertNotNil(version?["Server"])
        XCTAssertEqual(request(port, Self.post(#"{"jsonrpc":"2.0","method":"version","id":1}"#))?.status, 404)
    }

    // MARK: - Raw HTTP: status codes

    func testStatusCodes() throws {
        let port = try server()
        let version = #"{"jsonrpc":"2.0","method":"version","id":1}"#

        let ok = request(port, Self.post(version))
        XCTAssertEqual(ok?.status, 200)
        XCTAssertEqual(ok?.headers["content-type"], "application/json")
        XCTAssertNotNil((ok?.json?["result"] as? [String: Any])?["Server"])
        XCTAssertEqual(ok?.json?["id"] as? Int, 1)

        let note = request(port, Self.post(#"{"jsonrpc":"2.0","method":"version"}"#)) // notification
        XCTAssertEqual(note?.status, 202)
        XCTAssertEqual(note?.body, "")

        XCTAssertEqual(request(port, Self.post(""))?.status, 400)                         // empty body
        XCTAssertEqual(request(port, Self.post(version, path: "/other"))?.status, 404)    // wrong path
        XCTAssertEqual(request(port, Self.post(version, path: "/"))?.status, 404)
        XCTAssertEqual(request(port, Self.post(version, path: "/mi?x=1"))?.status, 200)   // query ignored
        let get = request(port, "GET /mi HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(get?.status, 405)
        XCTAssertEqual(get?.headers["allow"], "POST")
        XCTAssertEqual(request(port, "PUT /mi HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")?.status, 405)
        // A chunked body is decoded (libmicrohttpd) and answered like any other.
        let chunked = request(port, "POST /mi HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                              + String(version.utf8.count, radix: 16) + "\r\n" + version + "\r\n0\r\n\r\n")
        XCTAssertEqual(chunked?.json?["id"] as? Int, 1, chunked?.body ?? "no answer")
        XCTAssertEqual(request(port, "POST /mi HTTP/1.1\r\nHost: x\r\n\r\n")?.status, 400) // no body at all
        XCTAssertEqual(request(port, "POST /mi HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")?.status, 413)
        XCTAssertEqual(request(port, "POST /mi HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")?.status, 400)
        // A request line without a version is closed without an answer; the server goes on serving.
        let garbage = try XCTUnwrap(Client(port: port))
        garbage.send("garbage\r\n\r\n")
        XCTAssertNil(garbage.response())
        XCTAssertEqual(request(port, Self.post(version))?.status, 200)
    }

    func testConnectionCloseAndHTTP10() throws {
        let port = try server()
        let version = #"{"jsonrpc":"2.0","method":"version","id":1}"#
        // Connection: close → answered, then closed.
        let c1 = try XCTUnwrap(Client(port: port))
        c1.send(Self.post(version, extra: "Connection: close\r\n"))
        let r1 = c1.response()
        XCTAssertEqual(r1?.status, 200)
        XCTAssertEqual(r1?.headers["connection"], "close")
        XCTAssertTrue(c1.closedByPeer())
        // HTTP/1.0 without keep-alive → closed.
        let c2 = try XCTUnwrap(Client(port: port))
        c2.send(Self.post(version, version: "1.0"))
        XCTAssertEqual(c2.response()?.status, 200)
        XCTAssertTrue(c2.closedByPeer())
        // HTTP/1.0 with keep-alive → kept.
        let c3 = try XCTUnwrap(Client(port: port))
        c3.send(Self.post(version, extra: "Connection: keep-alive\r\n", version: "1.0"))
        XCTAssertEqual(c3.response()?.headers["connection"]?.lowercased(), "keep-alive")
        c3.send(Self.post(version, extra: "Connection: keep-alive\r\n", version: "1.0"))
        XCTAssertEqual(c3.response()?.status, 200)
    }

    func testKeepAliveAndPipelining() throws {
        let port = try server()
        let c = try XCTUnwrap(Client(port: port))
        for i in 0..<20 { // several requests on one connection
            c.send(Self.post(#"{"jsonrpc":"2.0","method":"version","id":\#(i)}"#))
            let r = c.response()
            XCTAssertEqual(r?.status, 200)
            XCTAssertEqual(r?.json?["id"] as? Int, i)
        }
        // Errors that consume the whole request keep the connection too.
        c.send("GET /mi HTTP/1.1\r\nHost: x\r\n\r\n")
        XCTAssertEqual(c.response()?.status, 405)
        c.send(Self.post(#"{"jsonrpc":"2.0","method":"version"}"#))
        XCTAssertEqual(c.response()?.status, 202)
        // Three pipelined requests in one write, answered in order.
        c.send((1...3).map { Self.post(#"{"jsonrpc":"2.0","method":"uptime","id":"p\#($0)"}"#) }.joined())
        for i in 1...3 { XCTAssertEqual(c.response()?.json?["id"] as? String, "p\(i)") }
        // A request split over several writes.
        let split = Array(Self.post(#"{"jsonrpc":"2.0","method":"version","id":99}"#).utf8)
        // A slow client: the pause between writes keeps them in separate segments (the point of the case).
        for chunk in stride(from: 0, to: split.count, by: 7) { c.send(Array(split[chunk..<min(chunk + 7, split.count)])); usleep(1000) }
        XCTAssertEqual(c.response()?.json?["id"] as? Int, 99)
    }

    // MARK: - JSON-RPC errors (HTTP 200)

    func testJSONRPCErrors() throws {
        let port = try server()
        func check(_ body: String, _ code: Int, file: StaticString = #filePath, line: UInt = #line) {
            let r = request(port, Self.post(body))
            XCTAssertEqual(r?.status, 200, file: file, line: line)
            XCTAssertEqual(r?.errorCode, code, r?.body ?? "no reply", file: file, line: line)
        }
        check(#"{"jsonrpc":"2.0", bad}"#, -32700)
        check(#"{"jsonrpc":"2.0","method":"version""#, -32700)
        check(#"{"jsonrpc":"1.0","method":"version","id":1}"#, -32600)
        check(#"{"jsonrpc":"2.0","method":"no_such_cmd","id":1}"#, -32601)
        check(#"{"jsonrpc":"2.0","method":"log_level","params":["1","2","3"],"id":1}"#, -32602)
        let stats = request(port, Self.post(#"{"jsonrpc":"2.0","method":"get_statistics","params":{"statistics":["load:"]},"id":"s"}"#))
        XCTAssertNotNil((stats?.json?["result"] as? [String: Any])?["load:processes_number"], stats?.body ?? "")
    }

    func testHugeBodies() throws {
        let port = try server(extra: #"modparam("mi_http", "max_body_size", 300000)"#)
        // Within the limit: parsed and answered (version takes no params → -32602).
        let big = #"{"jsonrpc":"2.0","method":"version","params":[""# + String(repeating: "a", count: 250_000) + #""],"id":1}"#
        let r = request(port, Self.post(big))
        XCTAssertEqual(r?.status, 200)
        XCTAssertNotNil(r?.json)
        // Over the limit, body actually sent: 413 without reading it, connection closed.
        let huge = #"{"jsonrpc":"2.0","method":"version","params":[""# + String(repeating: "a", count: 2_000_000) + #""],"id":1}"#
        let c = try XCTUnwrap(Client(port: port))
        c.send(Self.post(huge)) // the server may close before we finish writing; send() then just stops
        XCTAssertEqual(c.response()?.status, 413)
        // The server is still fine.
        XCTAssertEqual(request(port, Self.post(#"{"jsonrpc":"2.0","method":"version","id":2}"#))?.status, 200)
    }

    // MARK: - Slow and many clients

    func testSlowClientDoesNotHoldTheOnlyThread() throws {
        let port = try server(extra: """
        modparam("httpd", "threads", 1)
        modparam("httpd", "conn_timeout", 1)
        """)
        let slow = try XCTUnwrap(Client(port: port))
        slow.send("POST /mi HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\"") // and stalls
        let r = request(port, Self.post(#"{"jsonrpc":"2.0","method":"version","id":1}"#))
        XCTAssertEqual(r?.status, 200)
        XCTAssertNil(slow.response()) // closed after conn_timeout, without an answer (libmicrohttpd's way)
        // An idle keep-alive connection holds no thread either.
        let idle = try XCTUnwrap(Client(port: port))
        idle.send(Self.post(#"{"jsonrpc":"2.0","method":"version","id":1}"#))
        XCTAssertEqual(idle.response()?.status, 200)
        XCTAssertEqual(request(port, Self.post(#"{"jsonrpc":"2.0","method":"version","id":2}"#))?.status, 200)
    }

    func testHeadOver16KiBGets431() throws {
        let port = try server()
        let big = String(repeating: "a", count: 17 * 1024)
        XCTAssertEqual(request(port, Self.post(#"{"jsonrpc":"2.0","method":"version","id":1}"#, extra: "X-Big: \(big)\r\n"))?.status, 431)
        let fits = String(repeating: "a", count: 15 * 1024)
        XCTAssertEqual(request(port, Self.post(#"{"jsonrpc":"2.0","method":"version","id":1}"#, extra: "X-Big: \(fits)\r\n"))?.status, 200)
    }

    func test1000ConcurrentRequests() throws {
        let port = try server()
        let count = 1000
        let answered = Mutex(0), wrong = Mutex([String]())
        let group = DispatchGroup()
        let start = DispatchSemaphore(value: 0)
        var threads: [Thread] = []
        for i in 0..<count {
            group.enter()
            let t = Thread {
                start.wait()
                defer { group.leave() }
                guard let c = Client(port: port, timeout: 30) else { wrong.withLock { $0.append("\(i): connect failed") }; return }
                c.send(Self.post(#"{"jsonrpc":"2.0","method":"version","id":\#(i)}"#, extra: "Connection: close\r\n"))
                let r = c.response()
                if r?.status == 200, r?.json?["id"] as? Int == i { answered.withLock { $0 += 1 } } else {
                    wrong.withLock { $0.append("\(i): \(r.map { "\($0.status) \($0.body)" } ?? "no response")") }
                }
            }
            t.stackSize = 256 * 1024
            threads.append(t)
            t.start()
        }
        for _ in 0..<count { start.signal() }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success)
        XCTAssertEqual(answered.withLock { $0 }, count, wrong.withLock { $0.prefix(5).joined(separator: "\n") })
    }
}

private extension HTTPClient.Response {
    var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] }
    var errorCode: Int? { (json?["error"] as? [String: Any])?["code"] as? Int }
}
