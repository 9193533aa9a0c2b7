/// A string with `$pv` references (xlog formats, function string arguments), parsed once at
/// startup; `$$` is a literal dollar.
public final class FormatString: @unchecked Sendable {
    // Immutable after startup.
    enum Part {
        case text(String)
        case pv(ResolvedPV)
    }

    let parts: [Part]

    init(parts: [Part]) { self.parts = parts }

    /// The literal text when there is no variable in it.
    public var staticText: String? {
        if parts.isEmpty { return "" }
        if parts.count == 1, case .text(let t) = parts[0] { return t }
        return nil
    }

    public func render(_ ctx: ScriptContext) -> String {
        let n = parts.count
        if n == 1 {
            switch parts[0] {
            case .text(let t): return t
            case .pv(let pv): return pv.printed(ctx)
            }
        }
        if n == 0 { return "" }
        // Every piece first, then one string of the summed length: appending piece by piece grew (reallocated and
        // copied) the result a few times per render and went through String's generic append path for each piece.
        return withUnsafeTemporaryAllocation(of: String.self, capacity: n) { pieces in
            let base = pieces.baseAddress!
            var total = 0
            for i in 0..<n {
                let s: String
                switch parts[i] {
                case .text(let t): s = t
                case .pv(let pv): s = pv.printed(ctx)
                }
                total += s.utf8.count
                (base + i).initialize(to: s)
            }
            if total == 0 { base.deinitialize(count: n); return "" }
            // Each piece is moved out as it is copied: nothing is left to destroy afterwards.
            return String(unsafeUninitializedCapacity: total) { out in
                var at = 0
                for i in 0..<n {
                    var s = (base + i).move()
                    s.withUTF8 { u in
                        guard let from = u.baseAddress, u.count > 0 else { return }
                        (out.baseAddress! + at).initialize(from: from, count: u.count)
                        at += u.count
                    }
                }
                return at
            }
        }
    }

    /// Splits text into literal runs and resolved variables. `atRuntime`: parsed by a worker while serving (see
    /// ScriptEngine.resolvePV).
    static func parse(_ text: String, engine: ScriptEngine, atRuntime: Bool = false) throws(PVResolveError) -> FormatString {
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
                    parts.append(.pv(try engine.resolvePV(syntax, text: String(chars[start..<i]), atRuntime: atRuntime)))
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
