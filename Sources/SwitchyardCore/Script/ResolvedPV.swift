/// A pseudo-variable reference resolved at startup: class accessor, index and transformations.
public final class ResolvedPV: @unchecked Sendable {
    // Immutable after startup; shared by all workers.
    enum Index {
        case fixed(PVIndex)
        case dynamic(ResolvedPV)
    }

    public let text: String
    let accessor: PVAccessor
    let index: Index?
    let transforms: [Transform]

    init(text: String, accessor: PVAccessor, index: Index?, transforms: [Transform]) {
        self.text = text
        self.accessor = accessor
        self.index = index
        self.transforms = transforms
    }

    /// Assignable: the class has a setter and no transformation is applied.
    public var writable: Bool { accessor.writable && transforms.isEmpty }

    /// True for `$(x[*])`.
    public var isAllIndex: Bool {
        if case .fixed(.all) = index { return true }
        // `$(<ctx>x[*])`: the index belongs to the variable read in the context.
        if let c = accessor as? ContextPVAccessor { return c.inner.isAllIndex }
        return false
    }

    func resolvedIndex(_ ctx: ScriptContext) -> PVIndex? {
        switch index {
        case .none: return nil
        case .fixed(let i): return i
        case .dynamic(let pv):
            let v = pv.get(ctx)
            if let n = v.intForm { return .int(n) }
            if let s = v.stringForm, let n = Int(s) { return .int(n) }
            return .int(Int.max)
        }
    }

    public func get(_ ctx: ScriptContext) -> Value { read(ctx) ?? .null }

    /// How a format string prints the variable: `<null>` for null, nothing when a transformation failed
    /// (OpenSIPS's pv_printf skips a variable whose read returned an error).
    func printed(_ ctx: ScriptContext) -> String { read(ctx)?.printed ?? "" }

    /// The value, or nil when a transformation failed.
    func read(_ ctx: ScriptContext) -> Value? {
        var v: Value
        switch resolvedIndex(ctx) {
        case .none: v = accessor.get(ctx)
        case .int(let n)?: v = accessor.get(ctx, index: n)
        case .all?:
            // Reading [*] as a value gives the values joined with OpenSIPS's PV_FIELD_DELIM (", "), as pv_get_avp,
            // pv_get_hdr and the branch variables print them.
            let all = accessor.all(ctx)
            v = all.isEmpty ? .null : .str(all.map(\.printed).joined(separator: accessor.allSeparator))
        case .append?: v = .null
        }
        for t in transforms {
            guard let next = t.apply(v, ctx) else { return nil }
            v = next
        }
        return v
    }

    /// Every value, for `for ($it in $(x[*]))`.
    public func values(_ ctx: ScriptContext) -> [Value] {
        accessor.all(ctx).map { v in
            var v = v
            for t in transforms {
                guard let next = t.apply(v, ctx) else { return .null }
                v = next
            }
            return v
        }
    }

    /// True for `$avp(name)` (with or without an index).
    var isAVP: Bool { accessor is AVPPV }

    /// A function's output value: an AVP gets it added on top even when it is NULL (each element of a list keeps its
    /// index, as OpenSIPS's add_avp), any other variable is assigned with `=`.
    @discardableResult
    func push(_ ctx: ScriptContext, _ value: Value) -> Bool {
        guard writable else { return false }
        if let avp = accessor as? AVPPV {
            avp.push(ctx, value)
            return true
        }
        return set(ctx, .assign, value)
    }

    @discardableResult
    public func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool {
        guard writable else { return false }
        if let idx = resolvedIndex(ctx) {
            return accessor.set(ctx, index: idx, op, value)
        }
        return accessor.set(ctx, op, value)
    }
}
