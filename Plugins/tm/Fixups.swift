// Startup checks of literal arguments (OpenSIPS's fixups): t_relay flag names, t_on_* route names, t_reply codes and
// t_write_* append names stop startup with the place of the argument instead of failing when the route runs.
import SwitchyardPluginKit

extension TMModule {
    /// t_relay(flags?, ...): every name of a literal flag list must be known.
    static let checkRelayFlags: FunctionFixupCheck = { args in
        guard let text = args[0].constantString, RelayFlags(text) == nil else { return }
        throw FixupError(argument: 0, "unknown flag in '\(text)' (no-auto-477, no-dns-failover, pass-reason-hdr, allow-no-cancel)")
    }

    /// t_reply / t_reply_with_body: a literal code must be 100..699.
    static let checkReplyCode: FunctionFixupCheck = { args in
        guard let code = args[0].constantInt, !(100...699).contains(code) else { return }
        throw FixupError(argument: 0, "bad code \(code) (100..699)")
    }

    /// t_local_replied: a literal mode must start with all, branch or last.
    static let checkLocalReplied: FunctionFixupCheck = { args in
        guard let text = args[0].constantString, TM.LocalRepliedMode(text) == nil else { return }
        throw FixupError(argument: 0, "invalid param \"\(text)\" (all, branch, last)")
    }

    /// t_cancel_branch: literal flags are letters a and o only.
    static let checkCancelBranch: FunctionFixupCheck = { args in
        guard args.count > 0, let text = args[0].constantString, CancelBranchFlags(text) == nil else { return }
        throw FixupError(argument: 0, "unsupported flag in '\(text)' (a, o)")
    }

    /// t_on_failure / t_on_reply / t_on_branch: a literal name must be a route of that kind in the script.
    func checkRoute(_ kind: RouteMask, _ section: String) -> FunctionFixupCheck {
        { [self] args in
            guard let name = args[0].constantString, host.routeFind(kind, name) == nil else { return }
            throw FixupError(argument: 0, "no \(section)[\(name)] in the script")
        }
    }

    /// t_write_req / t_write_unix: a literal "action/append" must name a tw_append list.
    var checkAppendName: FunctionFixupCheck {
        { [self] args in
            guard let info = args[0].constantString, let slash = info.firstIndex(of: "/") else { return }
            let name = info[info.index(after: slash)...]
            if info[..<slash].isEmpty { throw FixupError(argument: 0, "empty action name in '\(info)'") }
            if name.isEmpty { throw FixupError(argument: 0, "empty append name in '\(info)'") }
            if config.twrite.appends.find(name) == nil {
                throw FixupError(argument: 0, "unknown append name <\(name)> (no such tw_append)")
            }
        }
    }
}
