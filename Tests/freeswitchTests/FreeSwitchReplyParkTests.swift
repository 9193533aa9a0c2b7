import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A worker waiting for its freeswitch_esl reply reads the socket itself (Plugins/freeswitch/ReplyPark.swift): the
/// reply wakes that worker only, the box's I/O thread sleeps on; events read on the way are still delivered by the
/// I/O thread, in stream order, none lost. A real esl-simulator on loopback, the server in-process.
final class FreeSwitchReplyParkTests: XCTestCase {
    static let password = "Park-ClueCon"

    private func config(_ port: Int, route: String) -> String {
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
        \(route)
        }
        """
    }

    /// The box's I/O thread, found by what it sleeps in: epoll_wait (x86-64 syscall 232) for 2 events with its
    /// 200 ms timeout (/proc/self/task/<tid>/syscall: number, then the arguments).
    private func ioThread() -> String? {
        let dir = "/proc/self/task"
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).first { tid in
            let f = ((try? String(contentsOfFile: "\(dir)/\(tid)/syscall", encoding: .utf8)) ?? "").split(separator: " ")
            return f.count > 4 && f[0] == "232" && f[3] == "0x2" && f[4] == "0xc8"
        }
    }

    /// Voluntary context switches (times it went to sleep) of thread `tid` of this process.
    private func sleeps(_ tid: String) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/task/\(tid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("voluntary_ctxt_switches:") }) else { return nil }
        return Int(line.split(separator: "\t").last ?? "")
    }

    /// 300 commands one after the other from one worker, no events: every reply is read by the worker that waits for
    /// it. The box's I/O thread is not woken per reply: it sleeps far fewer times than 300.
    func testTheWaitingWorkerReadsItsReplyAndTheIOThreadSleepsOn() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let n = 300
        let h = ServerHarness(config(sim.port, route: """
            $var(i) = 0; $var(ok) = 0;
            while ($var(i) < \(n)) {
                $var(out) = "";
                if (freeswitch_esl("api echo park$var(i)", "127.0.0.1:\(sim.port)", $var(out))) {
                    $var(ok) = $var(ok) + 1;
                }
                $var(i) = $var(i) + 1;
            }
            xlog("GODONE ok=$var(ok) last=$var(out)");
        """))
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))
        var io: String? = nil
        XCTAssertTrue(waitUntil(timeout: 5) { io = ioThread(); return io != nil }, "no thread sleeps in the I/O thread's epoll_wait")
        guard let io, let before = sleeps(io) else { return }

        XCTAssertEqual(h.server.raiseEvent("E_GO", []), 0)
        XCTAssertTrue(h.waitFor("GODONE", timeout: 30), h.messages.joined(separator: "\n"))
        let after = sleeps(io) ?? before
        XCTAssertTrue(h.messages.contains { $0.contains("GODONE ok=\(n) last=park\(n - 1)") }, h.messages.suffix(5).joined(separator: "\n"))
        // Not once per reply: only when a reply comes back before its caller is asleep on the socket (the I/O
        // thread then reads it), and for its 200 ms housekeeping.
        XCTAssertLessThan(after - before, n * 2 / 3, "the I/O thread slept \(after - before) times for \(n) replies")
    }

    /// `api uuid_send_dtmf <uuid> 0123456789` makes the box send ten DTMF events ahead of each reply: the waiting
    /// worker reads them on its way to its reply. The other worker runs their route in stream order, every digit once.
    func testEventsReadAheadOfAReplyAreDeliveredInOrder() throws {
        let sim = try SimulatorProcess(["--password", Self.password, "--heartbeat", "0"])
        defer { sim.kill() }
        let rounds = 30
        let h = ServerHarness(config(sim.port, route: """
            $var(i) = 0; $var(ok) = 0;
            while ($var(i) < \(rounds)) {
                if (freeswitch_esl("api uuid_send_dtmf $param(uuid) 0123456789", "127.0.0.1:\(sim.port)", $var(out))) {
                    $var(ok) = $var(ok) + 1;
                }
                $var(i) = $var(i) + 1;
            }
            xlog("GODONE ok=$var(ok)");
        """))
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("connected and authenticated", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(sim.waitForCommand("event json DTMF"))
        let uuid = try sim.call("1000", "-")
        XCTAssertEqual(h.server.raiseEvent("E_GO", [("uuid", .str(uuid))]), 0)
        XCTAssertTrue(h.waitFor("GODONE", timeout: 30), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.contains("GODONE ok=\(rounds)") }, h.messages.suffix(5).joined(separator: "\n"))
        func digits() -> String {
            h.messages.compactMap { m in m.range(of: "DIGIT ").map { r in String(m[r.upperBound...].prefix(1)) } }.joined()
        }
        XCTAssertTrue(waitUntil(timeout: 10) { digits().count >= rounds * 10 }, "\(digits().count) digits")
        XCTAssertEqual(digits(), String(repeating: "0123456789", count: rounds))
    }
}
