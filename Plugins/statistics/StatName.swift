// StatName: the "(...)" part of $stat(...), a statistic name that may contain variables, e.g.
// $stat(packets:$var(ptype)). Parsed once at startup (each variable resolved with var_parse), evaluated per read.
import SwitchyardPluginKit

struct StatName: Sendable {
    enum Part: Sendable {
        case text(String)
        case variable(SYVar, spec: String)
    }

    let parts: [Part]
    /// The whole name when it has no variable.
    let literal: String?

    /// Splits `inner` into text and variables. A variable is written as in the script: `$name`, `$name(...)` or
    /// `$(...)` (long form); `$$` is a literal `$`. Unknown variables fail startup with the reason from the core.
    static func parse(_ inner: String, host: PluginHost) throws(PluginError) -> StatName {
        let chars = Array(inner)
        var parts: [Part] = []
        var text = ""
        var i = 0
        while i < chars.count {
            guard chars[i] == "$" else {
                text.append(chars[i])
                i += 1
                continue
            }
            if i + 1 < chars.count, chars[i + 1] == "$" {
                text.append("$")
                i += 2
                continue
            }
            let start = i
            i += 1
            if i < chars.count, chars[i] == "(" {
                try skipParenthesized(chars, &i, quotes: true)
            } else {
                let nameStart = i
                while i < chars.count, isNameChar(chars[i]) { i += 1 }
                guard i > nameStart else { throw PluginError("missing variable name after '$' in '\(inner)'") }
                if i < chars.count, chars[i] == "(" { try skipParenthesized(chars, &i, quotes: false) }
            }
            let spec = String(chars[start..<i])
            let v = try host.varParse(spec)
            if !text.isEmpty { parts.append(.text(text)); text = "" }
            parts.append(.variable(v, spec: spec))
        }
        if !text.isEmpty { parts.append(.text(text)) }
        if parts.isEmpty { throw PluginError("empty statistic name") }
        if parts.count == 1, case .text(let t) = parts[0] {
            return StatName(parts: parts, literal: t)
        }
        return StatName(parts: parts, literal: nil)
    }

    /// The name on this context; nil if a variable cannot be read. A NULL variable prints as "<null>" (as in xlog).
    func evaluate(_ ctx: SYContext, host: PluginHost) -> String? {
        if let literal { return literal }
        var out = ""
        for part in parts {
            switch part {
            case .text(let t):
                out += t
            case .variable(let v, _):
                guard let value = host.varGet(ctx, v) else { return nil }
                out += value.description // copied at once: the core's string lives until its next call on ctx
            }
        }
        return out
    }

    private static func isNameChar(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == ".")
    }

    /// Advances `i` (at a '(') past the matching ')'.
    private static func skipParenthesized(_ chars: [Character], _ i: inout Int, quotes: Bool) throws(PluginError) {
        let start = i
        var depth = 0
        var inQuote = false
        while i < chars.count {
            let c = chars[i]
            if quotes && c == "\"" { inQuote.toggle() }
            if !inQuote {
                if c == "(" { depth += 1 }
                if c == ")" {
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return
                    }
                }
            }
            i += 1
        }
        throw PluginError("unbalanced parentheses in '\(String(chars[start...]))'")
    }
}
