// Fixups: a script function's startup check of each call site's literal arguments (ABI 1.11 sy_func_fixup).
import SwitchyardABI

/// One argument of a call site as a fixup sees it.
public enum FixupArgument: Sendable, Hashable {
    /// An optional argument left out.
    case omitted
    /// A literal, as the handler will receive it (`.int` or `.string`).
    case constant(SYValue)
    /// A variable or a string with variables: known at run time only.
    case dynamic

    /// The literal string, if this argument is one.
    public var constantString: String? { if case .constant(.string(let s)) = self { return s } else { return nil } }
    /// The literal integer (also a literal string that is a decimal integer), if this argument is one.
    public var constantInt: Int64? {
        switch self {
        case .constant(.int(let i)): return i
        case .constant(.string(let s)): return Int64(s.trimmingCharacters(in: [" ", "\t"]))
        default: return nil
        }
    }
}

/// Thrown by a fixup to refuse a call site: the core stops startup with `file:line:col: f(): <message>` at
/// `argument` (0-based), or at the call when nil.
public struct FixupError: Error, Sendable, CustomStringConvertible {
    public let argument: Int?
    public let message: String
    public init(argument: Int? = nil, _ message: String) {
        self.argument = argument
        self.message = message
    }
    public var description: String { message }
}

/// Checks literal arguments at startup; throws `FixupError` (any other error refuses the call itself).
public typealias FunctionFixupCheck = @Sendable ([FixupArgument]) throws -> Void

final class FixupBox: Sendable {
    let check: FunctionFixupCheck
    init(_ check: @escaping FunctionFixupCheck) { self.check = check }
}

enum FixupBridge {
    /// The C fixup of a function whose user pointer is a FuncBox carrying a check.
    static let entry: sy_func_fixup = { args, nargs, argIndex, err, errlen, user in
        guard let user else { return 0 }
        let box = Unmanaged<FuncBox>.fromOpaque(user).takeUnretainedValue()
        guard let check = box.fixup?.check else { return 0 }
        let list = (0..<Int(nargs)).map { i -> FixupArgument in
            guard let a = args?[i] else { return .omitted }
            switch a.kind {
            case UInt32(SY_FIXUP_CONST.rawValue): return .constant(SYValue(a.value))
            case UInt32(SY_FIXUP_DYNAMIC.rawValue): return .dynamic
            default: return .omitted
            }
        }
        do {
            try check(list)
            return 0
        } catch let e as FixupError {
            // An index outside the call's arguments (a negative one would trap in UInt32) points at the call.
            if let i = e.argument, (0..<Int(nargs)).contains(i), let argIndex { argIndex.pointee = UInt32(i) }
            writeError(e.message, into: err, capacity: errlen)
            return -1
        } catch {
            writeError(String(describing: error), into: err, capacity: errlen)
            return -1
        }
    }
}
