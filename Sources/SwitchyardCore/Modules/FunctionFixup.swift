import SwitchyardABI

/// One argument of a call site as a function's startup check sees it (ABI 1.11 sy_fixup_arg).
public enum FixupArg: Sendable, Equatable {
    case omitted
    /// A literal, as the handler will receive it.
    case constant(Value)
    /// A variable or a string with variables: known at run time only.
    case dynamic
}

/// Why a call site was refused: the argument at fault (0-based; nil for the call itself) and the reason.
public struct FixupFailure: Error, Sendable {
    public let argument: Int?
    public let message: String
    public init(argument: Int?, _ message: String) {
        self.argument = argument
        self.message = message
    }
}

/// A function's startup check (OpenSIPS's fixup): called once per call site after module init.
public typealias FunctionFixup = @Sendable ([FixupArg]) -> FixupFailure?

enum PluginFixup {
    /// The fixup of a plugin's function export (nil when it has none), calling C with the literal arguments.
    static func make(_ fixup: sy_func_fixup?, user: UnsafeMutableRawPointer?) -> FunctionFixup? {
        guard let fixup else { return nil }
        // The user pointer is the plugin's, valid for the module's life; the fixup only runs on the startup thread
        // (or reload_routes' MI thread), one call at a time.
        let u = UInt(bitPattern: user)
        return { args in
            var texts: [String] = []
            var cargs = args.map { a -> sy_fixup_arg in
                var c = sy_fixup_arg()
                switch a {
                case .omitted: c.kind = UInt32(SY_FIXUP_OMITTED.rawValue)
                case .dynamic: c.kind = UInt32(SY_FIXUP_DYNAMIC.rawValue)
                case .constant(let v):
                    c.kind = UInt32(SY_FIXUP_CONST.rawValue)
                    switch v {
                    case .int(let i):
                        c.value.type = Int32(SY_VAL_INT.rawValue)
                        c.value.i = Int64(i)
                    case .str(let s):
                        c.value.type = Int32(SY_VAL_STR.rawValue)
                        texts.append(s)
                    default: c.kind = UInt32(SY_FIXUP_DYNAMIC.rawValue)
                    }
                }
                return c
            }
            // NUL-terminated copies of the string literals, alive during the call.
            let buffers = texts.map { s -> UnsafeMutablePointer<CChar> in
                let n = s.utf8.count
                let p = UnsafeMutablePointer<CChar>.allocate(capacity: n + 1)
                s.withCString { p.initialize(from: $0, count: n + 1) }
                return p
            }
            defer { buffers.forEach { $0.deallocate() } }
            var next = 0
            for i in cargs.indices where cargs[i].kind == UInt32(SY_FIXUP_CONST.rawValue) && cargs[i].value.type == Int32(SY_VAL_STR.rawValue) {
                cargs[i].value.s = sy_str(s: UnsafePointer(buffers[next]), len: texts[next].utf8.count)
                next += 1
            }
            var index = UInt32.max
            var err = [CChar](repeating: 0, count: 512)
            let rc = cargs.withUnsafeBufferPointer { b in
                fixup(b.baseAddress, UInt32(b.count), &index, &err, err.count, UnsafeMutableRawPointer(bitPattern: u))
            }
            guard rc != 0 else { return nil }
            let reason = ABIReader.text(err)
            return FixupFailure(argument: index == UInt32.max || Int(index) >= args.count ? nil : Int(index),
                                reason.isEmpty ? "refused by the module" : reason)
        }
    }
}

extension ResolvedArg {
    /// What a fixup sees of this argument.
    var fixupArg: FixupArg {
        switch self {
        case .omitted: return .omitted
        case .int(let i): return .constant(.int(i))
        case .string(let s): return .constant(.str(s))
        case .format, .pv, .output: return .dynamic
        }
    }
}
