#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// A sed-like substitution `/regex/replacement/flags` (OpenSIPS's subst expressions): the first character is the
/// separator (escaped with a backslash inside the parts); flags `i` (ignore case), `g` (every match), `s` (newline
/// aware); `\0`..`\9` in the replacement are the match and its groups. POSIX extended syntax.
final class SubstExpression: @unchecked Sendable {
    // @unchecked Sendable: the compiled regex is written only by init and read-only after it (regexec takes it
    // const; glibc's regexec is safe on one regex from several threads); the other fields are `let`.
    private var re = regex_t()
    private let replacement: [Piece]
    private let global: Bool

    enum Piece { case text([UInt8]), group(Int) }

    init?(_ spec: String) {
        let b = Array(spec.utf8)
        guard let sep = b.first, b.count >= 4 else { return nil }
        var parts: [[UInt8]] = [[]]
        var i = 1
        while i < b.count {
            if b[i] == 92, i + 1 < b.count, b[i + 1] == sep { parts[parts.count - 1].append(sep); i += 2; continue }
            if b[i] == sep { parts.append([]); i += 1; continue }
            parts[parts.count - 1].append(b[i])
            i += 1
        }
        guard parts.count == 3 else { return nil }
        var cflags = REG_EXTENDED
        var g = false
        for f in parts[2] {
            switch f {
            case UInt8(ascii: "i"): cflags |= REG_ICASE
            case UInt8(ascii: "g"): g = true
            case UInt8(ascii: "s"): cflags |= REG_NEWLINE
            default: return nil
            }
        }
        global = g
        var pieces: [Piece] = []
        var lit: [UInt8] = []
        let r = parts[1]
        var k = 0
        while k < r.count {
            if r[k] == 92, k + 1 < r.count {
                let n = r[k + 1]
                if n >= 48 && n <= 57 {
                    if !lit.isEmpty { pieces.append(.text(lit)); lit = [] }
                    pieces.append(.group(Int(n - 48)))
                } else {
                    lit.append(n == UInt8(ascii: "n") ? 10 : n == UInt8(ascii: "t") ? 9 : n == UInt8(ascii: "r") ? 13 : n)
                }
                k += 2
                continue
            }
            lit.append(r[k]); k += 1
        }
        if !lit.isEmpty { pieces.append(.text(lit)) }
        replacement = pieces
        let pattern = String(decoding: parts[0], as: UTF8.self)
        if regcomp(&re, pattern, cflags) != 0 { return nil }
    }

    deinit { regfree(&re) }

    /// The input with the substitution applied, or nil when nothing matched.
    func apply(_ input: String) -> String? {
        let bytes = Array(input.utf8)
        var out: [UInt8] = []
        var pos = 0
        var matched = false
        var m = [regmatch_t](repeating: regmatch_t(), count: 10)
        // One NUL-terminated copy per call; each search starts at an offset into it.
        let cstr = bytes.map { CChar(bitPattern: $0) } + [0]
        while pos <= bytes.count {
            let rc = cstr.withUnsafeBufferPointer { c in regexec(&re, c.baseAddress! + pos, 10, &m, pos > 0 ? REG_NOTBOL : 0) }
            if rc != 0 { break }
            matched = true
            let so = pos + Int(m[0].rm_so), eo = pos + Int(m[0].rm_eo)
            out += bytes[pos..<so]
            for p in replacement {
                switch p {
                case .text(let t): out += t
                case .group(let n):
                    if m[n].rm_so >= 0 { out += bytes[(pos + Int(m[n].rm_so))..<(pos + Int(m[n].rm_eo))] }
                }
            }
            if eo == so {
                if so < bytes.count { out.append(bytes[so]) }
                pos = so + 1
            } else {
                pos = eo
            }
            if !global { break }
        }
        guard matched else { return nil }
        if pos < bytes.count { out += bytes[pos...] }
        return String(decoding: out, as: UTF8.self)
    }
}

