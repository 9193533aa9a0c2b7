// POSIX regular expressions over message bytes, as OpenSIPS compiles a textops regex parameter (extended,
// case-insensitive, newline-sensitive: `^` and `$` match at line ends, `.` does not cross a line).
#if canImport(Glibc)
import Glibc
#endif

/// A compiled expression. Owned by one call (compiled from the argument each time: arguments may hold variables).
final class Regex {
    // regcomp's state lives in the object; freed in deinit.
    private var re = regex_t()
    let groups: Int

    init?(_ pattern: String, flags: Int32 = REG_EXTENDED | REG_ICASE | REG_NEWLINE) {
        guard regcomp(&re, pattern, flags) == 0 else { return nil }
        groups = Int(re.re_nsub)
    }

    deinit { regfree(&re) }

    /// The first match in `text[from...]`: group ranges (offsets into text; nil for a group that took no part).
    /// `notBOL`: `from` is not the start of a line (the previous byte is no line end), as OpenSIPS's loops pass.
    func firstMatch(_ text: [CChar], from: Int, notBOL: Bool = false) -> [Range<Int>?]? {
        var m = [regmatch_t](repeating: regmatch_t(), count: min(groups, 9) + 1)
        let rc = text.withUnsafeBufferPointer { b in
            regexec(&re, b.baseAddress! + from, m.count, &m, notBOL ? REG_NOTBOL : 0)
        }
        guard rc == 0 else { return nil }
        return m.map { $0.rm_so < 0 ? nil : (from + Int($0.rm_so))..<(from + Int($0.rm_eo)) }
    }

    /// True when the expression matches anywhere in `text`.
    func matches(_ text: String) -> Bool { firstMatch(Regex.cString(text), from: 0) != nil }

    /// A NUL-terminated copy of text's bytes (regexec stops at the first NUL, as in OpenSIPS).
    static func cString(_ text: String) -> [CChar] { text.utf8.map { CChar(bitPattern: $0) } + [0] }

    /// The compile error of a pattern, for startup checks; nil when it compiles.
    static func error(_ pattern: String, flags: Int32 = REG_EXTENDED | REG_ICASE | REG_NEWLINE) -> String? {
        var re = regex_t()
        let rc = regcomp(&re, pattern, flags)
        if rc == 0 { regfree(&re); return nil }
        var buf = [CChar](repeating: 0, count: 256)
        regerror(rc, &re, &buf, buf.count)
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// One replacement to make in a text: the bytes at `range` become `text`.
struct TextEdit: Equatable {
    let range: Range<Int>
    let text: [UInt8]
}

extension Array where Element == UInt8 {
    /// The bytes with non-overlapping edits (sorted by position) applied.
    func applying(_ edits: [TextEdit]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var pos = 0
        for e in edits {
            out += self[pos..<e.range.lowerBound]
            out += e.text
            pos = e.range.upperBound
        }
        out += self[pos...]
        return out
    }
}
