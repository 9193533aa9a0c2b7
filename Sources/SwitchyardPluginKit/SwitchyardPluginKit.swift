// SwitchyardPluginKit — thin Swift conveniences over the Switchyard C plugin ABI (switchyard.h).
//
// The kit holds no global state: everything it allocates belongs to the module being built, so several Swift plugins
// can each link their own copy. It only calls the host through the table handed to the entry function, like a C
// plugin does; nothing here links against the core.
//
// Contents:
//   SYValue               null | int | string, with copies to/from sy_value (C views only inside a closure)
//   PluginHost            the host table with Swift methods (log, varGet/varSet, raiseEvent, stats, timers, APIs,
//                         miDispatch for MI transport modules, routeFind, atomicAdd/atomicSwap); on a 1.8 core it
//                         carries the core's handle (`runtime`) and its calls without a context go through the rt_*
//                         entries (1.9: miDispatch, statRegister and routeFind too)
//   CTable                C tables of compile-time size; CTable.has(table, \.field) for entries of later minors
//   HandlelessEntry       the instance the handle-less 1.0 entries of a module's API table reach (and why only they)
//   PluginThread, WorkQueue  plain POSIX threads a module owns (start in init, join in destroy) and a job queue
//   ModuleExportsBuilder  declare params/functions/pvars/MI/events/hooks with @Sendable closures → sy_module_exports
//   FunctionCall          what a script-function handler receives
//   MIRequest / MIReply   what an MI handler receives and answers (or builds on the request: addObject ... .built)
//   LogLevel, RouteMask, FunctionParam, ParamType, AssignOp, DependencyKind, StatFlags, PluginError
@_exported import SwitchyardABI

/// A complete tiny Swift plugin, module `hello` (see docs/writing-a-plugin.md for the package around it):
///
/// ```swift
/// // Sources/Hello/Hello.swift — built as libHello.so by a `.library(name: "Hello", type: .dynamic, ...)` product
/// import SwitchyardABI
/// import SwitchyardPluginKit
/// import Synchronization
///
/// /// The plugin's own state: shared by every worker thread, so Sendable (a Mutex and an Atomic).
/// final class HelloState: Sendable {
///     let name = Mutex("world")
///     let calls = Atomic<Int>(0)
/// }
///
/// @_cdecl("switchyard_plugin_entry")
/// public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
///     guard let host = PluginHost(raw, module: "hello") else { return nil } // another ABI major: refuse
///     let state = HelloState()
///     var m = ModuleExportsBuilder(host: host, name: "hello", version: "1.0.0", description: "says hello")
///
///     // modparam("hello", "name", "Alice")
///     m.param("name", .str) { value in
///         guard let s = value.stringValue, !s.isEmpty else { throw PluginError("must be a non-empty string") }
///         state.name.withLock { $0 = s }
///     }
///     // hello($var(out)) → $var(out) = "hello, Alice"; returns 1
///     m.function("hello", params: [.var]) { call in
///         state.calls.add(1, ordering: .relaxed)
///         let text = state.name.withLock { "hello, \($0)" }
///         return call.set(0, .string(text)) ? 1 : -1
///     }
///     // $hello(calls)
///     m.pseudoVariable("hello", parse: { inner in
///         guard inner == "calls" else { throw PluginError("unknown $hello name '\(inner)'") }
///         return inner
///     }, get: { _, _ in .int(Int64(state.calls.load(ordering: .relaxed))) })
///     // opensips-cli -x mi hello_status
///     m.miCommand("hello_status", help: "the name and how many times hello() ran") { _ in
///         .object([("name", .string(state.name.withLock { $0 })),
///                  ("calls", .int(Int64(state.calls.load(ordering: .relaxed))))])
///     }
///     m.onInit { host.log(.notice, "ready, name \(state.name.withLock { $0 })") }
///
///     return m.build().pointer // allocated once, never freed: valid for the life of the process
/// }
/// ```
public enum SwitchyardPluginKit {
    /// The ABI version this kit builds exports for.
    public static let abiMajor = UInt32(SY_ABI_MAJOR)
    public static let abiMinor = UInt32(SY_ABI_MINOR)
}