/// `re.subst` and the `ip.` checks.
enum SubstTransforms {
    static let re = TransformClass(name: "re") { op, params throws(PVResolveError) in
        guard op.lowercased() == "subst" else { throw PVResolveError("unknown transformation re.\(op)") }
        guard let p = params.first else { throw PVResolveError("re.subst needs a /regex/replacement/flags expression") }
        // The expression may hold ',' (the transformation splits its text on them): join the parts back.
        var compiled: SubstExpression? = nil
        if case .literal = p {
            var text = params.map { if case .literal(let s) = $0 { return s } else { return "" } }.joined(separator: ",")
            // OpenSIPS's tr_parse_sparam ends the parameter at the first '}' without a backslash before it, so a
            // quantifier has to be written \{2\}; a bare {2} leaves a truncated expression, refused here.
            let b = Array(text.utf8)
            if let close = b.indices.first(where: { b[$0] == 125 && ($0 == 0 || b[$0 - 1] != 92) }) {
                text = String(decoding: b[..<close], as: UTF8.self)
            }
            guard let e = SubstExpression(unescapeBraces(text)) else { throw PVResolveError("re.subst: bad expression '\(text)'") }
            compiled = e
        }
        let fixed = compiled
        return Transform(name: op) { v, ctx in
            guard let s = v.stringForm, !s.isEmpty else { return nil }
            let expr: SubstExpression
            if let f = fixed { expr = f } else {
                guard let e = SubstExpression(unescapeBraces(p.string(ctx))) else { return nil }
                expr = e
            }
            // No match leaves the value as it is.
            return expr.apply(s).map { .str($0) } ?? v
        }
    }

    /// tr_eval_re drops the backslash of `\{` and `\}` before compiling (they are escaped only for the
    /// transformation parser); every other escape goes to the regex as written.
    static func unescapeBraces(_ s: String) -> String {
        guard s.utf8.contains(92) else { return s }
        let b = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if b[i] == 92, i + 1 < b.count, b[i + 1] == 123 || b[i + 1] == 125 { out.append(b[i + 1]); i += 2; continue }
            out.append(b[i]); i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isIPv4(_ s: String) -> Bool {
        var a = in_addr()
        return inet_pton(AF_INET, s, &a) == 1
    }

    static func isIPv6(_ s: String) -> Bool {
        var t = s
        if t.hasPrefix("["), t.hasSuffix("]") { t = String(t.dropFirst().dropLast()) }
        var a = in6_addr()
        return inet_pton(AF_INET6, t, &a) == 1
    }

    static let ip = TransformClass(name: "ip") { op, params throws(PVResolveError) in
        switch op.lowercased() {
        case "isip": return Transform(name: op) { v, _ in v.stringForm.map { .int(isIPv4($0) || isIPv6($0) ? 1 : 0) } }
        case "isip4": return Transform(name: op) { v, _ in v.stringForm.map { .int(isIPv4($0) ? 1 : 0) } }
        case "isip6": return Transform(name: op) { v, _ in v.stringForm.map { .int(isIPv6($0) ? 1 : 0) } }
        case "isprivate":
            return Transform(name: op) { v, _ in
                guard let s = v.stringForm else { return nil }
                let o = s.split(separator: ".").compactMap { Int($0) }
                guard isIPv4(s), o.count == 4 else { return .int(0) }
                let priv = o[0] == 10 || (o[0] == 172 && (16...31).contains(o[1])) || (o[0] == 192 && o[1] == 168)
                return .int(priv ? 1 : 0)
            }
        case "matches":
            // IPv4 or IPv6 on both sides (str2ip, then str2ip6); different families cannot be compared.
            guard let p = params.first else { throw PVResolveError("ip.matches needs a network ip/len") }
            return Transform(name: op) { v, ctx in
                guard let s = v.stringForm, let r = IPTransforms.matches(s, p.string(ctx)) else { return nil }
                return .int(r ? 1 : 0)
            }
        case "pton":
            return Transform(name: op) { v, _ in
                guard let s = v.stringForm, let b = IPTransforms.pton(s) else { return nil }
                return .str(IPTransforms.packed(b))
            }
        case "ntop":
            return Transform(name: op) { v, _ in
                guard let s = v.stringForm, let t = IPTransforms.ntoa(IPTransforms.unpacked(s)) else { return nil }
                return .str(t)
            }
        case "family":
            return Transform(name: op) { v, _ in
                guard let s = v.stringForm else { return nil }
                switch IPTransforms.unpacked(s).count {
                case 4: return .str("INET")
                case 16: return .str("INET6")
                default: return nil
                }
            }
        case "resolve":
            return Transform(name: op) { v, _ in
                guard let s = v.stringForm, !s.isEmpty, s.utf8.count < 65536 else { return nil }
                return IPTransforms.resolve(s)
            }
        case "resolve4", "resolve6":
            let family = op.lowercased() == "resolve4" ? AF_INET : AF_INET6
            return Transform(name: op) { v, _ in
                guard let s = v.stringForm, !s.isEmpty, s.utf8.count < 65536 else { return nil }
                return IPTransforms.resolve(s, family: family)
            }
        default:
            throw PVResolveError("unknown transformation ip.\(op)")
        }
    }
}
