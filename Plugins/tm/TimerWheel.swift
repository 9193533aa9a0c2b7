// tm's own timer: a wheel of 20 ms slots on one thread. Workers hand it (cell, time) through a lock-free stack; each
// cell has one pending entry for its earliest deadline, re-armed after each visit, so a call costs few entries.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

final class TimerNode {
    let cell: Cell
    let at: Int64
    var next: UnsafeMutableRawPointer?
    init(cell: Cell, at: Int64) { self.cell = cell; self.at = at }
}

final class TimerWheel: @unchecked Sendable {
    // `inbox` is the only state shared across threads (atomic); `slots` and `now` belong to the timer thread.
    static let tickMS: Int64 = 20
    static let slotCount = 4096
    private let inbox = Atomic<UnsafeMutableRawPointer?>(nil)
    private var slots: [[TimerNode]] = Array(repeating: [], count: TimerWheel.slotCount)
    private var tick: Int64 = 0
    private let running = Atomic<Bool>(false)
    private var thread: Thread?
    /// Signalled when the loop has returned: stop() waits for it so no timer work runs into the shutdown.
    private let exited = DispatchSemaphore(value: 0)
    private let fire: (Cell, Int64) -> Void

    /// `fire(cell, at)` runs on the timer thread for each entry that is due.
    init(fire: @escaping (Cell, Int64) -> Void) { self.fire = fire }

    /// Asks for a visit of `cell` at `at` (ms). Any thread.
    func schedule(_ cell: Cell, at: Int64) {
        let node = Unmanaged.passRetained(TimerNode(cell: cell, at: at))
        let p = node.toOpaque()
        while true {
            let head = inbox.load(ordering: .acquiring)
            node.takeUnretainedValue().next = head
            if inbox.compareExchange(expected: head, desired: p, ordering: .acquiringAndReleasing).exchanged { return }
        }
    }

    func start() {
        tick = nowMS() / TimerWheel.tickMS
        running.store(true, ordering: .relaxed)
        let t = Thread { [self] in loop() }
        t.name = "tm-timer"
        thread = t
        t.start()
    }

    /// Ends the loop and waits (up to 5 s: a failure route may be running) until the timer thread has left it.
    func stop() {
        guard running.exchange(false, ordering: .relaxed), thread != nil else { return }
        _ = exited.wait(timeout: .now() + 5)
    }

    private func drain() {
        var p = inbox.exchange(nil, ordering: .acquiringAndReleasing)
        while let cur = p {
            let node = Unmanaged<TimerNode>.fromOpaque(cur).takeRetainedValue()
            p = node.next
            node.next = nil
            var t = node.at / TimerWheel.tickMS
            if t <= tick { t = tick + 1 }
            slots[Int(t % Int64(TimerWheel.slotCount))].append(node)
        }
    }

    private func loop() {
        while running.load(ordering: .relaxed) {
            let now = nowMS()
            let target = now / TimerWheel.tickMS
            drain()
            while tick < target {
                tick += 1
                let i = Int(tick % Int64(TimerWheel.slotCount))
                if slots[i].isEmpty { continue }
                let due = slots[i]
                slots[i].removeAll(keepingCapacity: true)
                for n in due {
                    if n.at / TimerWheel.tickMS > tick {
                        slots[i].append(n)  // a later lap of the wheel
                    } else {
                        fire(n.cell, n.at)
                    }
                }
                drain()
            }
            let next = (tick + 1) * TimerWheel.tickMS
            let wait = next - nowMS()
            if wait > 0 { usleep(UInt32(wait * 1000)) }
        }
        exited.signal()
    }
}
