#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A POSIX extended regular expression, case-insensitive and newline-aware, as OpenSIPS compiles
/// `=~` patterns. glibc's regexec is safe to call from several threads on one compiled regex.
final class POSIXRegex: @unchecked Sendable {
    private var re = regex_t()

    struct CompileError: Error { let message: String }

    init(_ pattern: String) throws {
        let rc = regcomp(&re, pattern, REG_EXTENDED | REG_ICASE | REG_NEWLINE | REG_NOSUB)
        if rc != 0 {
            var buf = [CChar](repeating: 0, count: 256)
            regerror(rc, &re, &buf, buf.count)
            throw CompileError(message: ABIReader.text(buf))
        }
    }

    deinit { regfree(&re) }

    func matches(_ s: String) -> Bool {
        regexec(&re, s, 0, nil, 0) == 0
    }
}
