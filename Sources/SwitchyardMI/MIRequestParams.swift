/// The parameters of one MI call, read by name.
///
/// Positional params are mapped to names through the recipe the dispatcher selected, so a handler
/// never cares which form the client used. The accessors behave as OpenSIPS's, in particular
/// `int` accepts strings holding an integer because opensips-cli sends positional values as strings.
public struct MIRequestParams: Sendable, Equatable {
    public enum Storage: Sendable, Equatable {
        case none
        case positional([JSONValue])
        case named(JSONObject)
    }

    public let storage: Storage
    /// The parameter names of the selected recipe, in recipe order.
    public let recipe: [String]

    public init(storage: Storage, recipe: [String]) {
        self.storage = storage
        self.recipe = recipe
    }

    public static let none = MIRequestParams(storage: .none, recipe: [])

    /// Convenience for handlers called outside the dispatcher (tests, internal callers).
    public static func named(_ object: JSONObject) -> MIRequestParams {
        MIRequestParams(storage: .named(object), recipe: object.keys)
    }

    /// The raw JSON value of a parameter, nil when absent.
    public func json(_ name: String) -> JSONValue? {
        switch storage {
        case .none:
            return nil
        case .positional(let values):
            guard let at = recipe.firstIndex(of: name), at < values.count else { return nil }
            return values[at]
        case .named(let object):
            return object[name]
        }
    }

    public func has(_ name: String) -> Bool { json(name) != nil }

    private func required(_ name: String) throws(MIError) -> JSONValue {
        guard let value = json(name) else { throw MIError.missingParameter }
        return value
    }

    /// A string parameter; numbers are accepted and printed in decimal.
    public func string(_ name: String) throws(MIError) -> String {
        guard let s = Self.stringForm(try required(name)) else { throw MIError.badType(name) }
        return s
    }

    /// An integer parameter: a JSON integer, an integral double, or a string holding an integer.
    public func int(_ name: String) throws(MIError) -> Int {
        switch try required(name) {
        case .int(let i):
            guard let v = Int(exactly: i) else { throw MIError.badType(name) }
            return v
        case .double(let d):
            guard let v = Int(exactly: d) else { throw MIError.badType(name) }
            return v
        case .string(let s):
            guard let v = Self.parseInteger(s) else { throw MIError.badType(name) }
            return v
        default:
            throw MIError.badType(name)
        }
    }

    /// A non-empty JSON array parameter.
    public func array(_ name: String) throws(MIError) -> [JSONValue] {
        guard case .array(let elements) = try required(name) else { throw MIError.badType(name) }
        guard !elements.isEmpty else { throw MIError.emptyArray(name) }
        return elements
    }

    /// A non-empty array whose elements are strings (or numbers, printed).
    public func stringArray(_ name: String) throws(MIError) -> [String] {
        var strings: [String] = []
        for element in try array(name) {
            guard let s = Self.stringForm(element) else { throw MIError.badType(name) }
            strings.append(s)
        }
        return strings
    }

    // MARK: Conversions

    static func stringForm(_ value: JSONValue) -> String? {
        switch value {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return Int64(exactly: d).map { String($0) } ?? d.description
        default: return nil
        }
    }

    /// `[+-]?[0-9]+` within range, nothing else (no spaces, no hex): like OpenSIPS `str2sint`.
    static func parseInteger(_ s: String) -> Int? {
        var body = Substring(s)
        var negative = false
        if let sign = body.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            body = body.dropFirst()
        }
        guard !body.isEmpty, body.utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) else { return nil }
        return Int(negative ? "-" + body : String(body))
    }
}
