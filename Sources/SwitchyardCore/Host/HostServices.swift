import SwitchyardABI
import Synchronization

/// What the host table's C callbacks need from the running core. The Server implements it.
protocol HostServices: AnyObject, Sendable {
    var log: CoreLog { get }
    var engine: ScriptEngine { get }
    func raiseEvent(_ name: String, _ params: [(name: String, value: Value)], trees: [(index: Int, tree: ValueTree)]) -> Int
    func raiseEventWaiting(_ name: String, _ params: [(name: String, value: Value)], trees: [(index: Int, tree: ValueTree)],
                           timeoutMS: UInt32) -> Int
    /// raiseEventWaiting, or the event_route run on the calling thread when every worker sleeps (ABI 1.10).
    func raiseEventHere(_ name: String, _ params: [(name: String, value: Value)], trees: [(index: Int, tree: ValueTree)],
                        timeoutMS: UInt32, moreBehind: Bool) -> Int
    func addTimer(name: String, intervalMS: UInt32, action: @escaping @Sendable () -> Void) -> Int
    func removeTimer(_ id: Int)
    func statRegister(module: String, name: String, flags: UInt32) -> StatCell?
    func miRegister(module: String, export: sy_mi_export) -> Bool
    func apiPublish(name: String, table: UnsafeRawPointer) -> Bool
    func apiBind(name: String, major: UInt32, minSize: UInt32) -> Result<UnsafeRawPointer, APIDirectory.BindError>
    /// True while modules may still register (startup).
    var isStartingUp: Bool { get }
    /// The plugin file whose entry function is running (nil after it returns): what it publishes is its own.
    func pluginLoading(_ path: String?)
    /// A plugin that was opened but is not kept (refused, or only probed for an alias): drop what it published.
    func pluginDiscarded(_ path: String)
    /// One JSON-RPC request through the MI dispatcher; nil for a notification.
    func miDispatch(_ request: [UInt8]) -> String?
}

/// How a host function finds its core.
///
/// A function that gets a handle finds the core through it: a sy_ctx or sy_sip_worker carries the
/// script engine (and with it the SIP core), without a lock or a lookup (the per-message path); a
/// sy_runtime (ABI 1.8) is a RuntimeHandle, which outlives its Server (one short lock per call); a
/// sy_timer is a TimerHandle naming the core that added it.
///
/// The one process-wide reference below exists only because the older C callbacks without a handle
/// (log, var_parse, event_raise, timer_add, registration at startup ...) carry no user pointer: the
/// core can only be found process-wide. Every one of them a plugin calls after startup has a form taking
/// the runtime handle (rt_*, ABI 1.8 and 1.9), which the PluginKit uses whenever the core offers it. It is
/// published once per server, after the runtime is
/// completely built and before the first plugin's entry function runs (release), read with one atomic
/// load (acquire), and withdrawn at stop. The slot holds a retain of the Server; a reader that loaded
/// it just before the withdrawal still holds a live object, because the Server's owner keeps it
/// beyond stop().
enum HostBridge {
    private static let slot = Atomic<Unmanaged<Server>?>(nil)

    /// Makes `server` the core of handle-less host calls (called once per server start-up).
    static func publish(_ server: Server) {
        let old = slot.exchange(Unmanaged.passRetained(server), ordering: .acquiringAndReleasing)
        old?.release()
    }

    /// Withdraws `server` if it is still the published core (a later server may have replaced it).
    static func withdraw(_ server: Server) {
        let mine = Unmanaged.passUnretained(server)
        let (done, _) = slot.compareExchange(expected: mine, desired: nil, ordering: .acquiringAndReleasing)
        if done { mine.release() }
    }

    // Unretained is safe: the slot's retain lasts until withdraw(), which runs in stop(), and the Server's owner
    // keeps it alive until after stop() returns, so an object loaded here outlives the call that loaded it.
    static var services: Server? { slot.load(ordering: .acquiring)?.takeUnretainedValue() }

    /// The core behind a sy_runtime handle (ABI 1.8); nil once that core has stopped (or for a NULL handle).
    static func runtime(_ rt: OpaquePointer?) -> Server? {
        rt.flatMap { Unmanaged<RuntimeHandle>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue().server }
    }
}

/// What sy_host_api.runtime points to: a small object that lives as long as the process (as the host table that
/// carries it, which is never freed), holding a weak reference to its Server that stop() clears. A plugin thread
/// that outlives stop() (tm's timer thread after its stop timeout, a worker after the pool's join timeout) then
/// finds no core and its rt_* call does nothing, instead of touching a freed Server.
final class RuntimeHandle: Sendable {
    private struct Ref: Sendable { weak var server: Server? }
    private let ref: Mutex<Ref>

    init(_ server: Server) { ref = Mutex(Ref(server: server)) }

    /// The Server, strongly held by the caller for the rest of its call; nil after clear() or once it is gone.
    var server: Server? { ref.withLock { $0.server } }

    /// Called by stop(): later calls through the handle find no core.
    func clear() { ref.withLock { $0.server = nil } }

    /// The pointer sy_host_api.runtime carries (taken once): a retain that is never released (plugins may keep it forever).
    func retainedForever() -> OpaquePointer { OpaquePointer(Unmanaged.passRetained(self).toOpaque()) }
}
