// Swift names for the header's constants and opaque handles. Every value comes from switchyard.h, never retyped.
import SwitchyardABI

// MARK: - Opaque handles

/// The script context a route runs in (`sy_ctx *`). Valid only during the handler call that received it, on that
/// thread: never store it, never pass it to another thread (it is deliberately not `Sendable`).
public struct SYContext {
    public let raw: OpaquePointer
    public init(_ raw: OpaquePointer) { self.raw = raw }
}

@available(*, unavailable, message: "a script context belongs to one call on one thread")
extension SYContext: Sendable {}

/// A variable reference resolved at startup (`sy_var *`). Owned by the core; valid until the server stops; may be
/// kept and shared (it is used with a context of the calling thread).
public struct SYVar: @unchecked Sendable, Hashable {
    public let raw: OpaquePointer
    public init(_ raw: OpaquePointer) { self.raw = raw }
}

/// A statistics counter (`sy_stat *`). Owned by the core; valid until the server stops; usable from any thread.
public struct SYStat: @unchecked Sendable, Hashable {
    public let raw: OpaquePointer
    public init(_ raw: OpaquePointer) { self.raw = raw }
}

/// A registered timer (`sy_timer *`). Owned by the core; valid until removed or the server stops.
public struct SYTimer: @unchecked Sendable, Hashable {
    public let raw: OpaquePointer
    public init(_ raw: OpaquePointer) { self.raw = raw }
}

// MARK: - Constants

/// Log levels (`enum sy_log_level`, OpenSIPS values: lower is more severe).
public struct LogLevel: RawRepresentable, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let alert = LogLevel(rawValue: Int32(SY_L_ALERT.rawValue))
    public static let crit = LogLevel(rawValue: Int32(SY_L_CRIT.rawValue))
    public static let err = LogLevel(rawValue: Int32(SY_L_ERR.rawValue))
    public static let warn = LogLevel(rawValue: Int32(SY_L_WARN.rawValue))
    public static let notice = LogLevel(rawValue: Int32(SY_L_NOTICE.rawValue))
    public static let info = LogLevel(rawValue: Int32(SY_L_INFO.rawValue))
    public static let dbg = LogLevel(rawValue: Int32(SY_L_DBG.rawValue))
}

/// Route kinds (`enum sy_route_kind`): where a script function may be called.
public struct RouteMask: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let request = RouteMask(rawValue: UInt32(SY_ROUTE_REQUEST.rawValue))
    public static let failure = RouteMask(rawValue: UInt32(SY_ROUTE_FAILURE.rawValue))
    public static let onReply = RouteMask(rawValue: UInt32(SY_ROUTE_ONREPLY.rawValue))
    public static let branch = RouteMask(rawValue: UInt32(SY_ROUTE_BRANCH.rawValue))
    public static let error = RouteMask(rawValue: UInt32(SY_ROUTE_ERROR.rawValue))
    public static let local = RouteMask(rawValue: UInt32(SY_ROUTE_LOCAL.rawValue))
    public static let startup = RouteMask(rawValue: UInt32(SY_ROUTE_STARTUP.rawValue))
    public static let timer = RouteMask(rawValue: UInt32(SY_ROUTE_TIMER.rawValue))
    public static let event = RouteMask(rawValue: UInt32(SY_ROUTE_EVENT.rawValue))
    public static let all = RouteMask(rawValue: UInt32(SY_ROUTE_ALL.rawValue))
}

/// One script-function parameter spec (`enum sy_param_flags`), e.g. `[.str, .int, .var]` or `[.str, .optional]`.
public struct FunctionParam: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Integer: a number literal or a variable with an int value.
    public static let int = FunctionParam(rawValue: UInt32(SY_P_INT.rawValue))
    /// String: a literal (with `$var` interpolation) or a variable.
    public static let str = FunctionParam(rawValue: UInt32(SY_P_STR.rawValue))
    /// A writable variable (output parameter).
    public static let `var` = FunctionParam(rawValue: UInt32(SY_P_VAR.rawValue))
    /// May be omitted.
    public static let optional = FunctionParam(rawValue: UInt32(SY_P_OPT.rawValue))
    /// With `.str`: a literal is taken as is, `$` not interpolated.
    public static let noExpand = FunctionParam(rawValue: UInt32(SY_P_NO_EXPAND.rawValue))
    /// Only a plain literal is accepted.
    public static let `static` = FunctionParam(rawValue: UInt32(SY_P_STATIC.rawValue))
}

/// Module-parameter value types (`enum sy_modparam_type`).
public struct ParamType: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let int = ParamType(rawValue: UInt32(SY_MP_INT.rawValue))
    public static let str = ParamType(rawValue: UInt32(SY_MP_STR.rawValue))
    /// The setter runs once per modparam line (list-style parameters).
    public static let repeatable = ParamType(rawValue: UInt32(SY_MP_REPEATABLE.rawValue))
}

/// Assignment operator passed to a pseudo-variable setter (`enum sy_assign_op`).
public struct AssignOp: RawRepresentable, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `=`
    public static let assign = AssignOp(rawValue: UInt32(SY_ASSIGN.rawValue))
    /// `:=`
    public static let colonAssign = AssignOp(rawValue: UInt32(SY_ASSIGN_COLON.rawValue))
}

/// Dependency strength (`SY_DEP_HARD` / `SY_DEP_SOFT`).
public enum DependencyKind: Sendable {
    /// Missing → startup error naming both modules.
    case hard
    /// Missing → fine; present → initialised first.
    case soft

    var flag: UInt32 {
        switch self {
        case .hard: return UInt32(SY_DEP_HARD.rawValue)
        case .soft: return UInt32(SY_DEP_SOFT.rawValue)
        }
    }
}

/// Statistic flags (`enum sy_stat_flags`).
public struct StatFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// `reset_statistics` leaves it alone ("non-incremental").
    public static let noReset = StatFlags(rawValue: UInt32(SY_STAT_NO_RESET.rawValue))
}

/// An error a plugin reports to the core; its message is what the core prints.
public struct PluginError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: - Helpers

/// Copies `message` into a C error buffer of `capacity` bytes, truncated at a UTF-8 boundary, NUL-terminated.
func writeError(_ message: String, into buffer: UnsafeMutablePointer<CChar>?, capacity: Int) {
    guard let buffer, capacity > 0 else { return }
    var utf8 = Array(message.utf8)
    if utf8.count > capacity - 1 {
        var n = capacity - 1
        while n > 0 && (utf8[n] & 0xC0) == 0x80 { n -= 1 } // do not cut a multi-byte character
        utf8.removeSubrange(n...)
    }
    utf8.withUnsafeBufferPointer { src in
        if let base = src.baseAddress, src.count > 0 {
            UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: src.count)
        }
    }
    buffer[utf8.count] = 0
}

/// Reads a NUL-terminated C error buffer written by the host.
func readError(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
