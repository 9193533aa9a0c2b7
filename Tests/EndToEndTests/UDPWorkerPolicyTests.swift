import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// proto_udp's workers run under SCHED_BATCH (a wake-up waits for the busy CPU's current task instead of preempting it,
/// so bursts are read in one batch); the other threads of the process keep the default policy.
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

    /// Starts a proxy with two UDP workers (with `params` as extra config lines), waits until a worker answers and
    /// both workers have started, and returns the policy of each thread the proxy started, plus the main thread's.
    private func workerPolicies(params: String, batchWorkers: Int) throws -> (workers: [Int], main: Int?) {
        // Threads of servers other tests in this process started (and stopped) do not count.
        let before = Set(threadPolicies().keys)
        let port = try UDPSocket().port
        h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        socket = udp:127.0.0.1:\(port)
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        \(params)
        route { sl_send_reply(200, "OK"); }
        """)
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [], h.messages.joined(separator: "\n"))
        try h.start()
        let client = try UDPSocket()
        let options = ["OPTIONS sip:127.0.0.1 SIP/2.0",
                       "Via: SIP/2.0/UDP 127.0.0.1:\(client.port);branch=z9hG4bKpolicy1",
                       "From: <sip:a@example.com>;tag=p1", "To: <sip:b@example.com>", "Call-ID: policy-1@example.com",
                       "CSeq: 1 OPTIONS", "Max-Forwards: 70", "Content-Length: 0", "", ""].joined(separator: "\r\n")
        client.send(options, to: port)
        // A reply means a worker is serving the socket (it set its policy before reading).
        var reply: String?
        let end = Date().addingTimeInterval(5)
        while reply == nil, Date() < end { reply = client.receive()?.0 }
        XCTAssertTrue(reply?.hasPrefix("SIP/2.0 200 OK\r\n") == true, reply ?? "no reply")
        // The worker standing by may start a moment after the one waiting on the socket: wait until `batchWorkers`
        // new threads run under SCHED_BATCH.
        var policies = threadPolicies()
        func new() -> [Int] { policies.filter { !before.contains($0.key) }.map(\.value) }
        let deadline = Date().addingTimeInterval(5)
        while new().filter({ $0 == 3 }).count < batchWorkers, Date() < deadline { policies = threadPolicies() }
        return (new(), policies[Int(getpid())])
    }

    func testUDPWorkersRunUnderSchedBatch() throws {
        let (workers, main) = try workerPolicies(params: "", batchWorkers: 2)
        // Both workers (the one waiting on the socket and the one standing by) are SCHED_BATCH, no other new thread.
        XCTAssertEqual(workers.filter { $0 == 3 }.count, 2, "\(workers)")
        XCTAssertEqual(main, 0, "the main thread keeps SCHED_OTHER")
    }

    func testSchedBatchZeroKeepsTheDefaultPolicy() throws {
        let (workers, _) = try workerPolicies(params: "modparam(\"proto_udp\", \"sched_batch\", 0)", batchWorkers: 0)
        XCTAssertFalse(workers.isEmpty)
        XCTAssertEqual(workers.filter { $0 == 3 }, [], "no thread switched to SCHED_BATCH: \(workers)")
    }
}
