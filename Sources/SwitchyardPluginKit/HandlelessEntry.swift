// HandlelessEntry: the one place a plugin keeps a process-wide reference to itself, and why.
import Synchronization

/// The instance a handle-less entry of a cross-module API table reaches.
///
/// Every cross-module table now carries its publisher (tm 1.1 `module`, freeswitch 1.2 `module`, cachedb 1.2
/// `module`, db 1.1 `module`, httpd 1.0 `server`) and entries taking it (module_t_uac, module_get_box, module_open,
/// module_connect ...); a module's own script functions, pseudo-variables, MI commands and hooks reach their
/// instance through the `void *user` of their exports (ModuleExportsBuilder's closures). What is left are the entries
/// of the first versions of those tables that take no handle and no user pointer: tm 1.0 t_uac, t_request,
/// register_callback, t_state; freeswitch 1.0/1.1 get_box, stats_interval_ms; cachedb 1.0 open; db 1.0 connect. A
/// consumer built against those versions still calls them (the ABI rules keep old entries working), and a C
/// function pointer without an argument can only find its instance process-wide: here, and nowhere else.
///
/// The module publishes itself when it starts (init, or the entry function for a table published there); the latest
/// start-up wins, so a test process running several servers in turn reaches the newest. Use it for those entries
/// only: anything with a handle or a `user` pointer goes through that.
public final class HandlelessEntry<Instance: AnyObject & Sendable>: Sendable {
    private let slot = Mutex<Instance?>(nil)

    public init() {}

    /// Makes `instance` the one the handle-less entries reach.
    public func publish(_ instance: Instance) { slot.withLock { $0 = instance } }

    /// The instance of the latest start-up; nil before the first.
    public var instance: Instance? { slot.withLock { $0 } }
}
