// Startup checks of literal arguments (OpenSIPS's fixups): a bad expression stops startup with the place of the
// argument instead of failing each time the route runs.
import SwitchyardPluginKit

extension TextOps {
    /// A literal regex argument (the first) must compile as the handlers compile it.
    static let checkRegex: FunctionFixupCheck = { args in
        guard let pattern = args[0].constantString, let reason = Regex.error(pattern) else { return }
        throw FixupError(argument: 0, "bad regular expression '\(pattern)': \(reason)")
    }

    /// A literal subst expression must parse.
    static let checkSubst: FunctionFixupCheck = { args in
        guard let spec = args[0].constantString else { return }
        if case .failure(let e) = SubstExpr.parse(spec) {
            throw FixupError(argument: 0, "bad subst expression '\(spec)': \(e)")
        }
    }
}
