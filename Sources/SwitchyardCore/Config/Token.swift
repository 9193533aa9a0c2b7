/// The lexical units of the OpenSIPS-style script language.
public enum TokenKind: Sendable, Equatable {
    case identifier(String)
    case number(Int)
    /// A string literal; `singleQuoted` strings had no escapes processed.
    case string(String, singleQuoted: Bool)
    /// A pseudo-variable as written, e.g. `$var(x)` or `$(avp(a)[1]{s.len})`.
    case pvar(String)
    /// A dotted IPv4 address or similar dotted numeric word (`127.0.0.1`), only meaningful in socket values.
    case dotted(String)
    case punct(String)
    case eof
}

public struct Token: Sendable {
    public let kind: TokenKind
    public let location: SourceLocation
    /// Byte offset just past the token in its file (used to take raw text such as socket specs).
    public let endLine: Int
    /// Column just past the token on `endLine` (0 when unknown): where "expected ';'" after it points.
    public var endColumn: Int = 0

    public var text: String {
        switch kind {
        case .identifier(let s): return s
        case .number(let n): return String(n)
        case .string(let s, _): return "\"\(s)\""
        case .pvar(let s): return s
        case .dotted(let s): return s
        case .punct(let p): return p
        case .eof: return "end of file"
        }
    }

    public func isPunct(_ p: String) -> Bool {
        if case .punct(let q) = kind { return p == q }
        return false
    }

    public func isIdent(_ name: String) -> Bool {
        if case .identifier(let s) = kind { return s == name }
        return false
    }

    public var identifier: String? {
        if case .identifier(let s) = kind { return s }
        return nil
    }
}
