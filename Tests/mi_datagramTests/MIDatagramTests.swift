import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The mi_datagram plugin (Plugins/mi_datagram) driven by the real opensips-cli (PyPI `opensipscli`, installed by
/// .ci/run) over a Unix datagram socket and over UDP; the socket_name it cannot start without.
final class MIDatagramTests: XCTestCase {
    private func tempDir() -> String {
        let d = "/tmp/sy-mi-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: d) }
        return d
    }

    private func cli(_ cfg: String, _ args: [String]) throws -> OpensipsCLI.Result { try OpensipsCLI.run(cfg, args) }

    private func cliJSON(_ cfg: String, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Any? {
        try OpensipsCLI.json(cfg, args, file: file, line: line)
    }

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
        let port = LocalPorts.freePorts(1)[0]
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
