// `labels` rules: "group: /regex/substitution/flags" turns a statistic's name within a group into a metric name plus
// labels ("name:key=\"value\",..."), as OpenSIPS's prometheus module does with its sed-like substitutions.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardPluginKit

final class LabelRule: @unchecked Sendable { // the compiled regex is only read (regexec is thread-safe on it)
    let group: String
    private var re = regex_t()
    private let replacement: String

    /// Parses "group: /re/subst/flags" (any delimiter character after the first space-trimmed slash position; flags
    /// `i` = case-insensitive, `g` accepted). Throws with a reason.
    init(_ text: String) throws(PluginError) {
        guard let colon = text.firstIndex(of: ":") else { throw PluginError("'\(text)': expected \"group: /regex/substitution/\"") }
        group = text[..<colon].trimmingCharacters(in: " \t").lowercased()
        let expr = Array(text[text.index(after: colon)...].trimmingCharacters(in: " \t"))
        guard !group.isEmpty, let delim = expr.first else { throw PluginError("'\(text)': expected \"group: /regex/substitution/\"") }
        var parts: [String] = [], current = "", i = 1
        while i < expr.count {
            let c = expr[i]
            if c == "\\", i + 1 < expr.count, expr[i + 1] == delim { current.append(delim); i += 2; continue }
            if c == delim { parts.append(current); current = "" } else { current.append(c) }
            i += 1
        }
        guard parts.count == 2 else { throw PluginError("'\(text)': expected \"group: /regex/substitution/flags\"") }
        let flags = current
        guard flags.allSatisfy({ $0 == "i" || $0 == "g" }) else { throw PluginError("'\(text)': unknown flags '\(flags)' (i, g)") }
        replacement = parts[1]
        let rc = regcomp(&re, parts[0], REG_EXTENDED | (flags.contains("i") ? REG_ICASE : 0))
        if rc != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            regerror(rc, &re, &buf, buf.count)
            throw PluginError("'\(text)': bad regular expression: \(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
    }

    deinit { regfree(&re) }

    /// The statistic's metric name and labels, or nil when the name does not match or the result is not
    /// "name:labels" with both parts non-empty.
    func apply(_ name: String) -> (name: String, labels: String)? {
        var m = [regmatch_t](repeating: regmatch_t(), count: 10)
        let bytes = Array(name.utf8)
        guard regexec(&re, name, m.count, &m, 0) == 0 else { return nil }
        func group(_ n: Int) -> String {
            guard n < m.count, m[n].rm_so >= 0 else { return "" }
            return String(decoding: bytes[Int(m[n].rm_so)..<Int(m[n].rm_eo)], as: UTF8.self)
        }
        var out = String(decoding: bytes[0..<Int(m[0].rm_so)], as: UTF8.self)
        var chars = Array(replacement)[...]
        while let c = chars.popFirst() {
            if c == "\\", let d = chars.first, let n = d.wholeNumberValue { chars.removeFirst(); out += group(n) }
            else if c == "\\", let d = chars.first { chars.removeFirst(); out.append(d) }
            else { out.append(c) }
        }
        out += String(decoding: bytes[Int(m[0].rm_eo)...], as: UTF8.self)
        guard let colon = out.firstIndex(of: ":") else { return nil }
        let metric = String(out[..<colon]), labels = String(out[out.index(after: colon)...])
        guard !metric.isEmpty, !labels.isEmpty else { return nil }
        return (metric, labels)
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return s
    }
}
