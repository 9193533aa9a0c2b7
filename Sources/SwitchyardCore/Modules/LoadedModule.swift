import SwitchyardABI

/// A plugin after its exports were read and checked: plain Swift copies of its declarations.
public final class LoadedModule: @unchecked Sendable {
    // Written during startup on the main thread; read-only afterwards.
    public let name: String
    public let version: String
    public let description: String
    public let path: String
    public let abiMinor: UInt32
    public let aliases: [String]
    let handle: UnsafeMutableRawPointer
    let exports: sy_module_exports
    let location: SourceLocation?

    let deps: [sy_dep_export]
    let params: [sy_param_export]
    let funcs: [sy_func_export]
    let pvars: [sy_pv_export]
    let miCommands: [sy_mi_export]
    /// SIP transports (ABI 1.4).
    let protos: [sy_proto_export]
    /// Pseudo-variable contexts `$(<name>pv)` (ABI 1.10).
    let pvContexts: [sy_pv_context_export]
    public let events: [String]

    var paramsSet: Set<String> = []
    var initialized = false

    init(path: String, handle: UnsafeMutableRawPointer, exports: sy_module_exports, location: SourceLocation?) throws(ABIReader.ListError) {
        self.path = path
        self.handle = handle
        self.exports = exports
        self.location = location
        self.name = ABIReader.string(exports.name) ?? ""
        self.version = ABIReader.string(exports.version) ?? "?"
        self.description = ABIReader.string(exports.description) ?? ""
        self.abiMinor = exports.header.abi_minor
        var aliases: [String] = []
        if exports.header.abi_minor >= 1, var p = exports.aliases {
            var n = 0
            while let s = p.pointee, n < 64 {
                aliases.append(String(cString: s))
                p += 1
                n += 1
            }
        }
        self.aliases = aliases
        deps = try ABIReader.items(exports.deps, as: sy_dep_export.self, minimumItemSize: MemoryLayout<sy_dep_export>.size, what: "deps")
        params = try ABIReader.items(exports.params, as: sy_param_export.self, minimumItemSize: MemoryLayout<sy_param_export>.size, what: "params")
        // 1.11 appended `fixup`: a module built for an earlier minor has none, whatever its item size says (its item
        // may be padded, or carry a field of its own there).
        var funcItems = try ABIReader.items(exports.funcs, as: sy_func_export.self,
                                            minimumItemSize: MemoryLayout<sy_func_export>.offset(of: \sy_func_export.fixup)!, what: "funcs")
        if exports.header.abi_minor < 11 {
            for i in funcItems.indices { funcItems[i].fixup = nil }
        }
        funcs = funcItems
        pvars = try ABIReader.items(exports.pvars, as: sy_pv_export.self, minimumItemSize: MemoryLayout<sy_pv_export>.offset(of: \sy_pv_export.count)!, what: "pvars")
        miCommands = try ABIReader.items(exports.mi_cmds, as: sy_mi_export.self, minimumItemSize: MemoryLayout<sy_mi_export>.size, what: "mi_cmds")
        protos = exports.header.abi_minor >= 4
            ? try ABIReader.items(exports.protos, as: sy_proto_export.self, minimumItemSize: MemoryLayout<sy_proto_export>.size, what: "protos")
            : []
        pvContexts = exports.header.abi_minor >= 10
            ? try ABIReader.items(exports.pv_contexts, as: sy_pv_context_export.self,
                                  minimumItemSize: MemoryLayout<sy_pv_context_export>.size, what: "pv_contexts")
            : []
        events = try ABIReader.items(exports.events, as: sy_event_export.self, minimumItemSize: MemoryLayout<sy_event_export>.size, what: "events")
            .compactMap { ABIReader.string($0.name) }
    }

    public var abiVersion: String { "\(exports.header.abi_major).\(abiMinor)" }

    /// Whether `name` (from loadmodule or modparam) designates this module.
    func answers(to n: String) -> Bool {
        n.lowercased() == name.lowercased() || aliases.contains { $0.lowercased() == n.lowercased() }
    }
}
