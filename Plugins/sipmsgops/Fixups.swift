// Startup checks of literal arguments (OpenSIPS's fixups): a bad remove_hf_re expression or an unknown is_privacy
// value stops startup with the place of the argument instead of failing each time the route runs.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardPluginKit

extension SipMsgOps {
    /// remove_hf_re: a literal must compile as the handler compiles it (POSIX extended, case-insensitive).
    static let checkRegex: FunctionFixupCheck = { args in
        guard let pattern = args[0].constantString else { return }
        var re = regex_t()
        let rc = regcomp(&re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB)
        if rc == 0 { regfree(&re); return }
        var buf = [CChar](repeating: 0, count: 256)
        regerror(rc, &re, &buf, buf.count)
        let reason = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw FixupError(argument: 0, "bad regular expression '\(pattern)': \(reason)")
    }

    /// is_privacy: a literal must be one of the privacy values.
    static let checkPrivacy: FunctionFixupCheck = { args in
        guard let value = args[0].constantString, !privacyValues.contains(Substring(value)) else { return }
        throw FixupError(argument: 0, "'\(value)' is not a privacy value (header, session, user, none, critical, id, history)")
    }
}
