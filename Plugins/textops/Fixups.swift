// Startup checks of literal arguments (OpenSIPS's fixups): a bad expression stops startup with the place of the
// argument instead of failing each time the route runs. A good one is compiled here, once, and kept for the calls.
import SwitchyardPluginKit

extension TextOps {
    /// A literal regex argument (the first) must compile as the handlers compile it.
    var checkRegex: FunctionFixupCheck {
        { [cache] args in
            guard let pattern = args[0].constantString, cache.regex(pattern, literal: true) == nil else { return }
            throw FixupError(argument: 0, "bad regular expression '\(pattern)': \(POSIXRegex.error(pattern) ?? "?")")
        }
    }

    /// A literal subst expression must parse.
    var checkSubst: FunctionFixupCheck {
        { [cache] args in
            guard let spec = args[0].constantString else { return }
            if case .failure(let e) = cache.subst(spec, literal: true) {
                throw FixupError(argument: 0, "bad subst expression '\(spec)': \(e)")
            }
        }
    }
}
