import Foundation
import Synchronization

/// Every resolved route of one script: what `reload_routes` replaces as a whole. Filled by the Resolver, then
/// read-only.
public final class RouteSet: @unchecked Sendable { // written only while the Resolver builds it, before it is installed
    public internal(set) var named: [String: RouteBox] = [:]
    public internal(set) var main: RouteBox?
    public internal(set) var startup: RouteBox?
    public internal(set) var error: RouteBox?
    public internal(set) var local: RouteBox?
    public internal(set) var onreply: [String: RouteBox] = [:] { didSet { globalReply = onreply[""] ?? onreply["0"] } }
    /// The global `onreply_route` (unnamed or "0"), looked up once: every relayed reply asks for it.
    public private(set) var globalReply: RouteBox?
    public internal(set) var failure: [String: RouteBox] = [:]
    public internal(set) var branch: [String: RouteBox] = [:]
    public internal(set) var events: [String: RouteBox] = [:]
    public internal(set) var timers: [(route: RouteBox, seconds: Int)] = []

    public init() {}
}

/// The route set in force. Readers (every SIP message, event raise and timer run) take it with one atomic load and
/// hold a reference to it for as long as they run, so a reload never changes the routes under a message or event
/// already on its way; `install` swaps in a new set atomically.
///
/// A set once installed is never freed: modules keep `route_find` handles (RouteBox pointers, e.g. drouting's
/// per-rule routes) until their own next reload, and a reader may still be between its load and its retain. A set
/// costs the size of the resolved script per reload.
public final class RouteTable: Sendable {
    /// The address of an Unmanaged RouteSet, retained once by `install` and never released.
    private let pointer: Atomic<UInt>
    /// Reloads so far (0 = the startup set).
    public let generation = Atomic<Int>(0)

    init(_ initial: RouteSet) {
        pointer = Atomic(UInt(bitPattern: Unmanaged.passRetained(initial).toOpaque()))
    }

    /// The set in force now.
    @inline(__always)
    public var current: RouteSet {
        // Never 0: set in init and only ever exchanged for another retained set.
        Unmanaged<RouteSet>.fromOpaque(UnsafeRawPointer(bitPattern: pointer.load(ordering: .acquiring))!).takeUnretainedValue()
    }

    /// The thread resolving a new set for reload_routes (0: none) and that set. Route lookups made on that thread
    /// (modules' fixups checking route names) see the set being resolved; every other thread (workers serving the
    /// running routes) compares one atomic and keeps seeing `current`.
    private let resolvingThread = Atomic<UInt>(0)
    private let resolvingSet = Mutex<RouteSet?>(nil)

    /// Runs `body` (the resolution of `set`) with this thread's route lookups answered from `set`.
    func resolving<R>(_ set: RouteSet, _ body: () throws -> R) rethrows -> R {
        resolvingSet.withLock { $0 = set }
        resolvingThread.store(UInt(pthread_self()), ordering: .releasing)
        defer {
            resolvingThread.store(0, ordering: .releasing)
            resolvingSet.withLock { $0 = nil }
        }
        return try body()
    }

    /// The set a route lookup sees: the one being resolved on this thread, otherwise the one in force.
    public var forLookup: RouteSet {
        guard resolvingThread.load(ordering: .acquiring) == UInt(pthread_self()),
              let set = resolvingSet.withLock({ $0 }) else { return current }
        return set
    }

    /// Puts `set` in force for every message, event and timer run that starts from now on.
    func install(_ set: RouteSet) {
        let p = UInt(bitPattern: Unmanaged.passRetained(set).toOpaque())
        _ = pointer.exchange(p, ordering: .acquiringAndReleasing) // the old set stays retained: see above
        generation.add(1, ordering: .relaxed)
    }
}
