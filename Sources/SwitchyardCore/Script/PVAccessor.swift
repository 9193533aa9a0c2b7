/// A resolved pseudo-variable class instance, e.g. `$var(x)` with its slot already known.
/// Subclasses override what they support; the defaults make a read-only, unindexed variable.
open class PVAccessor: @unchecked Sendable {
    // Immutable after startup; shared by all workers.
    public init() {}

    open var writable: Bool { false }
    open var supportsIndex: Bool { false }
    /// Whether `$(x[*])` may be used (given supportsIndex); false makes it a startup error.
    open var supportsAllIndex: Bool { true }
    /// What joins the values when `$(x[*])` is read as one value (OpenSIPS's PV_FIELD_DELIM unless the class says).
    open var allSeparator: String { ", " }

    open func get(_ ctx: ScriptContext) -> Value { .null }

    /// Assigns with `=` or `:=` (compound operators are computed by the caller). Returns false on failure.
    open func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool { false }

    /// `$(x[n])`: n-th value, negative from the end.
    open func get(_ ctx: ScriptContext, index: Int) -> Value { index == 0 ? get(ctx) : .null }

    /// `$(x[*])`: every value, in index order.
    open func all(_ ctx: ScriptContext) -> [Value] {
        let v = get(ctx)
        return v.isNull ? [] : [v]
    }

    open func set(_ ctx: ScriptContext, index: PVIndex, _ op: AssignOp, _ value: Value) -> Bool { false }
}

/// An index as resolved: a constant, all, append, or a variable read at run time.
public enum PVIndex: Sendable {
    case int(Int)
    case all
    case append
}

/// Why a pseudo-variable could not be resolved at startup.
public struct PVResolveError: Error, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// A class of pseudo-variables ($var, $avp, $json, ...): turns the `(...)` part into an accessor, once.
public struct PVClass: Sendable {
    public let name: String
    public let needsInner: Bool
    public let make: @Sendable (_ inner: String?, _ engine: ScriptEngine) throws(PVResolveError) -> PVAccessor

    public init(name: String, needsInner: Bool, make: @escaping @Sendable (String?, ScriptEngine) throws(PVResolveError) -> PVAccessor) {
        self.name = name
        self.needsInner = needsInner
        self.make = make
    }
}
