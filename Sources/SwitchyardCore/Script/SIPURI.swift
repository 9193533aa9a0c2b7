/// A SIP URI split into the parts the request-URI pseudo-variables read and write
/// (`sip:user:password@host:port;params?headers`). Enough for $ru/$rU/$rd/$rp and `uri.*`;
/// the SIP message parser brings full RFC 3261 handling.
public struct SIPURI: Sendable, Equatable {
    public var scheme: String = "sip"
    public var user: String = ""
    public var password: String? = nil
    public var host: String = ""
    public var port: String = ""
    /// Everything after the first ';' up to '?', without the leading ';'.
    public var params: String = ""
    /// Everything after '?', without the '?'.
    public var headers: String = ""

    public init() {}

    /// Parses leniently; returns nil when there is no scheme.
    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":") else { return nil }
        scheme = String(text[..<colon])
        guard !scheme.isEmpty, scheme.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." }) else { return nil }
        var rest = Substring(text[text.index(after: colon)...])
        if let q = rest.firstIndex(of: "?") {
            headers = String(rest[rest.index(after: q)...])
            rest = rest[..<q]
        }
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let pc = userinfo.firstIndex(of: ":") {
                user = String(userinfo[..<pc])
                password = String(userinfo[userinfo.index(after: pc)...])
            } else {
                user = String(userinfo)
            }
        }
        if let semi = rest.firstIndex(of: ";") {
            params = String(rest[rest.index(after: semi)...])
            rest = rest[..<semi]
        }
        // host[:port], IPv6 in brackets
        if rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
            host = String(rest[...close])
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { port = String(after.dropFirst()) }
        } else if let pc = rest.lastIndex(of: ":") {
            host = String(rest[..<pc])
            port = String(rest[rest.index(after: pc)...])
        } else {
            host = String(rest)
        }
    }

    public var text: String {
        var s = scheme + ":"
        if !user.isEmpty || password != nil {
            s += user
            if let p = password { s += ":" + p }
            if !host.isEmpty { s += "@" }
        }
        s += host
        if !port.isEmpty { s += ":" + port }
        if !params.isEmpty { s += ";" + params }
        if !headers.isEmpty { s += "?" + headers }
        return s
    }

    /// Value of one `;name=value` parameter ("" for a flag parameter), nil if absent.
    public func param(_ name: String) -> String? {
        for p in params.split(separator: ";") {
            let kv = p.split(separator: "=", maxSplits: 1)
            if kv.first.map({ $0.lowercased() == name.lowercased() }) ?? false {
                return kv.count > 1 ? String(kv[1]) : ""
            }
        }
        return nil
    }
}
