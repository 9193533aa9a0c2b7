// POSIX regular expressions over message bytes, as OpenSIPS compiles a textops regex parameter (extended,
// case-insensitive, newline-sensitive: `^` and `$` match at line ends, `.` does not cross a line).
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A compiled expression, shared by every worker through `RegexCache`.
// @unchecked Sendable: the regex_t is written only by regcomp in init and freed in deinit; in between it is only read
// by regexec, which glibc documents as thread-safe on one compiled pattern (it keeps its match state per call).
final class POSIXRegex: @unchecked Sendable {
    private let re: UnsafeMutablePointer<regex_t>
    let groups: Int

    init?(_ pattern: String, flags: Int32 = REG_EXTENDED | REG_ICASE | REG_NEWLINE) {
        re = .allocate(capacity: 1)
        re.initialize(to: regex_t())
        guard regcomp(re, pattern, flags) == 0 else { re.deallocate(); return nil }
        groups = Int(re.pointee.re_nsub)
    }

    deinit {
        regfree(re)
        re.deallocate()
    }

    /// The first match in `text[from...]` (`text` NUL-terminated): group ranges (offsets into text; nil for a group
    /// that took no part). `notBOL`: `from` is not the start of a line (the previous byte is no line end), as
    /// OpenSIPS's loops pass.
    func firstMatch(_ text: UnsafeBufferPointer<CChar>, from: Int, notBOL: Bool = false) -> [Range<Int>?]? {
        var m = [regmatch_t](repeating: regmatch_t(), count: min(groups, 9) + 1)
        guard regexec(re, text.baseAddress! + from, m.count, &m, notBOL ? REG_NOTBOL : 0) == 0 else { return nil }
        return m.map { $0.rm_so < 0 ? nil : (from + Int($0.rm_so))..<(from + Int($0.rm_eo)) }
    }

    /// True when the expression matches anywhere in `text` (up to its first NUL, as in OpenSIPS).
    func matches(_ text: String) -> Bool {
        var t = text
        return t.withUTF8 { u in POSIXRegex.withCString(u) { firstMatch($0, from: 0) != nil } }
    }

    /// Calls `body` with a NUL-terminated copy of `bytes` (regexec stops at the first NUL, as in OpenSIPS).
    static func withCString<R>(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<CChar>) -> R) -> R {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { buf in
            bytes.withMemoryRebound(to: CChar.self) { src in
                _ = buf.initialize(fromContentsOf: src)
            }
            buf[bytes.count] = 0
            return body(UnsafeBufferPointer(buf))
        }
    }

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

/// Compiled expressions and parsed subst expressions by their text, so a call never compiles: literal arguments are
/// compiled by the startup checks and kept for the process's life; those built from variables at run time are kept
/// too, up to `dynamicLimit` (then the run-time ones are dropped and compiled again on use).
final class RegexCache: Sendable {
    private struct Entries {
        var literal: [String: POSIXRegex] = [:]
        var dynamic: [String: POSIXRegex] = [:]
        var literalSubst: [String: SubstExpr] = [:]
        var dynamicSubst: [String: SubstExpr] = [:]
    }
    private let entries = Mutex(Entries())
    static let dynamicLimit = 256

    /// The expression of a regex parameter; nil when it does not compile.
    func regex(_ pattern: String, literal: Bool = false) -> POSIXRegex? {
        if let r = entries.withLock({ $0.literal[pattern] ?? $0.dynamic[pattern] }) { return r }
        guard let r = POSIXRegex(pattern) else { return nil }
        entries.withLock { e in
            if literal { e.literal[pattern] = r; return }
            if e.dynamic.count >= RegexCache.dynamicLimit { e.dynamic.removeAll(keepingCapacity: true) }
            e.dynamic[pattern] = r
        }
        return r
    }

    /// A subst expression parsed; the reason when it is not one.
    func subst(_ spec: String, literal: Bool = false) -> Result<SubstExpr, SubstError> {
        if let s = entries.withLock({ $0.literalSubst[spec] ?? $0.dynamicSubst[spec] }) { return .success(s) }
        let parsed = SubstExpr.parse(spec)
        if case .success(let s) = parsed {
            entries.withLock { e in
                if literal { e.literalSubst[spec] = s; return }
                if e.dynamicSubst.count >= RegexCache.dynamicLimit { e.dynamicSubst.removeAll(keepingCapacity: true) }
                e.dynamicSubst[spec] = s
            }
        }
        return parsed
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
