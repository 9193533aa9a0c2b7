import SwitchyardABI
import Synchronization

/// What the host table's C callbacks need from the running core. The Server implements it.
protocol HostServices: AnyObject, Sendable {
    var log: CoreLog { get }
    var engine: ScriptEngine { get }
    func raiseEvent(_ name: String, _ params: [(name: String, value: Value)]) -> Int
    func raiseEventWaiting(_ name: String, _ params: [(name: String, value: Value)], timeoutMS: UInt32) -> Int
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
/// A function that gets a handle finds the core through it, without a lock or a lookup: a sy_ctx or
/// sy_sip_worker carries the script engine (and with it the SIP core), a sy_runtime (ABI 1.8) is the
/// Server itself. This is the per-message path.
///
/// The one process-wide reference below exists only because the older C callbacks without a handle
/// (log, var_parse, event_raise, timer_add, registration at startup ...) carry no user pointer: the
/// core can only be found process-wide. It is published once per server, after the runtime is
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

    static var services: Server? { slot.load(ordering: .acquiring)?.takeUnretainedValue() }

    /// The core behind a sy_runtime handle (ABI 1.8).
    static func runtime(_ rt: OpaquePointer?) -> Server? {
        rt.map { Unmanaged<Server>.fromOpaque(UnsafeRawPointer($0)).takeUnretainedValue() }
    }

    /// The handle of a core, as sy_host_api.runtime carries it.
    static func handle(_ server: Server) -> OpaquePointer {
        OpaquePointer(Unmanaged.passUnretained(server).toOpaque())
    }
}
