// tm's own timer: a wheel of 20 ms slots on one thread. Workers hand it (cell, time) entries through a locked inbox;
// each cell has one pending entry for its earliest deadline, re-armed after each visit, so a call costs few entries.
// Entries are plain values in arrays that keep their capacity (inbox and slots are swapped, never reallocated once
// warm): scheduling allocates nothing, it only retains the cell.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// A pending visit: the cell (retained until the visit) and the time it was asked for.
struct TimerEntry {
    let cell: Unmanaged<Cell>
    let at: Int64
}

final class TimerWheel: @unchecked Sendable {
    // `inbox` is the only state shared across threads: read and written only while holding `inboxLock`. `slots`,
    // `spare`, `pool` and `tick` belong to the timer thread.
    static let tickMS: Int64 = 20
    static let slotCount = 4096
    private let inboxLock: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()
    private var inbox: [TimerEntry] = []
    private var spare: [TimerEntry] = []
    /// Emptied slot arrays that keep their capacity, handed to slots that get their first entry of a lap: without
    /// them every append to a slot not used for a whole lap (82 s) would allocate and grow a new array.
    private var pool: [[TimerEntry]] = []
    private var slots: [[TimerEntry]] = Array(repeating: [], count: TimerWheel.slotCount)
    private var tick: Int64 = 0
    private let running = Atomic<Bool>(false)
    private var thread: Thread?
    /// Signalled when the loop has returned: stop() waits for it so no timer work runs into the shutdown.
    private let exited = DispatchSemaphore(value: 0)
    private let fire: (Cell, Int64) -> Void

    /// `fire(cell, at)` runs on the timer thread for each entry that is due.
    init(fire: @escaping (Cell, Int64) -> Void) { self.fire = fire }

    /// Entries never visited (the server stopping) give their cells back.
    deinit {
        for e in inbox { e.cell.release() }
        for s in slots { for e in s { e.cell.release() } }
        pthread_mutex_destroy(inboxLock)
        inboxLock.deallocate()
    }

    /// Asks for a visit of `cell` at `at` (ms). Any thread.
    func schedule(_ cell: Cell, at: Int64) {
        let e = TimerEntry(cell: .passRetained(cell), at: at)
        pthread_mutex_lock(inboxLock)
        inbox.append(e)
        pthread_mutex_unlock(inboxLock)
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

    /// Moves the inbox into the slots: the inbox array is swapped with an empty one of the same capacity.
    private func drain() {
        // `spare` is moved out (not copied): the inbox must get the only reference to its buffer, or the workers'
        // next append would copy it.
        var batch: [TimerEntry] = []
        swap(&batch, &spare)
        pthread_mutex_lock(inboxLock)
        swap(&inbox, &batch)
        pthread_mutex_unlock(inboxLock)
        for e in batch {
            var t = TimerWheel.dueTick(e.at)
            if t <= tick { t = tick + 1 }
            put(e, slot: Int(t % Int64(TimerWheel.slotCount)))
        }
        batch.removeAll(keepingCapacity: true)
        spare = batch
    }

    @inline(__always) private func put(_ e: TimerEntry, slot i: Int) {
        if slots[i].capacity == 0 {
            // A slot's first array of the lap: from the pool, else with room for a tick's worth of entries at a few
            // thousand calls/s (growing from empty reallocated and copied it six times on the way to 64).
            if let a = pool.popLast() { slots[i] = a } else { slots[i].reserveCapacity(TimerWheel.initialSlotCapacity) }
        }
        slots[i].append(e)
    }

    static let initialSlotCapacity = 32

    /// The first tick whose start is at or after `at`: a tick runs once its start has passed, so an entry is never
    /// visited before its time (visited in the tick holding `at`, it came up to 19 ms early, found nothing due and
    /// was armed again for the next tick: two visits for every end of WAIT).
    @inline(__always) static func dueTick(_ at: Int64) -> Int64 { (at + tickMS - 1) / tickMS }

    private func loop() {
        while running.load(ordering: .relaxed) {
            let now = nowMS()
            let target = now / TimerWheel.tickMS
            drain()
            while tick < target {
                tick += 1
                let i = Int(tick % Int64(TimerWheel.slotCount))
                if slots[i].isEmpty { continue }
                // Take the slot's entries, leaving it empty; the array goes back to the pool with its capacity.
                var due: [TimerEntry] = []
                swap(&due, &slots[i])
                for e in due {
                    if TimerWheel.dueTick(e.at) > tick {
                        put(e, slot: i)  // a later lap of the wheel
                    } else {
                        // A stale entry (the cell was re-armed for another time since) is dropped without a visit.
                        let cell = e.cell.takeUnretainedValue()
                        if cell.scheduledAt == e.at { fire(cell, e.at) }
                        e.cell.release()
                    }
                }
                due.removeAll(keepingCapacity: true)
                pool.append(due)
                drain()
            }
            let next = (tick + 1) * TimerWheel.tickMS
            let wait = next - nowMS()
            if wait > 0 { usleep(UInt32(wait * 1000)) }
        }
        exited.signal()
    }
}
