// do_routing's read of the published data without a lock or a reference count. Taking the `published` mutex and
// retaining the Runtime and the Snapshot cost six atomic writes to lines every worker shares, per call; with two
// workers they bounced between the cores. Here a worker announces the epoch it reads in (its own slot, its own
// cache line), loads the current data unretained, and clears its slot when done; dr_reload swaps the data, then
// waits until no slot still holds an older epoch before it drops the old data (on its own thread: freeing a
// million rules takes milliseconds no worker should wait for). Ranks outside the slots use the mutex path.
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What do_routing reads; immutable.
final class Published: Sendable {
    let rt: Runtime
    let snap: Snapshot
    init(rt: Runtime, snap: Snapshot) { self.rt = rt; self.snap = snap }
}

/// One worker's announcement; written by that worker only (the reloader reads it).
final class ReaderSlot: @unchecked Sendable {
    let active = Atomic<UInt64>(0)
    /// Nesting (a rule's route may call do_routing again): only the outermost read announces and clears.
    var depth = 0 // the slot's worker thread only
    // Keeps neighbouring slots off this cache line.
    private let pad: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
}

final class ReadSide: Sendable {
    static let slots = 256
    private let hot = Atomic<UInt>(0) // Unmanaged<Published> bits, +1 owned by ReadSide; 0 before init
    private let epoch = Atomic<UInt64>(1)
    private let readers: [ReaderSlot] = (0..<ReadSide.slots).map { _ in ReaderSlot() }

    deinit {
        if let p = UnsafeRawPointer(bitPattern: hot.load(ordering: .acquiring)) { Unmanaged<Published>.fromOpaque(p).release() }
    }

    /// Runs `body` with the current data (nil before init) for a worker of rank `rank`; nil when the rank has no
    /// slot (the caller then reads through the mutex).
    @inline(__always)
    func read<R>(rank: Int, _ body: (Published?) -> R) -> R? {
        guard rank >= 0 && rank < Self.slots else { return nil }
        let slot = readers[rank]
        if slot.depth == 0 { slot.active.store(epoch.load(ordering: .sequentiallyConsistent), ordering: .sequentiallyConsistent) }
        slot.depth += 1
        defer {
            slot.depth -= 1
            if slot.depth == 0 { slot.active.store(0, ordering: .releasing) }
        }
        let bits = hot.load(ordering: .sequentiallyConsistent)
        guard let p = UnsafeRawPointer(bitPattern: bits) else { return body(nil) }
        return Unmanaged<Published>.fromOpaque(p)._withUnsafeGuaranteedRef { body($0) }
    }

    /// Publishes new data; returns once no reader can still hold the previous one, which is released here.
    func publish(_ p: Published, log: (String) -> Void) {
        let new = UInt(bitPattern: Unmanaged.passRetained(p).toOpaque())
        let old = hot.exchange(new, ordering: .sequentiallyConsistent)
        let e = epoch.add(1, ordering: .sequentiallyConsistent).newValue
        guard let oldPtr = UnsafeRawPointer(bitPattern: old) else { return }
        // Grace period: every reader that announced an older epoch may hold the old data.
        let deadline = DispatchTime.now() + .seconds(30)
        for slot in readers {
            while true {
                let a = slot.active.load(ordering: .sequentiallyConsistent)
                if a == 0 || a >= e { break }
                if DispatchTime.now() > deadline {
                    log("a do_routing call has run for 30 s across a reload: the old routing data is kept in memory")
                    return // leaked on purpose: freeing it under a reader would be unsafe
                }
                usleep(50)
            }
        }
        Unmanaged<Published>.fromOpaque(oldPtr).release()
    }
}
