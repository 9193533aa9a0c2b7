// Request-URI functions: ruri_has_param, ruri_add_param, ruri_del_param, ruri_tel2sip, is_uri_user_e164. They work
// on $ru as the script has it so far (a change is what forward/t_relay sends).
import SwitchyardPluginKit

/// The parts of a URI the functions need: where its parameters are, and its user.
struct URIParts {
    let text: Substring
    /// The ";a=1;b" section after the host (with its leading ';'), before any '?'; empty when there is none.
    let params: Range<String.Index>
    /// Where the '?' of the headers is (end of text when there are none).
    let headersStart: String.Index
    let user: Substring

    init?(_ uri: String) {
        let t = uri[...]
        guard let colon = t.firstIndex(of: ":") else { return nil }
        let afterScheme = t.index(after: colon)
        let headersStart = t[afterScheme...].firstIndex(of: "?") ?? t.endIndex
        let body = t[afterScheme..<headersStart]
        // The user part may hold ';' (user parameters); the host part starts after the '@' when there is one.
        let at = body.firstIndex(of: "@")
        let hostStart = at.map { t.index(after: $0) } ?? afterScheme
        // A tel: URI is all user: the number up to its parameters.
        let isTel = Text.equalFold(t[..<colon], "tel")
        user = at.map { body[afterScheme..<$0] } ?? (isTel ? body[afterScheme..<(body.firstIndex(of: ";") ?? body.endIndex)] : "")
        let paramStart = t[hostStart..<headersStart].firstIndex(of: ";") ?? headersStart
        params = paramStart..<headersStart
        self.headersStart = headersStart
        text = t
    }

    /// The user without a password (user:password).
    var userOnly: Substring { user.firstIndex(of: ":").map { user[..<$0] } ?? user }

    /// Each parameter: its whole range (with the leading ';'), name and value (nil when it has no '=').
    var parameters: [(range: Range<String.Index>, name: Substring, value: Substring?)] {
        var out: [(Range<String.Index>, Substring, Substring?)] = []
        var i = params.lowerBound
        while i < params.upperBound {
            let start = i
            let from = text.index(after: i)
            let end = text[from..<params.upperBound].firstIndex(of: ";") ?? params.upperBound
            let token = text[from..<end]
            if let eq = token.firstIndex(of: "=") {
                out.append((start..<end, token[..<eq], token[token.index(after: eq)...]))
            } else {
                out.append((start..<end, token, nil))
            }
            i = end
        }
        return out
    }
}

extension SipMsgOps {
    func requestURI(_ call: FunctionCall, _ fn: String) -> (String, URIParts)? {
        guard let ru = host.varString(call.context, v.ruri), let parts = URIParts(ru) else {
            host.log(.err, "\(fn): the request-URI cannot be parsed")
            return nil
        }
        return (ru, parts)
    }

    func setRequestURI(_ call: FunctionCall, _ uri: String, _ fn: String) -> Int32 {
        guard host.varSet(call.context, v.ruri, .string(uri)) else {
            host.log(.err, "\(fn): cannot set the request-URI to '\(uri)'")
            return -1
        }
        return 1
    }

    /// ruri_has_param(param[, value]): 1 when the first parameter of that name (case-sensitive) has exactly that
    /// value, or, with no value given, has none. -1 otherwise.
    func ruriHasParam(_ call: FunctionCall) -> Int32 {
        guard let (_, u) = requestURI(call, "ruri_has_param") else { return -1 }
        let name = call.string(0)
        let value: String? = call.isPresent(1) ? call.string(1) : nil
        guard let p = u.parameters.first(where: { $0.name == name }) else { return -1 }
        if let value { return (p.value ?? "") == value ? 1 : -1 }
        return (p.value ?? "").isEmpty ? 1 : -1
    }

    /// ruri_add_param(param): ";param" ("name" or "name=value") added after the URI's parameters. 1 done (also for
    /// an empty param), -1 error.
    func ruriAddParam(_ call: FunctionCall) -> Int32 {
        let param = call.string(0)
        if param.isEmpty { return 1 }
        guard let (ru, u) = requestURI(call, "ruri_add_param") else { return -1 }
        let new = String(ru[..<u.headersStart]) + ";" + param + String(ru[u.headersStart...])
        return setRequestURI(call, new, "ruri_add_param")
    }

    /// ruri_del_param(param): the first parameter of that name (case-sensitive) removed. 1 removed (or empty name),
    /// -1 not found.
    func ruriDelParam(_ call: FunctionCall) -> Int32 {
        let name = call.string(0)
        if name.isEmpty { return 1 }
        guard let (ru, u) = requestURI(call, "ruri_del_param") else { return -1 }
        guard let p = u.parameters.first(where: { $0.name == name }) else { return -1 }
        var new = ru
        new.removeSubrange(p.range)
        return setRequestURI(call, new, "ruri_del_param")
    }

    /// ruri_tel2sip(): a tel: request-URI becomes sip:NUMBER@<From host>;user=phone. 1 converted or nothing to do,
    /// -1 error.
    func ruriTel2Sip(_ call: FunctionCall) -> Int32 {
        guard let ru = host.varString(call.context, v.ruri) else { return -1 }
        guard ru.utf8.count >= 4, Text.equalFold(ru.prefix(4), "tel:") else { return 1 }
        guard let host = host.varString(call.context, v.fromHost), !host.isEmpty else {
            self.host.log(.err, "ruri_tel2sip: the From URI has no host")
            return -1
        }
        return setRequestURI(call, "sip:" + ru.dropFirst(4) + "@" + host + ";user=phone", "ruri_tel2sip")
    }

    /// is_uri_user_e164(uri): 1 when the URI's user is '+' and 2 to 15 digits, -1 otherwise (also for what is not a
    /// sip:, sips:, tel: or tels: URI, such as mailto: or a name-addr "<sip:...>", which OpenSIPS's parse_uri refuses).
    func isURIUserE164(_ call: FunctionCall) -> Int32 {
        let uri = call.string(0)
        guard let colon = uri.firstIndex(of: ":"), SipMsgOps.e164Schemes.contains(uri[..<colon].lowercased()),
              let u = URIParts(uri) else { return -1 }
        return SipMsgOps.isE164(u.userOnly) ? 1 : -1
    }

    static let e164Schemes: Set<String> = ["sip", "sips", "tel", "tels"]

    static func isE164(_ user: Substring) -> Bool {
        let b = Array(user.utf8)
        guard b.count > 2, b.count < 17, b[0] == UInt8(ascii: "+") else { return false }
        return b.dropFirst().allSatisfy { $0 >= 48 && $0 <= 57 }
    }
}
