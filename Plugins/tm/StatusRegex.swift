// t_check_status's regular expressions, compiled once per pattern text (a script literal is the same text at every
// call) instead of at each call.
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

final class StatusRegex: @unchecked Sendable {
    // `re` is written once by regcomp in init and then only read by regexec, which glibc allows from several
    // threads at once on one compiled expression (it takes the expression's own lock); freed in deinit, when the
    // last user lets go (cached ones live as long as the process).
    private let re: UnsafeMutablePointer<regex_t>

    private init?(_ pattern: String) {
        re = .allocate(capacity: 1)
        guard regcomp(re, pattern, REG_EXTENDED | REG_NOSUB) == 0 else {
            re.deallocate()
            return nil
        }
    }

    func matches(_ text: String) -> Bool { regexec(re, text, 0, nil, 0) == 0 }

    /// Patterns compiled so far; bounded, so patterns made from variables cannot grow it for ever.
    private static let cache = Mutex<[String: StatusRegex]>([:])
    static let limit = 256

    /// The compiled pattern (nil when it is not a valid extended regular expression).
    static func compiled(_ pattern: String) -> StatusRegex? {
        if let hit = cache.withLock({ $0[pattern] }) { return hit }
        guard let re = StatusRegex(pattern) else { return nil }
        cache.withLock { if $0.count < limit { $0[pattern] = re } }
        return re
    }

    deinit {
        regfree(re)
        re.deallocate()
    }
}
