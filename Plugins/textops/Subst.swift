// sed-like substitutions `/re/replacement/flags` (OpenSIPS's subst expressions, for subst, subst_uri, subst_user and
// subst_body): the first character separates the parts (escaped with a backslash inside them); flags `i` (ignore
// case), `g` (every match), `s` (newline-sensitive matching); `\0`..`\9` in the replacement are the match and its
// groups, `\n` `\r` `\t` and `\\` the usual characters.
#if canImport(Glibc)
import Glibc
#endif

struct SubstExpr {
    enum Piece: Equatable { case text([UInt8]), group(Int) }

    let pattern: String
    let flags: Int32
    let global: Bool
    let replacement: [Piece]

    /// Parses an expression; nil with the reason when it is not one.
    static func parse(_ spec: String) -> Result<SubstExpr, SubstError> {
        let b = Array(spec.utf8)
        guard let sep = b.first, b.count >= 4 else { return .failure(SubstError("too short")) }
        var parts: [[UInt8]] = [[]]
        var i = 1
        while i < b.count {
            if b[i] == 92, i + 1 < b.count, b[i + 1] == sep { parts[parts.count - 1].append(sep); i += 2; continue }
            if b[i] == 92, i + 1 < b.count { parts[parts.count - 1] += [92, b[i + 1]]; i += 2; continue }
            if b[i] == sep { parts.append([]); i += 1; continue }
            parts[parts.count - 1].append(b[i])
            i += 1
        }
        guard parts.count == 3 else { return .failure(SubstError("needs three parts separated by '\(Character(Unicode.Scalar(sep)))'")) }
        var flags = REG_EXTENDED
        var global = false
        for f in parts[2] {
            switch f {
            case UInt8(ascii: "i"): flags |= REG_ICASE
            case UInt8(ascii: "g"): global = true
            case UInt8(ascii: "s"): flags |= REG_NEWLINE
            default: return .failure(SubstError("unknown flag '\(Character(Unicode.Scalar(f)))'"))
            }
        }
        var pieces: [Piece] = []
        var lit: [UInt8] = []
        let r = parts[1]
        var k = 0
        var maxGroup = 0
        while k < r.count {
            if r[k] == 92, k + 1 < r.count {
                let n = r[k + 1]
                if n >= 48 && n <= 57 {
                    if !lit.isEmpty { pieces.append(.text(lit)); lit = [] }
                    pieces.append(.group(Int(n - 48)))
                    maxGroup = Swift.max(maxGroup, Int(n - 48))
                } else {
                    lit.append(n == UInt8(ascii: "n") ? 10 : n == UInt8(ascii: "t") ? 9 : n == UInt8(ascii: "r") ? 13 : n)
                }
                k += 2
                continue
            }
            lit.append(r[k]); k += 1
        }
        if !lit.isEmpty { pieces.append(.text(lit)) }
        let pattern = String(decoding: parts[0], as: UTF8.self)
        if let e = Regex.error(pattern, flags: flags) { return .failure(SubstError("bad regular expression: \(e)")) }
        guard let re = Regex(pattern, flags: flags) else { return .failure(SubstError("bad regular expression")) }
        if maxGroup > re.groups { return .failure(SubstError("\\\(maxGroup) names a group the expression does not have")) }
        return .success(SubstExpr(pattern: pattern, flags: flags, global: global, replacement: pieces))
    }

    /// The edits the expression makes in `text` (byte offsets), none when it does not match. Empty matches advance
    /// by one byte.
    func edits(in text: [UInt8]) -> [TextEdit] {
        guard let re = Regex(pattern, flags: flags) else { return [] }
        let c = text.map { CChar(bitPattern: $0) } + [0]
        var out: [TextEdit] = []
        var pos = 0
        while pos <= text.count, let m = re.firstMatch(c, from: pos, notBOL: pos > 0 && text[pos - 1] != 10 && text[pos - 1] != 13) {
            guard let whole = m[0] else { break }
            var repl: [UInt8] = []
            for p in replacement {
                switch p {
                case .text(let t): repl += t
                case .group(let n): if n < m.count, let r = m[n] { repl += text[r] }
                }
            }
            out.append(TextEdit(range: whole, text: repl))
            pos = whole.isEmpty ? whole.upperBound + 1 : whole.upperBound
            if !global { break }
        }
        return out
    }

    /// `text` with the substitution applied; nil when nothing matched.
    func apply(_ text: String) -> String? {
        let b = Array(text.utf8)
        let e = edits(in: b)
        return e.isEmpty ? nil : String(decoding: b.applying(e), as: UTF8.self)
    }
}

struct SubstError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
