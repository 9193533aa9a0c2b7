import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A reply with more than one read's worth of events right behind it (a busy box): the worker waiting for that reply
/// reads one buffer and returns; the box's I/O thread, whose wake-up that worker took (EPOLLEXCLUSIVE), reads the
/// rest at once, not when the next bytes arrive. Also when epoll refuses the socket (the plain poll() fallback).
/// A real esl-simulator on loopback (`api sim_dtmf_after <n>`: the reply, then n DTMF events in the same write).
/// On loopback a write of up to 64 KB arrives as one segment, one wake-up; segments after it wake the I/O thread
/// too (the worker is no longer asleep on the socket). So the bursts are one segment (under 64 KB) and the reads
/// are made 4 KiB (test hook SWITCHYARD_TEST_FS_READ_BUFFER): the worker reads its reply and leaves the rest of
/// that one wake-up's bytes, as a 64 KiB read does behind a larger coalesced segment on a real network.
final class FreeSwitchReplyBurstTests: XCTestCase {
    static let password = "Burst-ClueCon"
    static let events = 30 // about 1.3 KB each: one loopback segment, several 4 KiB reads
    static let rounds = 5

    private func config(_ port: Int) -> String {
        """
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "json.so"
        loadmodule "freeswitch.so"
        loadmodule "freeswitch_scripting.so"
        modparam("freeswitch_scripting", "fs_subscribe", "fs://:\(Self.password)@127.0.0.1:\(port)/?DTMF")
        event_route[E_FREESWITCH] {
            $json(e) := $param(body);
            xlog("DIGIT $json(e/DTMF-Digit)");
        }
        event_route[E_GO] {
            if (freeswitch_esl("api sim_dtmf_after \(Self.events)", "127.0.0.1:\(port)", $var(out))) {
                xlog("GODONE $var(out)");
            }
        }
        """
    }

    /// Starts a server on a simulator without heartbeats (no later bytes to wake the reader), sends the command once
    /// and checks every event arrives, in order, within a few seconds.
    private func runBurst(epollRefused: Bool) throws -> [String] {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let h = ServerHarness(config(sim.port))
        if epollRefused { setenv("SWITCHYARD_TEST_FS_EPOLL_REFUSED", "1", 1) }
        setenv("SWITCHYARD_TEST_FS_READ_BUFFER", "4096", 1)
        let problems = h.prepare(workers: 1).map(\.description)
        unsetenv("SWITCHYARD_TEST_FS_EPOLL_REFUSED")
        unsetenv("SWITCHYARD_TEST_FS_READ_BUFFER")
        XCTAssertEqual(problems, [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))

        func digits() -> String {
            h.messages.compactMap { m in m.range(of: "DIGIT ").map { r in String(m[r.upperBound...].prefix(1)) } }.joined()
        }
        // Several rounds, each delivered within seconds: well before any heartbeat would come (FreeSWITCH's is every
        // 20 s; here none ever comes, so without the I/O thread reading on they would never arrive).
        for round in 1...Self.rounds {
            XCTAssertEqual(h.server.raiseEvent("E_GO", []), 0)
            XCTAssertTrue(waitUntil(timeout: 5) { h.messages.filter { $0.contains("GODONE +OK") }.count >= round }, h.messages.suffix(5).joined(separator: "\n"))
            XCTAssertTrue(waitUntil(timeout: 5) { digits().count >= round * Self.events }, "round \(round): \(digits().count) events delivered")
        }
        XCTAssertEqual(digits(), String(repeating: "0123456789", count: Self.rounds * Self.events / 10))
        return h.messages
    }

    func testEventsRightBehindAReplyAreAllDeliveredPromptlyInOrder() throws {
        let log = try runBurst(epollRefused: false)
        XCTAssertFalse(log.contains { $0.contains("epoll refused") })
    }

    /// epoll refusing the socket (EPOLLEXCLUSIVE on a kernel before 4.5, some sandboxes; here the test hook): said
    /// once, and the box works as before parking existed (the I/O thread reads every reply, in poll()).
    func testRefusedEpollFallsBackToPoll() throws {
        let log = try runBurst(epollRefused: true)
        XCTAssertEqual(log.filter { $0.contains("epoll refused the socket") }.count, 1, log.joined(separator: "\n"))
    }
}
