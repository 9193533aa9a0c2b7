/// A string with `$pv` references (xlog formats, function string arguments), parsed once at
/// startup; `$$` is a literal dollar.
public final class FormatString: @unchecked Sendable {
    // Immutable after startup.
    enum Part {
        case text(String)
        case pv(ResolvedPV)
    }

    let parts: [Part]
    /// Bytes to reserve before rendering: the literal text plus a guess per variable, so that the usual result is
    /// built in one allocation instead of growing (and copying) once or twice per render.
    private let capacityHint: Int

    init(parts: [Part]) {
        self.parts = parts
        capacityHint = parts.reduce(0) { n, p in
            switch p {
            case .text(let t): return n + t.utf8.count
            case .pv: return n + 40
            }
        }
    }

    /// The literal text when there is no variable in it.
    public var staticText: String? {
        if parts.isEmpty { return "" }
        if parts.count == 1, case .text(let t) = parts[0] { return t }
        return nil
    }

    public func render(_ ctx: ScriptContext) -> String {
        if parts.count == 1 {
            switch parts[0] {
            case .text(let t): return t
            case .pv(let pv): return pv.get(ctx).printed
            }
        }
        var out = ""
        out.reserveCapacity(capacityHint)
        for p in parts {
            switch p {
            case .text(let t): out += t
            case .pv(let pv): out += pv.get(ctx).printed
            }
        }
        return out
    }

    /// Splits text into literal runs and resolved variables.
    static func parse(_ text: String, engine: ScriptEngine) throws(PVResolveError) -> FormatString {
        let chars = Array(text)
        var parts: [Part] = []
        var lit = ""
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "$" {
                if i + 1 < chars.count, chars[i + 1] == "$" {
                    lit.append("$")
                    i += 2
                    continue
                }
                if i + 1 < chars.count, chars[i + 1] == "(" || PVSyntaxParser.isNameChar(chars[i + 1]) {
                    let start = i
                    let syntax: PVSyntax
                    do {
                        (syntax, _) = try PVSyntaxParser.parse(chars, &i)
                    } catch {
                        throw PVResolveError(error.message)
                    }
                    if !lit.isEmpty { parts.append(.text(lit)); lit = "" }
                    parts.append(.pv(try engine.resolvePV(syntax, text: String(chars[start..<i]))))
                    continue
                }
            }
            lit.append(c)
            i += 1
        }
        if !lit.isEmpty { parts.append(.text(lit)) }
        return FormatString(parts: parts)
    }
}
