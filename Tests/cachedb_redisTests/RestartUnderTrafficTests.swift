// Redis restarts under a running `switchyard` whose SIP workers each hold a connection: the requests after the
// restart are all answered at once with the cache working again (OpenSIPS: each worker's next command reconnects),
// none fails or waits for a timeout.
import SwitchyardTestSupport
import Foundation
import XCTest

final class RestartUnderTrafficTests: XCTestCase {
    private func options(_ callID: String, from port: Int, to sipPort: Int) -> String {
        "OPTIONS sip:ping@127.0.0.1:\(sipPort) SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 127.0.0.1:\(port);branch=z9hG4bK-\(callID)\r\n"
            + "From: <sip:t@127.0.0.1>;tag=\(callID)\r\nTo: <sip:ping@127.0.0.1>\r\n"
            + "Call-ID: \(callID)\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    }

    func testWorkersRecoverOnTheirNextRequest() throws {
        let u = try TestServers.redisURL()
        let hp = u.components(separatedBy: "://")[1].trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let key = "sytest:traffic:\(UUID().uuidString.prefix(8))"
        let sipPort = LocalPorts.freeUDPPort()
        let cfg = writeTemp("""
            mpath = "\(BinaryRunner.buildDirectory.path)"
            socket = udp:127.0.0.1:\(sipPort)
            udp_workers = 4
            loadmodule "proto_udp.so"
            loadmodule "sl.so"
            loadmodule "cachedb_redis.so"
            modparam("cachedb_redis", "cachedb_url", "redis://\(hp)/")
            route {
                cache_add("redis", "\(key)", 1, 60, $var(n));
                if ($rc < 0) { sl_send_reply(500, "cache failed"); exit; }
                sl_send_reply(200, "n=$var(n)");
            }
            """)
        defer { try? FileManager.default.removeItem(atPath: cfg) }
        let sy = BinaryRunner(args: ["-f", cfg])
        try sy.start()
        defer { sy.process.interrupt(); _ = sy.wait(timeout: 10) }
        XCTAssertTrue(sy.waitForReady(timeout: 30), sy.output)
        let client = try UDPSocket()

        /// Sends `ids` at once, then collects one final reply per request (status line by Call-ID).
        func burst(_ ids: [String]) -> [String: String] {
            for id in ids { client.send(options(id, from: client.port, to: sipPort), to: sipPort) }
            var got: [String: String] = [:]
            waitUntil(timeout: 10) {
                while let (text, _) = client.receive() {
                    let callID = text.components(separatedBy: "\r\n").first { $0.hasPrefix("Call-ID: ") }?.dropFirst(9)
                    if let callID { got[String(callID)] = text.components(separatedBy: "\r\n")[0] }
                }
                return got.count >= ids.count
            }
            return got
        }
        // Bursts of requests until several workers each hold a connection (Redis lists them, plus redis-cli's own).
        var sent = 0
        XCTAssertTrue(TestServers.waitUntil(20) {
            let before = burst((0..<40).map { "b\(sent + $0)-\(key)" })
            sent += 40
            XCTAssertEqual(before.values.filter { $0.hasPrefix("SIP/2.0 200") }.count, 40, "\(before)\n\(sy.output)")
            let clients = (try? TestServers.run("redis-cli", ["-u", u, "CLIENT", "LIST"]))?.1 ?? ""
            return clients.split(separator: "\n").count >= 3
        }, "the workers never held two connections")

        try TestServers.control("restart", "redis") // no persistence: the counter starts again from nothing
        let t0 = Date()
        let after = burst((0..<40).map { "a\($0)-\(key)" })
        let took = Date().timeIntervalSince(t0)
        XCTAssertEqual(after.values.filter { $0.hasPrefix("SIP/2.0 200") }.count, 40, "\(after)\n\(sy.output)")
        XCTAssertLessThan(took, 5, "the requests after the restart waited for timeouts")
        let (status, out) = try TestServers.run("redis-cli", ["-u", u, "GET", key])
        XCTAssertEqual(status, 0, out)
        XCTAssertEqual(out.trimmingCharacters(in: .whitespacesAndNewlines), "40")
        _ = try? TestServers.run("redis-cli", ["-u", u, "DEL", key])
    }
}
