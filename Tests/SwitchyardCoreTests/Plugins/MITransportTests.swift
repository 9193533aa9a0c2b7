import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The MI transport plugins (Plugins/mi_fifo, Plugins/mi_datagram) driven by the real opensips-cli (PyPI
/// `opensipscli`, installed by .ci/run) and by raw clients doing opensips-cli's FIFO handshake: core and module
/// commands, positional and named arguments, errors for bad input, a client that never reads its reply, 200 concurrent
/// requests.
final class MITransportTests: XCTestCase {
    // MARK: - Helpers

    /// opensips-cli from PATH; a missing one fails the test (CI installs it: `pip install opensipscli`).
    private func cliPath(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
        for d in dirs {
            let p = "\(d)/opensips-cli"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        XCTFail("opensips-cli is not on PATH: install it with `pip install opensipscli` (.ci/run does)", file: file, line: line)
        throw XCTSkip("opensips-cli missing")
    }

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

    struct CLIResult { var status: Int32; var out: String; var err: String }

    private func cli(_ cfg: String, _ args: [String]) throws -> CLIResult {
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
        return CLIResult(status: p.terminationStatus, out: String(decoding: o, as: UTF8.self), err: String(decoding: e, as: UTF8.self))
    }

    /// Runs `mi args...` (output_type pretty-print: JSON) and parses stdout.
    private func cliJSON(_ cfg: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Any? {
        let r = try cli(cfg, args)
        XCTAssertEqual(r.status, 0, "mi \(args.joined(separator: " ")): \(r.out) \(r.err)", file: file, line: line)
        return try? JSONSerialization.jsonObject(with: Data(r.out.utf8), options: [.fragmentsAllowed])
    }

    /// opensips-cli's FIFO handshake done by hand: create `<dir>/<name>`, write `:name:body` into the server FIFO,
    /// read the reply until the server closes it. Nil after `timeout` with no reply.
    static func fifoRequest(dir: String, body: [UInt8], name: String, timeout: Double = 5) -> String? {
        let replyPath = "\(dir)/\(name)"
        unlink(replyPath)
        guard mkfifo(replyPath, 0o666) == 0 else { return "mkfifo failed" }
        defer { unlink(replyPath) }
        // Our read end first (non-blocking), so the server's open never sees ENXIO.
        let rfd = open(replyPath, O_RDONLY | O_NONBLOCK)
        guard rfd >= 0 else { return "open reply failed" }
        defer { close(rfd) }
        let wfd = open("\(dir)/fifo", O_WRONLY)
        guard wfd >= 0 else { return "open fifo failed" }
        let frame = Array(":\(name):".utf8) + body
        var off = 0
        while off < frame.count {
            let n = frame.withUnsafeBytes { write(wfd, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { break }
            off += n
        }
        close(wfd)
        return readReply(rfd, timeout: timeout)
    }

    static func readReply(_ fd: Int32, timeout: Double) -> String? {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 50)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { data += buf[0..<n]; continue }
            if n == 0 && !data.isEmpty { return String(decoding: data, as: UTF8.self) } // writer closed
            if n == 0 { usleep(5_000) } // no writer yet
        }
        return data.isEmpty ? nil : String(decoding: data, as: UTF8.self)
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
        XCTAssertTrue((version?["Server"] as? String)?.hasPrefix("OpenSIPS (3.6.0 (") ?? false, "\(String(describing: version))")

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
        let r1 = open("\(dir)/b1", O_RDONLY | O_NONBLOCK), r2 = open("\(dir)/b2", O_RDONLY | O_NONBLOCK)
        defer { close(r1); close(r2) }
        let text = ":b1:{\"jsonrpc\":\"2.0\",\"method\":\"version\",\"id\":1}\n  :b2:{\"jsonrpc\":\"2.0\",\"method\":\"pwd\",\"id\":2}"
        let w = open("\(dir)/fifo", O_WRONLY)
        _ = text.withCString { write(w, $0, strlen($0)) }
        close(w)
        XCTAssertTrue(Self.readReply(r1, timeout: 5)?.contains("Server") ?? false)
        XCTAssertTrue(Self.readReply(r2, timeout: 5)?.contains("WD") ?? false)
    }

    /// A writer stalls half-way through its request; another writer's complete request is answered at once, the
    /// partial one gets an error (logged); a partial request on its own times out with a parse error (logged).
    func testFifoRequestInterleavedWithAPartialOneIsServed() throws {
        let dir = tempDir()
        let h = try server(dir)
        unlink("\(dir)/slow"); XCTAssertEqual(mkfifo("\(dir)/slow", 0o666), 0)
        let slowReply = open("\(dir)/slow", O_RDONLY | O_NONBLOCK)
        defer { close(slowReply) }
        let slow = open("\(dir)/fifo", O_WRONLY)
        defer { close(slow) }
        _ = ":slow:{\"jsonrpc\":\"2.0\",\"meth".withCString { write(slow, $0, strlen($0)) }
        let other = raw(dir, #"{"jsonrpc":"2.0","method":"version","id":5}"#)
        XCTAssertTrue(other?.contains("Server") ?? false, "\(String(describing: other))\n" + h.messages.joined(separator: "\n"))
        let partial = Self.readReply(slowReply, timeout: 5) ?? ""
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
        XCTAssertTrue(first.waitFor("ready", timeout: 10), first.output)
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
        XCTAssertLessThan(Date().timeIntervalSince(start), 0.3, "a stuck client delayed the next request")
        XCTAssertTrue(h.waitFor("no reader", timeout: 3), h.messages.joined(separator: "\n"))
    }

    func testFifoRecreatedWhenRemoved() throws {
        let dir = tempDir()
        let h = try server(dir)
        XCTAssertEqual(unlink("\(dir)/fifo"), 0)
        XCTAssertTrue(h.waitFor("re-creating", timeout: 5))
        let end = Date().addingTimeInterval(3)
        while access("\(dir)/fifo", F_OK) != 0 && Date() < end { usleep(20_000) }
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

    // MARK: - mi_datagram

    private func datagramServer(_ dir: String, socket: String, file: StaticString = #filePath, line: UInt = #line) throws -> ServerHarness {
        let h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "mi_datagram.so"
        loadmodule "cachedb_local.so"
        modparam("mi_datagram", "socket_name", "\(socket)")
        modparam("mi_datagram", "children_count", 2)
        """)
        XCTAssertEqual(h.prepare().map(\.description), [], file: file, line: line)
        try h.start()
        addTeardownBlock { h.stop() }
        return h
    }

    func testDatagramUnixSocketWithOpensipsCLI() throws {
        let dir = tempDir()
        _ = try datagramServer(dir, socket: "\(dir)/mi.sock")
        let cfg = "\(dir)/cli-dg.cfg"
        try "[default]\ncommunication_type = datagram\ndatagram_unix_socket = \(dir)/mi.sock\ndatagram_timeout = 5\noutput_type = pretty-print\n"
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        let version = try cliJSON(cfg, ["version"]) as? [String: Any]
        XCTAssertNotNil(version?["Server"])
        let stats = try cliJSON(cfg, ["get_statistics", "core:", "load:"]) as? [String: Any]
        XCTAssertNotNil(stats?["load:processes_number"])
        XCTAssertEqual(try cliJSON(cfg, ["cache_store", "local", "k", "v"]) as? String, "OK")
        let f = try cliJSON(cfg, ["cache_fetch", "system=local", "attr=k"]) as? [String: Any]
        XCTAssertEqual(f?["value"] as? String, "v")
        let bad = try cli(cfg, ["log_level", "1", "2", "3"])
        XCTAssertNotEqual(bad.out + bad.err, "")
    }

    func testDatagramUDPWithOpensipsCLI() throws {
        let dir = tempDir()
        let port = 20_000 + Int(getpid() % 20_000)
        _ = try datagramServer(dir, socket: "udp:127.0.0.1:\(port)")
        let cfg = "\(dir)/cli-udp.cfg"
        try "[default]\ncommunication_type = datagram\ndatagram_ip = 127.0.0.1\ndatagram_port = \(port)\ndatagram_timeout = 5\noutput_type = pretty-print\n"
            .write(toFile: cfg, atomically: true, encoding: .utf8)
        let version = try cliJSON(cfg, ["version"]) as? [String: Any]
        XCTAssertNotNil(version?["Server"])
        let level = try cliJSON(cfg, ["log_level", "level=3"]) as? [String: Any]
        XCTAssertEqual(level?["New global log level"] as? Int, 3)
    }

    /// A reply too big for one datagram is replaced by an error naming the request's id; when even that error would not
    /// fit (an id of nearly a datagram), the error goes with id null instead of not at all.
    func testDatagramOversizedReplyWithHugeIDIsStillAnswered() throws {
        let port = try UDPSocket().port // a free port (the probe closes at once)
        _ = try datagramServer(tempDir(), socket: "udp:127.0.0.1:\(port)")
        let client = try UDPSocket()
        let id = String(repeating: "x", count: 65_400)
        client.send(#"{"jsonrpc":"2.0","method":"get_statistics","params":[["all"]],"id":"\#(id)"}"#, to: port)
        var reply: String?
        let deadline = Date().addingTimeInterval(10)
        while reply == nil, Date() < deadline { reply = client.receive()?.0 }
        let object = try JSONSerialization.jsonObject(with: Data(XCTUnwrap(reply, "no answer").utf8)) as? [String: Any]
        XCTAssertEqual((object?["error"] as? [String: Any])?["code"] as? Int, -32000)
        XCTAssertTrue(object?["id"] is NSNull, "\(object ?? [:])")
    }

    func testDatagramRequiresSocketName() throws {
        let h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "mi_datagram.so"
        """)
        let errors = h.prepare().map(\.description).joined(separator: "\n")
        XCTAssertFalse(errors.isEmpty)
        let all = errors + "\n" + h.messages.joined(separator: "\n")
        XCTAssertTrue(all.contains("socket_name is required"), all)
        h.stop()
    }
}
