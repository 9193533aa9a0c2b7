import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// proto_udp's workers run under SCHED_BATCH (a wake-up waits for the busy CPU's current task instead of preempting it,
/// so bursts are read in one batch) unless `sched_batch` is 0; the other threads of the process, including module
/// threads a worker starts, keep the default policy.
final class UDPWorkerPolicyTests: XCTestCase {
    private var h: ServerHarness!

    override func tearDown() {
        h?.stop()
        h = nil
    }

    /// Scheduling policy of each thread of this process (field 41 of /proc/self/task/<tid>/stat: 0 SCHED_OTHER,
    /// 3 SCHED_BATCH), by thread id.
    private func threadPolicies() -> [Int: Int] {
        var out: [Int: Int] = [:]
        for tid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? [] {
            guard let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // Fields after the command name start at field 3 (state): the policy is the 39th of them.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 38, let t = Int(tid), let p = Int(fields[38]) { out[t] = p }
        }
        return out
    }

    /// Starts a proxy with two UDP workers (`params`: extra config lines; `route`: the main route's body) and sends
    /// it one OPTIONS with Call-ID `callID`, which must be answered 200.
    private func start(params: String, route: String = "sl_send_reply(200, \"OK\");") throws -> (UDPSocket, Int) {
        let port = try UDPSocket().port
        h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        socket = udp:127.0.0.1:\(port)
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        \(params)
        route { \(route) }
        """)
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [], h.messages.joined(separator: "\n"))
        try h.start()
        return (try UDPSocket(), port)
    }

    private func options(_ client: UDPSocket, _ port: Int, callID: String) {
        let options = ["OPTIONS sip:127.0.0.1 SIP/2.0",
                       "Via: SIP/2.0/UDP 127.0.0.1:\(client.port);branch=z9hG4bK\(callID)",
                       "From: <sip:a@example.com>;tag=p1", "To: <sip:b@example.com>", "Call-ID: \(callID)",
                       "CSeq: 1 OPTIONS", "Max-Forwards: 70", "Content-Length: 0", "", ""].joined(separator: "\r\n")
        client.send(options, to: port)
        var reply: String?
        waitUntil(timeout: 5) { reply = client.receive()?.0; return reply != nil }
        XCTAssertTrue(reply?.hasPrefix("SIP/2.0 200 OK\r\n") == true, reply ?? "no reply")
    }

    func testUDPWorkersRunUnderSchedBatch() throws {
        // Threads of servers other tests in this process started (and stopped) do not count.
        let before = Set(threadPolicies().keys)
        let (client, port) = try start(params: "")
        options(client, port, callID: "policy-1")
        // Both workers (the one waiting on the socket and the one standing by, which may start a moment later) are
        // SCHED_BATCH, no other new thread is.
        var policies: [Int: Int] = [:]
        func batch() -> Int { policies.filter { $0.value == 3 && !before.contains($0.key) }.count }
        XCTAssertTrue(waitUntil(timeout: 5) { policies = threadPolicies(); return batch() >= 2 }, "\(policies)")
        XCTAssertEqual(batch(), 2, "\(policies)")
        XCTAssertEqual(policies[Int(getpid())], 0, "the main thread keeps SCHED_OTHER")
    }

    func testSchedBatchZeroKeepsTheDefaultPolicy() throws {
        let before = Set(threadPolicies().keys)
        let (client, port) = try start(params: "modparam(\"proto_udp\", \"sched_batch\", 0)")
        options(client, port, callID: "policy-2")
        // Wait for the proxy's threads to be up (workers, timers: at least the two workers beside the others), then
        // none of them is SCHED_BATCH.
        var fresh: [Int] = []
        XCTAssertTrue(waitUntil(timeout: 5) {
            fresh = threadPolicies().filter { !before.contains($0.key) }.map(\.value)
            return fresh.count >= 2
        })
        XCTAssertEqual(fresh.filter { $0 == 3 }, [], "no thread switched to SCHED_BATCH: \(fresh)")
    }

    /// A module thread started by a route on a worker (freeswitch's box I/O thread, started by the first
    /// freeswitch_esl to a box) must not inherit the worker's SCHED_BATCH: it runs event routes itself.
    func testModuleThreadStartedFromAWorkerKeepsTheDefaultPolicy() throws {
        let closed = try UDPSocket().port  // no ESL server there: the box only retries in the background
        let before = Set(threadPolicies().keys)
        let (client, port) = try start(params: "loadmodule \"freeswitch.so\"\nloadmodule \"freeswitch_scripting.so\"", route: """
        if ($ci == "policy-box") { freeswitch_esl("api status", "fs://:ClueCon@127.0.0.1:\(closed)", $var(out)); }
        sl_send_reply(200, "OK");
        """)
        options(client, port, callID: "policy-workers")
        var policies: [Int: Int] = [:]
        XCTAssertTrue(waitUntil(timeout: 5) {
            policies = threadPolicies()
            return policies.filter { $0.value == 3 && !before.contains($0.key) }.count >= 2
        }, "\(policies)")
        let withWorkers = Set(policies.keys)
        options(client, port, callID: "policy-box")
        var started: [Int: Int] = [:]
        XCTAssertTrue(waitUntil(timeout: 5) {
            started = threadPolicies().filter { !withWorkers.contains($0.key) }
            return !started.isEmpty
        }, "freeswitch_esl started no box thread")
        XCTAssertEqual(started.values.filter { $0 == 3 }, [], "threads started by a worker: \(started)")
    }
}
