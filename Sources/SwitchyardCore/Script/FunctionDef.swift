import SwitchyardABI

/// What a call receives for one argument at run time.
public enum ArgValue: Sendable {
    case omitted
    case value(Value)
    case variable(ResolvedPV)

    public var value: Value {
        if case .value(let v) = self { return v }
        return .null
    }
}

/// A script function: from the core or from a plugin. Parameter flags use the ABI's SY_P_* bits.
public final class FunctionDef: @unchecked Sendable {
    public enum Impl: @unchecked Sendable {
        case core(@Sendable (ScriptContext, [ArgValue]) -> Int)
        case plugin(handler: sy_func_handler, user: UnsafeMutableRawPointer?)
    }

    public let name: String
    public let module: String
    public let params: [UInt32]
    public let routeMask: UInt32
    let impl: Impl
    /// The startup check of each call site's literal arguments (ABI 1.11), if any.
    public let fixup: FunctionFixup?

    public init(name: String, module: String, params: [UInt32], routeMask: UInt32 = UInt32(SY_ROUTE_ALL.rawValue), impl: Impl,
                fixup: FunctionFixup? = nil) {
        self.name = name
        self.module = module
        self.params = params
        self.routeMask = routeMask
        self.impl = impl
        self.fixup = fixup
    }

    /// Fewest arguments: up to the last mandatory parameter.
    var minArgs: Int {
        var m = 0
        for (i, p) in params.enumerated() where p & UInt32(SY_P_OPT.rawValue) == 0 { m = i + 1 }
        return m
    }
}

public enum ParamFlag {
    public static let int = UInt32(SY_P_INT.rawValue)
    public static let str = UInt32(SY_P_STR.rawValue)
    public static let variable = UInt32(SY_P_VAR.rawValue)
    public static let opt = UInt32(SY_P_OPT.rawValue)
    public static let noExpand = UInt32(SY_P_NO_EXPAND.rawValue)
    public static let staticOnly = UInt32(SY_P_STATIC.rawValue)
    /// ABI 1.6: a NULL variable reaches the handler instead of skipping it.
    public static let nullable = UInt32(SY_P_NULLABLE.rawValue)
}
