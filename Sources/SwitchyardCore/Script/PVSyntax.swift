import Foundation

/// The pieces of a pseudo-variable reference as written: `$name(inner)` or the long form
/// `$(<ctx>name(inner)[index]{class.op,params}...)`.
public struct PVSyntax: Sendable, Equatable {
    public var name: String
    public var inner: String?
    public var index: PVIndexSyntax?
    /// The word after a '/' in the index (`[1/active]`): selects the class's variant `name/word`.
    public var indexSuffix: String?
    public var transforms: [TransformSyntax] = []
    public var context: String?
}

public enum PVIndexSyntax: Sendable, Equatable {
    case int(Int)
    case all
    case append
    case pv(String)
}

public struct TransformSyntax: Sendable, Equatable {
    public var cls: String
    public var op: String
    public var params: [TransformParam]
}

public enum TransformParam: Sendable, Equatable {
    case literal(String)
    case pv(String)
}

public struct PVSyntaxError: Error, Sendable {
    public let message: String
}

public enum PVSyntaxParser {
    static func isNameChar(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == ".")
    }

    /// Parses a whole `$...` text.
    public static func parse(_ text: String) throws(PVSyntaxError) -> PVSyntax {
        let chars = Array(text)
        var i = 0
        let (syntax, end) = try parse(chars, &i)
        _ = end
        guard i == chars.count else {
            throw PVSyntaxError(message: "unexpected '\(String(chars[i...]))' after pseudo-variable '\(String(chars[0..<i]))'")
        }
        return syntax
    }

    /// Parses one PV starting at chars[i] == "$"; advances i past it. Used for format strings too.
    public static func parse(_ chars: [Character], _ i: inout Int) throws(PVSyntaxError) -> (PVSyntax, Int) {
        guard i < chars.count, chars[i] == "$" else { throw PVSyntaxError(message: "a pseudo-variable starts with '$'") }
        i += 1
        if i < chars.count, chars[i] == "(" {
            // Long form: find the matching ')'.
            let open = i
            var depth = 0
            var j = i
            var inQuote = false
            while j < chars.count {
                let c = chars[j]
                if c == "\"" { inQuote.toggle() }
                if !inQuote {
                    if c == "(" { depth += 1 }
                    if c == ")" { depth -= 1; if depth == 0 { break } }
                }
                j += 1
            }
            guard j < chars.count else { throw PVSyntaxError(message: "unbalanced parentheses in '$\(String(chars[open...]))'") }
            let body = Array(chars[(open + 1)..<j])
            i = j + 1
            return (try parseLongBody(body), i)
        }
        var name = ""
        while i < chars.count, isNameChar(chars[i]) { name.append(chars[i]); i += 1 }
        guard !name.isEmpty else { throw PVSyntaxError(message: "missing pseudo-variable name after '$'") }
        var syntax = PVSyntax(name: name)
        if i < chars.count, chars[i] == "(" {
            syntax.inner = try readParenthesized(chars, &i)
        }
        // Short forms end here; a '[' or '{' right after belongs to the surrounding text.
        return (syntax, i)
    }

    /// Reads "(...)" with nesting, returns the inside; i ends past the ')'.
    static func readParenthesized(_ chars: [Character], _ i: inout Int) throws(PVSyntaxError) -> String {
        var depth = 0
        let start = i
        while i < chars.count {
            if chars[i] == "(" { depth += 1 }
            if chars[i] == ")" {
                depth -= 1
                if depth == 0 {
                    i += 1
                    return String(chars[(start + 1)..<(i - 1)])
                }
            }
            i += 1
        }
        throw PVSyntaxError(message: "unbalanced parentheses in '\(String(chars[start...]))'")
    }

    static func parseLongBody(_ b: [Character]) throws(PVSyntaxError) -> PVSyntax {
        var i = 0
        var context: String? = nil
        if i < b.count, b[i] == "<" {
            guard let close = b[i...].firstIndex(of: ">") else { throw PVSyntaxError(message: "unterminated <context> in pseudo-variable") }
            context = String(b[(i + 1)..<close])
            i = close + 1
        }
        var name = ""
        while i < b.count, isNameChar(b[i]) { name.append(b[i]); i += 1 }
        guard !name.isEmpty else { throw PVSyntaxError(message: "missing pseudo-variable name in '$(\(String(b)))'") }
        var syntax = PVSyntax(name: name, context: context)
        if i < b.count, b[i] == "(" { syntax.inner = try readParenthesized(b, &i) }
        if i < b.count, b[i] == "[" {
            guard let close = b[i...].firstIndex(of: "]") else { throw PVSyntaxError(message: "missing ']' in pseudo-variable index") }
            var idx = String(b[(i + 1)..<close]).trimmingCharacters(in: .whitespaces)
            i = close + 1
            if let slash = idx.lastIndex(of: "/") {
                let word = String(idx[idx.index(after: slash)...]).trimmingCharacters(in: .whitespaces)
                guard !word.isEmpty, word.allSatisfy(isNameChar) else {
                    throw PVSyntaxError(message: "bad index suffix in '[\(idx)]': expected [index/word]")
                }
                syntax.indexSuffix = word
                idx = String(idx[..<slash]).trimmingCharacters(in: .whitespaces)
            }
            if idx == "*" { syntax.index = .all }
            else if idx == "append" { syntax.index = .append }
            else if let n = Int(idx) { syntax.index = .int(n) }
            else if idx.hasPrefix("$") { syntax.index = .pv(idx) }
            else { throw PVSyntaxError(message: "bad index '[\(idx)]': expected an integer, *, append or a variable") }
        }
        while i < b.count, b[i] == "{" {
            // A transformation: {class.op,param,...}; params may contain variables with parentheses.
            var depth = 0
            var j = i
            while j < b.count {
                if b[j] == "{" { depth += 1 }
                if b[j] == "}" { depth -= 1; if depth == 0 { break } }
                j += 1
            }
            guard j < b.count else { throw PVSyntaxError(message: "missing '}' in transformation") }
            syntax.transforms.append(try parseTransform(Array(b[(i + 1)..<j])))
            i = j + 1
        }
        guard i == b.count else {
            throw PVSyntaxError(message: "unexpected '\(String(b[i...]))' in pseudo-variable '$(\(String(b)))'")
        }
        return syntax
    }

    static func parseTransform(_ t: [Character]) throws(PVSyntaxError) -> TransformSyntax {
        // Split on ',' at parenthesis depth 0.
        var parts: [String] = []
        var cur = ""
        var depth = 0
        for c in t {
            if c == "(" { depth += 1 }
            if c == ")" { depth -= 1 }
            if c == ",", depth == 0 { parts.append(cur); cur = ""; continue }
            cur.append(c)
        }
        parts.append(cur)
        let head = parts.removeFirst().trimmingCharacters(in: .whitespaces)
        guard let dot = head.firstIndex(of: ".") else {
            throw PVSyntaxError(message: "bad transformation '{\(String(t))}': expected {class.operation}")
        }
        let cls = String(head[..<dot])
        let op = String(head[head.index(after: dot)...])
        let params: [TransformParam] = parts.map { p in
            p.hasPrefix("$") && p.count > 1 ? .pv(p) : .literal(p)
        }
        return TransformSyntax(cls: cls, op: op, params: params)
    }
}
