import SwitchyardABI

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

/// The one process-wide link from the C host table to the running core.
/// Why global: the host table's C callbacks (log, event_raise, timer_add ...) carry no user
/// pointer, so they can only reach the core through a process-wide reference. It is set once
/// when a Server starts loading modules and cleared when it stops; reads are lock-protected.
enum HostBridge {
    nonisolated(unsafe) private static var current: (any HostServices)?
    private static let lock = NSLockShim()

    static func install(_ s: (any HostServices)?) {
        lock.lock()
        current = s
        lock.unlock()
    }

    static var services: (any HostServices)? {
        lock.lock()
        defer { lock.unlock() }
        return current
    }
}

import Foundation

/// NSLock wrapper usable from a static context without Sendable warnings.
final class NSLockShim: @unchecked Sendable {
    private let l = NSLock()
    func lock() { l.lock() }
    func unlock() { l.unlock() }
}
