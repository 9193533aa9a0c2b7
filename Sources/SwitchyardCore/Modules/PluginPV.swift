import SwitchyardABI

/// A pseudo-variable class exported by a plugin: its C callbacks behind the PVAccessor interface.
final class PluginPVAccessor: PVAccessor, @unchecked Sendable {
    // Immutable after startup. `param` belongs to the plugin (from its parse callback).
    let export: sy_pv_export
    let param: UnsafeMutableRawPointer?

    init(export: sy_pv_export, param: UnsafeMutableRawPointer?) {
        self.export = export
        self.param = param
    }

    override var writable: Bool { export.set != nil }
    /// The setter takes trees (ABI 1.9 SY_PV_OBJECT).
    var takesTrees: Bool { export.set != nil && export.flags & UInt32(SY_PV_OBJECT.rawValue) != 0 }
    override var supportsIndex: Bool { export.count != nil && export.get_index != nil }

    func count(_ ctx: ScriptContext) -> Int {
        guard let count = export.count else { return 0 }
        let ctxPtr = OpaquePointer(Unmanaged.passUnretained(ctx).toOpaque())
        return max(0, Int(count(ctxPtr, param, export.user)))
    }

    override func get(_ ctx: ScriptContext, index: Int) -> Value {
        guard let getIndex = export.get_index else { return .null }
        let n = count(ctx)
        let i = index < 0 ? n + index : index
        guard i >= 0, i < n else { return .null }
        var out = sy_value()
        let ctxPtr = OpaquePointer(Unmanaged.passUnretained(ctx).toOpaque())
        guard getIndex(ctxPtr, param, Int64(i), &out, export.user) >= 0 else { return .null }
        return ABIReader.value(out)
    }

    override func all(_ ctx: ScriptContext) -> [Value] {
        guard supportsIndex else { return super.all(ctx) }
        return (0..<count(ctx)).map { get(ctx, index: $0) }
    }

    override func get(_ ctx: ScriptContext) -> Value {
        guard let get = export.get else { return .null }
        var out = sy_value()
        let ctxPtr = OpaquePointer(Unmanaged.passUnretained(ctx).toOpaque())
        guard get(ctxPtr, param, &out, export.user) >= 0 else { return .null }
        return ABIReader.value(out)  // copied at once: the plugin's string is only valid until its next call
    }

    override func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool {
        guard let set = export.set else { return false }
        let ctxPtr = OpaquePointer(Unmanaged.passUnretained(ctx).toOpaque())
        let cop = UInt32(op == .colon ? SY_ASSIGN_COLON.rawValue : SY_ASSIGN.rawValue)
        return ABIReader.withCValue(value) { set(ctxPtr, param, cop, $0, export.user) } >= 0
    }

    /// `:=` of a tree (only when takesTrees): the setter reads it in place, during the call.
    func set(_ ctx: ScriptContext, tree: ValueTree) -> Bool {
        guard let set = export.set else { return false }
        let ctxPtr = OpaquePointer(Unmanaged.passUnretained(ctx).toOpaque())
        var root = tree.root
        return withExtendedLifetime(tree) { set(ctxPtr, param, UInt32(SY_ASSIGN_COLON.rawValue), &root, export.user) >= 0 }
    }

    static func pvClass(_ e: sy_pv_export, module: String) -> PVClass? {
        guard let cname = e.name else { return nil }
        let name = String(cString: cname)
        let needsInner = e.flags & UInt32(SY_PV_NEEDS_NAME.rawValue) != 0
        let exportBits = PVExportBox(e)
        return PVClass(name: name, needsInner: needsInner) { inner, _ throws(PVResolveError) in
            let e = exportBits.export
            var param: UnsafeMutableRawPointer? = nil
            if let parse = e.parse {
                var err = [CChar](repeating: 0, count: 512)
                let text = inner ?? ""
                let rc: Int32 = text.withCString { p in
                    parse(sy_str(s: p, len: text.utf8.count), &param, &err, err.count, e.user)
                }
                if rc != 0 {
                    let reason = ABIReader.text(err)
                    throw PVResolveError("$\(name)(\(text)): \(reason.isEmpty ? "refused by module \(module)" : reason)")
                }
            } else if inner != nil {
                throw PVResolveError("$\(name) takes no (...) part")
            }
            return PluginPVAccessor(export: e, param: param)
        }
    }
}

/// Carries a C export struct (plain data and function pointers) into @Sendable closures.
final class PVExportBox: @unchecked Sendable {
    let export: sy_pv_export
    init(_ e: sy_pv_export) { export = e }
}
