import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The mi_fifo plugin (Plugins/mi_fifo) driven by the real opensips-cli (PyPI
/// `opensipscli`, installed by .ci/run) and by raw clients doing opensips-cli's FIFO handshake: core and module
/// commands, positional and named arguments, errors for bad input, a client that never reads its reply, 200 concurrent
/// requests.
final class MIFifoTests: XCTestCase {
    // MARK: - Helpers

    private func tempDir() -> String {
        let d = "/tmp/sy-mi-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    /// A started server loading mi_fifo (FIFO and replies in `dir`) plus `extra` config lines.
    private func server(_ dir: String, extra: String = "", file: StaticString = #filePath, line: UInt = #line) throws -> ServerHarness {
        let h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "mi_fifo.so"
        modparam("mi_fifo", "fifo_name", "\(dir)/fifo")
        modparam("mi_fifo", "reply_dir", "\(dir)/")
        \(extra)
        """)
        XCTAssertEqual(h.prepare().map(\.description), [], file: file, line: line)
        try h.start()
        addTeardownBlock { h.stop() }
        return h
    }

    private func fifoCLIConfig(_ dir: String, output: String = "pretty-print") -> String {
        let cfg = "\(dir)/cli-fifo.cfg"
        try? """
        [default]
        communication_type = fifo
        fifo_file = \(dir)/fifo
        fifo_file_fallback = \(dir)/fifo
        fifo_reply_dir = \(dir)
        output_type = \(output)

        """.write(toFile: cfg, atomically: true, encoding: .utf8)
        return cfg
    }

    private func cli(_ cfg: String, _ args: [String]) throws -> OpensipsCLI.Result { try OpensipsCLI.run(cfg, args) }

    private func cliJSON(_ cfg: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Any? {
        try OpensipsCLI.json(cfg, args, file: file, line: line)
    }

    static func fifoRequest(dir: String, body: [UInt8], name: String, timeout: Double = 5) -> String? {
        MIFifoClient.request(dir: dir, body: body, name: name, timeout: timeout)
    }

    private func raw(_ dir: String, _ body: String) -> String? {
        Self.fifoRequest(dir: dir, body: Array(body.utf8), name: "r\(UInt32.random(in: 0...UInt32.max))")
    }

    // MARK: - mi_fifo with opensips-cli

    func testFifoCoreCommandsWithOpensipsCLI() throws {
        let dir = tempDir()
        _ = try server(dir)
        let cfg = fifoCLIConfig(dir)

        let version = try cliJSON(cfg, ["version"]) as? [String: Any]
        XCTAssertTrue((version?["Server"] as? String)?.hasPrefix("OpenSIPS (3.6.8 (") ?? false, "\(String(describing: version))")

        let which = try cliJSON(cfg, ["which"]) as? [String]
        XCTAssertTrue(which?.contains("get_statistics") ?? false)
        XCTAssertTrue(which?.contains("log_level") ?? false)
        let recipes = try cliJSON(cfg, ["which", "command=log_level"]) as? [[String]]
        XCTAssertEqual(recipes?.contains([]), true)
        XCTAssertEqual(recipes?.contains(["level"]), true)

        let uptime = try cliJSON(cfg, ["uptime"]) as? [String: Any]
        XCTAssertNotNil(uptime?["Up time"])
        let ps = try cliJSON(cfg, ["ps"]) as? [String: Any]
        XCTAssertFalse((ps?["Processes"] as? [Any] ?? []).isEmpty)

        let levels = try cliJSON(cfg, ["log_level"]) as? [String: Any]
        XCTAssertNotNil(levels?["Processes"])
        let set = try cliJSON(cfg, ["log_level", "4"]) as? [String: Any]             // positional, a string "4"
        XCTAssertEqual(set?["New global log level"] as? Int, 4)
        let setNamed = try cliJSON(cfg, ["log_level", "level=3"]) as? [String: Any]   // named
        XCTAssertEqual(setNamed?["New global log level"] as? Int, 3)

        let stats = try cliJSON(cfg, ["get_statistics", "core:", "load:"]) as? [String: Any]
        XCTAssertNotNil(stats?["load:processes_number"], "\(String(describing: stats))")
        XCTAssertTrue(stats?.keys.contains { $0.hasPrefix("core:") } ?? false)
        let one = try cliJSON(cfg, ["get_statistics", "load:processes_number"]) as? [String: Any]
        XCTAssertEqual(one?.count, 1)

        let modules = try cliJSON(cfg, ["list_modules"])
        XCTAssertTrue("\(String(describing: modules))".contains("mi_fifo"))

        // An MI error is shown by opensips-cli as `code: message (data)`.
        let bad = try cli(cfg, ["log_level", "4", "999999999"])
        XCTAssertTrue((bad.out + bad.err).contains("Bad PID"), bad.out + bad.err)
        XCTAssertTrue((bad.out + bad.err).contains("-32602"), bad.out + bad.err)
    }

    func testFifoModuleCommandsWithOpensipsCLI() throws {
        let dir = tempDir()
        _ = try server(dir, extra: #"loadmodule "cachedb_local.so""#)
        let cfg = fifoCLIConfig(dir)
        XCTAssertEqual(try cliJSON(cfg, ["cache_store", "local", "k1", "v1"]) as? String, "OK")          // positional
        XCTAssertEqual(try cliJSON(cfg, ["cache_store", "system=local", "attr=k2", "value=v2"]) as? String, "OK") // named
        let f1 = try cliJSON(cfg, ["cache_fetch", "local", "k1"]) as? [String: Any]
        XCTAssertEqual(f1?["value"] as? String, "v1")
        let f2 = try cliJSON(cfg, ["cache_fetch", "system=local", "attr=k2"]) as? [String: Any]
        XCTAssertEqual(f2?["value"] as? String, "v2")
        let dict = try cli(fifoCLIConfig(dir, output: "dictionary"), ["cache_fetch", "local", "k1"])
        XCTAssertTrue(dict.out.contains("v1"), dict.out + dict.err)
    }

    // MARK: - mi_fifo: raw input

    func testFifoBadInputGetsErrorReplies() throws {
        let dir = tempDir()
        let h = try server(dir)
        func code(_ reply: String?) -> Int? {
            guard let reply, let o = try? JSONSerialization.jsonObject(with: Data(reply.utf8)) as? [String: Any] else { return nil }
            return (o["error"] as? [String: Any])?["code"] as? Int
        }
        XCTAssertEqual(code(raw(dir, #"{"jsonrpc":"2.0", bad}"#)), -32700)
        XCTAssertEqual(code(raw(dir, #"{"jsonrpc":"2.0","method":"version""#)), -32700) // truncated, answered after a pause
        XCTAssertEqual(code(raw(dir, #"{"jsonrpc":"1.0","method":"version","id":1}"#)), -32600)
        XCTAssertEqual(code(raw(dir, #"{"jsonrpc":"2.0","method":"no_such_cmd","id":1}"#)), -32601)
        XCTAssertEqual(code(raw(dir, #"{"jsonrpc":"2.0","method":"log_level","params":["1","2","3"],"id":1}"#)), -32602)
        let huge = #"{"jsonrpc":"2.0","method":"version","params":[""# + String(repeating: "a", count: 200_000) + #""],"id":1}"#
        let hugeReply = raw(dir, huge)
        XCTAssertEqual(code(hugeReply), -32700, String(describing: hugeReply))
        XCTAssertTrue(hugeReply?.contains("65536") ?? false)

        // A good request afterwards is served, on one line without a trailing newline, id echoed with its type.
        let ok = raw(dir, #"{"jsonrpc":"2.0","method":"version","id":"abc"}"#)
        XCTAssertEqual(ok?.contains("\n"), false)
        XCTAssertTrue(ok?.hasSuffix(#","id":"abc"}"#) ?? false, String(describing: ok))
        // A notification gets no reply (the reply FIFO is never opened by the server).
        XCTAssertNil(Self.fifoRequest(dir: dir, body: Array(#"{"jsonrpc":"2.0","method":"version"}"#.utf8), name: "note", timeout: 0.5))
        // An invalid reply name is refused (logged), the next request still works.
        XCTAssertNil(Self.fifoRequest(dir: dir, body: Array(#"{"jsonrpc":"2.0","method":"version","id":1}"#.utf8), name: "a.b", timeout: 0.5))
        XCTAssertTrue(h.waitFor("invalid reply FIFO name 'a.b'"))
        XCTAssertEqual(code(raw(dir, #"{"jsonrpc":"2.0","method":"pwd","id":2}"#)), nil)
    }

    func testFifoBackToBackRequestsInOneWrite() throws {
        let dir = tempDir()
        _ = try server(dir)
        for n in ["b1", "b2"] { unlink("\(dir)/\(n)"); XCTAssertEqual(mkfifo("\(dir)/\(n)", 0o666), 0) }
        let r1 = try XCTUnwrap(MIFifoClient.ReplyFIFO(path: "\(dir)/b1")), r2 = try XCTUnwrap(MIFifoClient.ReplyFIFO(path: "\(dir)/b2"))
        let text = ":b1:{\"jsonrpc\":\"2.0\",\"method\":\"version\",\"id\":1}\n  :b2:{\"jsonrpc\":\"2.0\",\"method\":\"pwd\",\"id\":2}"
        let w = open("\(dir)/fifo", O_WRONLY)
        _ = text.withCString { write(w, $0, strlen($0)) }
        close(w)
        XCTAssertTrue(r1.read(timeout: 5)?.contains("Server") ?? false)
        XCTAssertTrue(r2.read(timeout: 5)?.contains("WD") ?? false)
    }

    /// A writer stalls half-way through its request; another writer's complete request is answered at once, the
    /// partial one gets an error (logged); a partial request on its own times out with a parse error (logged).
    func testFifoRequestInterleavedWithAPartialOneIsServed() throws {
        let dir = tempDir()
        let h = try server(dir)
        unlink("\(dir)/slow"); XCTAssertEqual(mkfifo("\(dir)/slow", 0o666), 0)
        let slowReply = try XCTUnwrap(MIFifoClient.ReplyFIFO(path: "\(dir)/slow"))
        let slow = open("\(dir)/fifo", O_WRONLY)
        defer { close(slow) }
        _ = ":slow:{\"jsonrpc\":\"2.0\",\"meth".withCString { write(slow, $0, strlen($0)) }
        let other = raw(dir, #"{"jsonrpc":"2.0","method":"version","id":5}"#)
        XCTAssertTrue(other?.contains("Server") ?? false, "\(String(describing: other))\n" + h.messages.joined(separator: "\n"))
        let partial = slowReply.read(timeout: 5) ?? ""
        XCTAssertTrue(partial.contains("-32700") && partial.contains("interrupted"), partial)
        XCTAssertTrue(h.waitFor("reply FIFO 'slow' interrupted"), h.messages.joined(separator: "\n"))
        // The rest of the slow request arrives: dropped as garbage, and the FIFO still serves.
        _ = "od\":\"version\",\"id\":1}".withCString { write(slow, $0, strlen($0)) }
        XCTAssertTrue(raw(dir, #"{"jsonrpc":"2.0","method":"version","id":6}"#)?.contains("Server") ?? false)

        // A partial request alone: no byte for 0.5 s, then a parse error, logged.
        let lone = Self.fifoRequest(dir: dir, body: Array(#"{"jsonrpc":"2.0","method""#.utf8), name: "lone")
        XCTAssertTrue(lone?.contains("-32700") ?? false, "\(String(describing: lone))")
        XCTAssertTrue(h.waitFor("incomplete request in \(dir)/fifo"), h.messages.joined(separator: "\n"))
    }

    /// A second instance on the same FIFO refuses to start, naming the FIFO and the running process; the first one
    /// keeps its FIFO and keeps serving.
    func testSecondInstanceOnTheSameFifoRefusesToStart() throws {
        let dir = tempDir()
        let cfg = writeTemp("""
        loadmodule "mi_fifo.so"
        modparam("mi_fifo", "fifo_name", "\(dir)/fifo")
        modparam("mi_fifo", "reply_dir", "\(dir)/")
        """)
        let first = BinaryRunner(args: ["-f", cfg])
        try first.start()
        defer { if first.process.isRunning { first.process.terminate(); _ = first.wait(timeout: 5) } }
        XCTAssertTrue(first.waitForReady(timeout: 10), first.output)
        var st1 = stat()
        XCTAssertEqual(stat("\(dir)/fifo", &st1), 0)

        let (status, out) = try BinaryRunner.run(["-f", cfg], timeout: 10)
        XCTAssertNotEqual(status, 0, out)
        XCTAssertTrue(out.contains("FIFO \(dir)/fifo is in use"), out)
        XCTAssertTrue(out.contains("process \(first.process.processIdentifier)"), out)

        var st2 = stat()
        XCTAssertEqual(stat("\(dir)/fifo", &st2), 0)
        XCTAssertEqual(st1.st_ino, st2.st_ino, "the running instance's FIFO was replaced")
        XCTAssertTrue(raw(dir, #"{"jsonrpc":"2.0","method":"version","id":1}"#)?.contains("Server") ?? false)
        XCTAssertFalse(first.output.contains("re-creating"), first.output)
    }

    func testFifoClientNeverOpeningItsReplyDoesNotBlock() throws {
        let dir = tempDir()
        let h = try server(dir)
        // Several clients that create their reply FIFO but never open it.
        for i in 0..<3 {
            unlink("\(dir)/stuck\(i)")
            XCTAssertEqual(mkfifo("\(dir)/stuck\(i)", 0o666), 0)
            let w = open("\(dir)/fifo", O_WRONLY)
            _ = ":stuck\(i):{\"jsonrpc\":\"2.0\",\"method\":\"version\",\"id\":1}".withCString { write(w, $0, strlen($0)) }
            close(w)
        }
        let start = Date()
        let reply = raw(dir, #"{"jsonrpc":"2.0","method":"version","id":7}"#)
        XCTAssertTrue(reply?.contains("Server") ?? false)
        // Each stuck client's reply open is retried for ~0.35 s: served one after another they would hold this request
        // for over 1 s. The bound leaves a loaded machine room without letting that through.
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.9, "a stuck client delayed the next request")
        XCTAssertTrue(h.waitFor("no reader", timeout: 10), h.messages.joined(separator: "\n"))
    }

    func testFifoRecreatedWhenRemoved() throws {
        let dir = tempDir()
        let h = try server(dir)
        XCTAssertEqual(unlink("\(dir)/fifo"), 0)
        XCTAssertTrue(h.waitFor("re-creating", timeout: 5))
        waitUntil(timeout: 10, poll: 0.02) { access("\(dir)/fifo", F_OK) == 0 }
        XCTAssertTrue(raw(dir, #"{"jsonrpc":"2.0","method":"version","id":1}"#)?.contains("Server") ?? false)
    }

    func test200ConcurrentFifoRequests() throws {
        let dir = tempDir()
        _ = try server(dir)
        let count = 200
        let replies = Replies(count)
        var threads: [Thread] = []
        for i in 0..<count {
            let t = Thread {
                let r = Self.fifoRequest(dir: dir, body: Array(#"{"jsonrpc":"2.0","method":"version","id":\#(i)}"#.utf8),
                                         name: "c\(i)", timeout: 20)
                replies.set(i, r)
            }
            threads.append(t)
        }
        threads.forEach { $0.start() }
        XCTAssertTrue(replies.wait(timeout: 30), "not every request was answered")
        for i in 0..<count {
            XCTAssertTrue(replies.get(i)?.hasSuffix(#","id":\#(i)}"#) ?? false, "request \(i): \(String(describing: replies.get(i)))")
        }
    }

    final class Replies: @unchecked Sendable { // guarded by lock
        let lock = NSCondition()
        var values: [String?]
        var done = 0
        init(_ n: Int) { values = Array(repeating: nil, count: n) }
        func set(_ i: Int, _ v: String?) { lock.lock(); values[i] = v; done += 1; lock.broadcast(); lock.unlock() }
        func get(_ i: Int) -> String? { lock.lock(); defer { lock.unlock() }; return values[i] }
        func wait(timeout: Double) -> Bool {
            let end = Date().addingTimeInterval(timeout)
            lock.lock(); defer { lock.unlock() }
            while done < values.count { if !lock.wait(until: end) { return false } }
            return true
        }
    }
}
