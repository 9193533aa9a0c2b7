#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The calling thread's event lanes (EventLane), one per EventBus it queued events into, in thread-specific storage:
/// found without a lock per event, and released when the thread ends (the key's destructor runs on the ending
/// thread, so no other thread can be given its id meanwhile). Only its own thread touches an instance.
/// glibc clears the slot before it calls the destructor: an event raised from another TSD destructor that runs later
/// on the same thread gets a fresh lane, and may run before the old lane's queued events.
final class ThreadLanes {
    private struct Entry {
        /// EventBus.id: matched per event with a plain compare (a weak load costs two atomic operations on the bus's
        /// reference count, from every producer thread). Ids are never reused, so a new bus never matches.
        let busID: UInt64
        /// Only to drop the entries of buses that are gone.
        weak var bus: EventBus?
        let lane: EventLane
    }
    private var entries: [Entry] = []

    /// One key for the process (a key per bus would run out: PTHREAD_KEYS_MAX); immutable once created.
    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        let rc = pthread_key_create(&k) { p in
            guard let p else { return }
            let mine = Unmanaged<ThreadLanes>.fromOpaque(p).takeRetainedValue()
            for e in mine.entries { e.lane.producerExited() }
        }
        precondition(rc == 0, "pthread_key_create: \(rc)")
        return k
    }()

    /// The calling thread's lane for `bus`, made by `make` the first time.
    static func lane(for bus: EventBus, make: () -> EventLane) -> EventLane {
        let mine: ThreadLanes
        if let p = pthread_getspecific(key) {
            mine = Unmanaged<ThreadLanes>.fromOpaque(p).takeUnretainedValue()
        } else {
            mine = ThreadLanes()
            // Unset, every event would get a new lane (order lost) and this instance would leak.
            let rc = pthread_setspecific(key, Unmanaged.passRetained(mine).toOpaque())
            precondition(rc == 0, "pthread_setspecific: \(rc)")
        }
        let id = bus.id
        if let e = mine.entries.first(where: { $0.busID == id }) { return e.lane }
        // Lanes of buses that are gone (a server stopped) are dropped with their entries.
        mine.entries.removeAll { $0.bus == nil }
        let lane = make()
        mine.entries.append(Entry(busID: id, bus: bus, lane: lane))
        return lane
    }
}
