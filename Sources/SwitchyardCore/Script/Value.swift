/// A script value: OpenSIPS's model is null | int | string.
/// An int also has a string form (its decimal text); a string has no int form.
public enum Value: Sendable, Equatable {
    case null
    case int(Int)
    case str(String)

    public var isNull: Bool { if case .null = self { return true } else { return false } }

    public var intForm: Int? {
        if case .int(let i) = self { return i }
        return nil
    }

    public var stringForm: String? {
        switch self {
        case .null: return nil
        case .int(let i): return String(i)
        case .str(let s): return s
        }
    }

    /// Truthiness of a bare variable in a condition: NULL, "" and int 0 are false; "0" is true.
    public var isTrue: Bool {
        switch self {
        case .null: return false
        case .int(let i): return i != 0
        case .str(let s): return !s.isEmpty
        }
    }

    /// How xlog and format strings print a value: NULL is "<null>".
    public var printed: String {
        switch self {
        case .null: return "<null>"
        case .int(let i): return String(i)
        case .str(let s): return s
        }
    }
}
