import Foundation
import XCTest
import Synchronization
import SwitchyardTestSupport
@testable import SwitchyardCore

/// A producer may run its job on its own thread (EventBus.raiseHere) only when every worker sleeps with nothing
/// queued: then every job queued before has finished, so the producer's order is kept.
final class JobQueueInlineTests: XCTestCase {
    /// One consumer thread taking jobs of `q` (an Int job: the thread waits on `gate` before finishing job 1).
    private func consumer(_ q: JobQueue<Int>, gate: DispatchSemaphore, started: DispatchSemaphore) -> Thread {
        let t = Thread {
            var jobs: [Int] = []
            while q.take(into: &jobs, max: 16) {
                for j in jobs where j == 1 { started.signal(); gate.wait() }
                jobs.removeAll()
            }
        }
        t.start()
        return t
    }

    /// Routes run on a producer's thread only when its stack is a worker's size (deep scripts): the stack check
    /// tells a small-stack thread from an 8 MiB one.
    func testStackCheckTellsSmallStacksFromWorkerSizedOnes() {
        let sizes = Mutex<[Int]>([])
        for stack in [512 << 10, InlineRunners.minStack] {
            let done = DispatchSemaphore(value: 0)
            let t = Thread { sizes.withLock { $0.append(InlineRunners.stackSize()) }; done.signal() }
            t.stackSize = stack
            t.start()
            XCTAssertEqual(done.wait(timeout: .now() + 5), .success)
        }
        let got = sizes.withLock { $0 }
        XCTAssertEqual(got.count, 2)
        XCTAssertLessThan(got.first ?? 0, InlineRunners.minStack, "a 512 KiB thread is queued")
        XCTAssertGreaterThanOrEqual(got.last ?? 0, InlineRunners.minStack, "an 8 MiB thread may run routes")
    }

    func testInlineOnlyWhenEveryWorkerSleepsWithNothingQueued() {
        let q = JobQueue<Int>(capacity: 8)
        XCTAssertFalse(q.beginInline(), "no worker started: events wait in the queue (startup)")
        q.setConsumers(1)
        let gate = DispatchSemaphore(value: 0), started = DispatchSemaphore(value: 0)
        let t = consumer(q, gate: gate, started: started)

        // The worker reaches take() and sleeps: a producer may run its job itself.
        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.001) {
            guard q.beginInline() else { return false }
            q.endInline()
            return true
        })

        // A job running on the worker: not inline (it may be an earlier event of the same source).
        XCTAssertTrue(q.offer(1))
        XCTAssertEqual(started.wait(timeout: .now() + 5), .success)
        XCTAssertFalse(q.beginInline(), "a worker is busy")
        // Queued behind it: not inline either.
        XCTAssertTrue(q.offer(2))
        XCTAssertFalse(q.beginInline(), "a job is queued")
        gate.signal()
        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.001) { q.depth == 0 })
        XCTAssertTrue(waitUntil(timeout: 5, poll: 0.001) {
            guard q.beginInline() else { return false }
            q.endInline()
            return true
        }, "the worker finished both and sleeps again")

        // Closed (stopping): never inline; waitInlineDone waits for the runs in progress.
        XCTAssertTrue(q.beginInline())
        q.close()
        XCTAssertFalse(q.beginInline())
        let ended = Atomic<Bool>(false)
        let runner = Thread { ended.store(true, ordering: .releasing); q.endInline() }
        runner.start()
        XCTAssertTrue(q.waitInlineDone(ms: 5000))
        XCTAssertTrue(ended.load(ordering: .acquiring))
        XCTAssertTrue(waitUntil(timeout: 5) { t.isFinished })
    }
    /// Two producers, each running its job itself when allowed (else queueing it), two consumers. Queued jobs of one
    /// producer may run on both consumers at once (two workers, as OpenSIPS's processes); what the inline path must
    /// keep is this: a job runs on its producer's thread only once every earlier job of that producer has finished,
    /// so it never overtakes one. None is lost.
    func testTwoProducersInlineJobsNeverOvertakeQueuedOnes() {
        let q = JobQueue<Int>(capacity: 64)
        q.setConsumers(2)
        let n = 5_000
        // Per producer: how many of its jobs have finished, and how many are running now.
        let state = Mutex<[(finished: Int, running: Int)]>([(0, 0), (0, 0)])
        let errors = Atomic<Int>(0), inline = Atomic<Int>(0)
        @Sendable func run(_ job: Int, inline: Bool) {
            let p = job / 1_000_000, seq = job % 1_000_000
            state.withLock { s in
                // Jobs are numbered from 0 in the producer's order: all earlier ones done means `seq` finished.
                if inline && (s[p].finished != seq || s[p].running != 0) { errors.add(1, ordering: .relaxed) }
                s[p].running += 1
            }
            state.withLock { $0[p].running -= 1; $0[p].finished += 1 }
        }
        func finished(_ p: Int) -> Int { state.withLock { $0[p].finished } }
        let consumers = (0..<2).map { _ in
            Thread {
                var jobs: [Int] = []
                while q.take(into: &jobs, max: 16) { jobs.forEach { run($0, inline: false) }; jobs.removeAll() }
            }
        }
        consumers.forEach { $0.start() }
        let done = DispatchGroup()
        for p in 0..<2 {
            done.enter()
            Thread {
                for seq in 0..<n {
                    let job = p * 1_000_000 + seq
                    if q.beginInline() {
                        run(job, inline: true)
                        inline.add(1, ordering: .relaxed)
                        q.endInline()
                    } else {
                        _ = q.put(job, timeout: 10)
                    }
                }
                done.leave()
            }.start()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        XCTAssertTrue(waitUntil(timeout: 10, poll: 0.001) { finished(0) == n && finished(1) == n })
        q.close()
        XCTAssertTrue(waitUntil(timeout: 5) { consumers.allSatisfy(\.isFinished) })
        XCTAssertEqual(errors.load(ordering: .relaxed), 0, "an inline job overtook a queued job of its producer")
        XCTAssertGreaterThan(inline.load(ordering: .relaxed), 0, "some ran on their producer's thread")
    }
}
