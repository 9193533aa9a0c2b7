/// A SIP URI split into the parts the request-URI pseudo-variables read and write
/// (`sip:user:password@host:port;params?headers`). Enough for $ru/$rU/$rd/$rp and `uri.*`;
/// the SIP message parser brings full RFC 3261 handling.
public struct SIPURI: Sendable, Equatable {
    /// The parts, as byte ranges of the text a URI was parsed from (no string is made until a part is read), or as
    /// strings once the script edits one. Setting `$ru` happens on every routed call: parsing into seven strings
    /// cost more than the rest of the assignment.
    private enum Storage: Sendable {
        case parsed(text: String, ranges: Ranges)
        case parts(Parts)
    }

    struct Ranges: Sendable {
        var scheme = 0..<0, user = 0..<0, password: Range<Int>? = nil, host = 0..<0, port = 0..<0, params = 0..<0
        var headers = 0..<0
    }

    struct Parts: Sendable {
        var scheme = "sip", user = "", password: String? = nil, host = "", port = "", params = "", headers = ""
    }

    private var storage: Storage = .parts(Parts())

    public init() {}

    private func slice(_ text: String, _ r: Range<Int>) -> String {
        if r.isEmpty { return "" }
        var t = text
        return t.withUTF8 { String(decoding: UnsafeBufferPointer(rebasing: $0[r]), as: UTF8.self) }
    }

    private func get<T>(_ parsed: (String, Ranges) -> T, _ part: (Parts) -> T) -> T {
        switch storage {
        case .parsed(let text, let r): return parsed(text, r)
        case .parts(let p): return part(p)
        }
    }

    /// Switches to string parts (once) and applies an edit.
    private mutating func edit(_ change: (inout Parts) -> Void) {
        var p: Parts
        switch storage {
        case .parts(let existing): p = existing
        case .parsed(let text, let r):
            p = Parts(scheme: slice(text, r.scheme), user: slice(text, r.user), password: r.password.map { slice(text, $0) },
                      host: slice(text, r.host), port: slice(text, r.port), params: slice(text, r.params),
                      headers: slice(text, r.headers))
        }
        change(&p)
        storage = .parts(p)
    }

    public var scheme: String {
        get { get({ slice($0, $1.scheme) }, { $0.scheme }) }
        set { edit { $0.scheme = newValue } }
    }
    public var user: String {
        get { get({ slice($0, $1.user) }, { $0.user }) }
        set { edit { $0.user = newValue } }
    }
    public var password: String? {
        get { get({ t, r in r.password.map { slice(t, $0) } }, { $0.password }) }
        set { edit { $0.password = newValue } }
    }
    public var host: String {
        get { get({ slice($0, $1.host) }, { $0.host }) }
        set { edit { $0.host = newValue } }
    }
    public var port: String {
        get { get({ slice($0, $1.port) }, { $0.port }) }
        set { edit { $0.port = newValue } }
    }
    /// Everything after the first ';' up to '?', without the leading ';'.
    public var params: String {
        get { get({ slice($0, $1.params) }, { $0.params }) }
        set { edit { $0.params = newValue } }
    }
    /// Everything after '?', without the '?'.
    public var headers: String {
        get { get({ slice($0, $1.headers) }, { $0.headers }) }
        set { edit { $0.headers = newValue } }
    }

    public static func == (a: SIPURI, b: SIPURI) -> Bool {
        a.scheme == b.scheme && a.user == b.user && a.password == b.password && a.host == b.host && a.port == b.port
            && a.params == b.params && a.headers == b.headers
    }

    /// Parses leniently; returns nil when there is no scheme. Works on UTF-8 bytes, and keeps the text: reading `$ru`
    /// hands it back as it came (as OpenSIPS does).
    public init?(_ text: String) {
        var t = text
        guard let r = t.withUTF8({ SIPURI.parse($0) }) else { return nil }
        storage = .parsed(text: t, ranges: r)
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> Ranges? {
        let colon = UInt8(ascii: ":"), at = UInt8(ascii: "@"), semi = UInt8(ascii: ";"), q = UInt8(ascii: "?")
        guard let sc = b.firstIndex(of: colon), sc > 0 else { return nil }
        for i in 0..<sc {
            let c = b[i]
            let ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 43 || c == 45 || c == 46
            if !ok { return nil }
        }
        var u = Ranges()
        u.scheme = 0..<sc
        var end = b.count
        if let qi = b[(sc + 1)...].firstIndex(of: q) {
            u.headers = (qi + 1)..<b.count
            end = qi
        }
        var hostStart = sc + 1
        if let ai = b[(sc + 1)..<end].lastIndex(of: at) {
            if let pc = b[(sc + 1)..<ai].firstIndex(of: colon) {
                u.user = (sc + 1)..<pc
                u.password = (pc + 1)..<ai
            } else {
                u.user = (sc + 1)..<ai
            }
            hostStart = ai + 1
        }
        var hostEnd = end
        if let si = b[hostStart..<end].firstIndex(of: semi) {
            u.params = (si + 1)..<end
            hostEnd = si
        }
        // host[:port], IPv6 in brackets
        if hostStart < hostEnd, b[hostStart] == UInt8(ascii: "["), let close = b[hostStart..<hostEnd].firstIndex(of: UInt8(ascii: "]")) {
            u.host = hostStart..<(close + 1)
            if close + 1 < hostEnd, b[close + 1] == colon { u.port = (close + 2)..<hostEnd }
        } else if let pc = b[hostStart..<hostEnd].lastIndex(of: colon) {
            u.host = hostStart..<pc
            u.port = (pc + 1)..<hostEnd
        } else {
            u.host = hostStart..<hostEnd
        }
        return u
    }

    public var text: String {
        if case .parsed(let t, _) = storage { return t }
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

    /// The port a URI without one means: 5061 for sips: or transport=tls, else 5060 (what `$rp` and `$op` read then).
    public var defaultPort: Int {
        scheme.lowercased() == "sips" || param("transport")?.lowercased() == "tls" ? 5061 : 5060
    }

    /// The transport of a URI without a transport parameter: tls for sips: and tels:, else udp (what `$rP` and `$oP`
    /// read then).
    public var defaultTransport: String {
        let s = scheme.lowercased()
        return s == "sips" || s == "tels" ? "tls" : "udp"
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
