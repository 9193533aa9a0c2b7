// subst_uri and subst_user: the request-URI rewritten through $ru / $rU, as the script would (forward and t_relay
// send what it holds then).
import SwitchyardPluginKit

extension TextOps {
    /// subst_uri('/re/repl/flags'): the expression applied to the request-URI as the script has it so far; 1 when it
    /// matched (and the URI was set), -1 otherwise (no request-URI, no match, a result holding a CR, LF or NUL, a
    /// result the core refuses).
    /// subst_user: the same on the URI's user part (empty when the URI has none); the result becomes the user.
    func substURI(_ call: FunctionCall, userOnly: Bool) -> Int32 {
        let fn = userOnly ? "subst_user" : "subst_uri"
        guard let expr = subst(call, fn) else { return -1 }
        guard let ru = host.varString(call.context, v.ruri), !ru.isEmpty else { return -1 }
        let input = userOnly ? TextOps.user(of: ru) : ru
        guard let result = expr.apply(input) else { return -1 }
        // A line break (or NUL) would end the request line early and inject header lines: refused, one line logged.
        guard !result.utf8.contains(where: { $0 == 13 || $0 == 10 || $0 == 0 }) else {
            host.log(.err, "\(fn): the result holds a CR, LF or NUL: the request-URI is not changed")
            return -1
        }
        guard host.varSet(call.context, userOnly ? v.ruriUser : v.ruri, .string(result)) else {
            host.log(.err, "\(fn): cannot set the request-URI \(userOnly ? "user" : "") to '\(result)'")
            return -1
        }
        return 1
    }

    /// The user part of a URI (before '@', without a password); "" when it has none.
    static func user(of uri: String) -> String {
        guard let colon = uri.firstIndex(of: ":") else { return "" }
        let rest = uri[uri.index(after: colon)...]
        guard let at = rest.firstIndex(of: "@") else {
            // tel: is all user: the number up to its parameters.
            return uri.lowercased().hasPrefix("tel:") ? String(rest.prefix { $0 != ";" }) : ""
        }
        let userinfo = rest[..<at]
        return String(userinfo.prefix { $0 != ":" })
    }
}
