// What a Swift handler receives: a script-function call, an MI request; and what an MI handler answers.
import SwitchyardABI

// MARK: - Script function calls

/// One call of a script function: the evaluated arguments on the caller's context.
///
/// Valid only during the handler call (it points at the core's argument array), on the calling worker thread — do not
/// store it or pass it to another thread. Arguments are indexed in declaration order; `count` equals the number of
/// declared parameters (the core checks arity and types at startup).
public struct FunctionCall {
    /// The context the route runs in.
    public let context: SYContext
    /// The host table (for logging, statistics, events...).
    public let host: PluginHost
    /// The raw C arguments.
    public let arguments: UnsafeBufferPointer<sy_arg>

    init(context: SYContext, host: PluginHost, arguments: UnsafeBufferPointer<sy_arg>) {
        self.context = context
        self.host = host
        self.arguments = arguments
    }

    /// Number of arguments (= declared parameters).
    public var count: Int { arguments.count }

    /// False for an omitted optional argument (or an index past the end).
    public func isPresent(_ index: Int) -> Bool {
        index >= 0 && index < arguments.count && arguments[index].present != 0
    }

    /// The evaluated value of an `.int`/`.str` argument (`.null` when omitted).
    public func value(_ index: Int) -> SYValue {
        isPresent(index) ? SYValue(arguments[index].value) : .null
    }

    /// An `.int` argument (0 when omitted).
    public func int(_ index: Int) -> Int64 {
        isPresent(index) ? arguments[index].value.i : 0
    }

    /// A `.str` argument, copied ("" when omitted). See `withBytes` to avoid the copy.
    public func string(_ index: Int) -> String {
        isPresent(index) ? arguments[index].value.s.string : ""
    }

    /// Calls `body` with a `.str` argument's bytes, borrowed from the core for the duration of `body` (no copy).
    public func withBytes<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(isPresent(index) ? arguments[index].value.s.bytes : UnsafeRawBufferPointer(start: nil, count: 0))
    }

    /// The variable of a `.var` argument (nil when omitted).
    public func variable(_ index: Int) -> SYVar? {
        guard isPresent(index), let v = arguments[index].var else { return nil }
        return SYVar(v)
    }

    /// Assigns the `.var` argument at `index`; false if omitted or the variable refuses the value.
    @discardableResult
    public func set(_ index: Int, _ value: SYValue) -> Bool {
        guard let v = variable(index) else { return false }
        return host.varSet(context, v, value)
    }

    /// Reads the `.var` argument at `index` (nil if omitted or on error).
    public func get(_ index: Int) -> SYValue? {
        guard let v = variable(index) else { return nil }
        return host.varGet(context, v)
    }

    /// The route kind this call runs in (nil on a core older than ABI 1.1).
    public var routeType: RouteMask? { host.routeType(context) }

    /// The worker this call runs on (1...N, negative for the timer thread; nil on a core older than ABI 1.2).
    public var worker: Int32? { host.worker(context) }
}

// MARK: - MI

/// Result of reading an MI parameter.
public enum MIParam<T> {
    case value(T)
    /// Not given.
    case absent
    /// Given, but of a type with no such form (e.g. an array asked as an integer).
    case badType

    /// The value, or nil when absent or of a bad type.
    public var value: T? { if case .value(let v) = self { return v } else { return nil } }
}

/// One MI request being handled. Valid only during the handler call.
public struct MIRequest {
    /// The C call handle.
    public let raw: OpaquePointer
    /// The host table.
    public let host: PluginHost

    init(raw: OpaquePointer, host: PluginHost) {
        self.raw = raw
        self.host = host
    }

    private static func result(_ rc: Int32) -> MIParam<Void> {
        switch rc {
        case 0: return .value(())
        case -1: return .absent
        default: return .badType
        }
    }

    /// String form of a parameter (numbers are printed).
    public func string(_ name: String) -> MIParam<String> {
        guard let f = host.raw.pointee.mi_param_str else { return .absent }
        var out = sy_str()
        switch Self.result(name.withCString { f(raw, $0, &out) }) {
        case .value: return .value(out.string)
        case .absent: return .absent
        case .badType: return .badType
        }
    }

    /// Integer form of a parameter (a JSON number, or a string holding an integer — what opensips-cli sends).
    public func int(_ name: String) -> MIParam<Int64> {
        guard let f = host.raw.pointee.mi_param_int else { return .absent }
        var out: Int64 = 0
        switch Self.result(name.withCString { f(raw, $0, &out) }) {
        case .value: return .value(out)
        case .absent: return .absent
        case .badType: return .badType
        }
    }

    /// Raw JSON text of a parameter (arrays, objects, or anything).
    public func json(_ name: String) -> MIParam<String> {
        guard let f = host.raw.pointee.mi_param_json else { return .absent }
        var out = sy_str()
        switch Self.result(name.withCString { f(raw, $0, &out) }) {
        case .value: return .value(out.string)
        case .absent: return .absent
        case .badType: return .badType
        }
    }

    /// True if the parameter was given (whatever its type).
    public func contains(_ name: String) -> Bool {
        if case .value = json(name) { return true }
        return false
    }
}

/// What an MI handler answers; the kit sends it with `mi_reply_json` / `mi_reply_error`, exactly once.
public enum MIReply: Sendable {
    /// The string `"OK"` (OpenSIPS's `init_mi_result_ok`).
    case ok
    /// A JSON string.
    case string(String)
    /// A flat JSON object, keys in the given order (`.null` → null, `.int` → number, `.string` → string).
    case object([(String, SYValue)])
    /// Any JSON text, sent as is (it must be valid JSON: the core answers -32000 otherwise).
    case json(String)
    /// An error: `code` (JSON-RPC code, or e.g. 404/500 as OpenSIPS modules use), message, optional data.
    case error(code: Int32, message: String, data: String? = nil)
    /// The answer was built on the request with the MI builder (`req.addObject()` ...): nothing more is sent.
    case built
    /// The answer comes later, through the `MILaterReply` of `req.answerLater()`: nothing is sent now.
    case pending

    /// The reply as JSON text (nil for `.error`).
    public var jsonText: String? {
        switch self {
        case .ok: return "\"OK\""
        case .string(let s): return MIReply.quote(s)
        case .object(let fields):
            var out = "{"
            for (i, (k, v)) in fields.enumerated() {
                if i > 0 { out += ", " }
                out += MIReply.quote(k) + ": "
                switch v {
                case .null: out += "null"
                case .int(let n): out += String(n)
                case .string(let s): out += MIReply.quote(s)
                }
            }
            return out + "}"
        case .json(let text): return text
        case .error, .built, .pending: return nil
        }
    }

    /// `s` as a JSON string literal, quotes included.
    public static func quote(_ s: String) -> String {
        let hex: [Character] = Array("0123456789abcdef")
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += "\\u00"
                    out.append(hex[Int(scalar.value >> 4)])
                    out.append(hex[Int(scalar.value & 15)])
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Sends the reply on `call`.
    func send(_ call: OpaquePointer, host: PluginHost) {
        switch self {
        case .error(let code, let message, let data):
            guard let f = host.raw.pointee.mi_reply_error else { return }
            message.withCString { m in
                if let data {
                    data.withCString { f(call, code, m, $0) }
                } else {
                    f(call, code, m, nil)
                }
            }
        case .built, .pending:
            return
        default:
            guard let f = host.raw.pointee.mi_reply_json, var text = jsonText else { return }
            text.withUTF8 { bytes in
                f(call, UnsafeRawPointer(bytes.baseAddress)?.assumingMemoryBound(to: CChar.self), bytes.count)
            }
        }
    }
}
