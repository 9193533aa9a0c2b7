/// A SIP URI split into the parts the request-URI pseudo-variables read and write
/// (`sip:user:password@host:port;params?headers`). Enough for $ru/$rU/$rd/$rp and `uri.*`;
/// the SIP message parser brings full RFC 3261 handling.
public struct SIPURI: Sendable, Equatable {
    public var scheme: String = "sip" { didSet { parsedText = nil } }
    public var user: String = "" { didSet { parsedText = nil } }
    public var password: String? = nil { didSet { parsedText = nil } }
    public var host: String = "" { didSet { parsedText = nil } }
    public var port: String = "" { didSet { parsedText = nil } }
    /// Everything after the first ';' up to '?', without the leading ';'.
    public var params: String = "" { didSet { parsedText = nil } }
    /// Everything after '?', without the '?'.
    public var headers: String = "" { didSet { parsedText = nil } }
    /// The text this URI was parsed from, until a part changes: reading `$ru` hands it back as it came (as OpenSIPS
    /// does) without reassembling seven strings on every read.
    private var parsedText: String? = nil

    public init() {}

    public static func == (a: SIPURI, b: SIPURI) -> Bool {
        a.scheme == b.scheme && a.user == b.user && a.password == b.password && a.host == b.host && a.port == b.port
            && a.params == b.params && a.headers == b.headers
    }

    /// Parses leniently; returns nil when there is no scheme. Works on UTF-8 bytes: setting `$ru`
    /// happens on every routed call, and Character-by-Character parsing cost microseconds.
    public init?(_ text: String) {
        var t = text
        guard let parsed = t.withUTF8({ SIPURI.parse($0) }) else { return nil }
        self = parsed
        parsedText = text
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> SIPURI? {
        @inline(__always) func str(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self) }
        let colon = UInt8(ascii: ":"), at = UInt8(ascii: "@"), semi = UInt8(ascii: ";"), q = UInt8(ascii: "?")
        guard let sc = b.firstIndex(of: colon), sc > 0 else { return nil }
        for i in 0..<sc {
            let c = b[i]
            let ok = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 43 || c == 45 || c == 46
            if !ok { return nil }
        }
        var u = SIPURI()
        u.scheme = str(0..<sc)
        var end = b.count
        if let qi = b[(sc + 1)...].firstIndex(of: q) {
            u.headers = str((qi + 1)..<b.count)
            end = qi
        }
        var hostStart = sc + 1
        if let ai = b[(sc + 1)..<end].lastIndex(of: at) {
            if let pc = b[(sc + 1)..<ai].firstIndex(of: colon) {
                u.user = str((sc + 1)..<pc)
                u.password = str((pc + 1)..<ai)
            } else {
                u.user = str((sc + 1)..<ai)
            }
            hostStart = ai + 1
        }
        var hostEnd = end
        if let si = b[hostStart..<end].firstIndex(of: semi) {
            u.params = str((si + 1)..<end)
            hostEnd = si
        }
        // host[:port], IPv6 in brackets
        if hostStart < hostEnd, b[hostStart] == UInt8(ascii: "["), let close = b[hostStart..<hostEnd].firstIndex(of: UInt8(ascii: "]")) {
            u.host = str(hostStart..<(close + 1))
            if close + 1 < hostEnd, b[close + 1] == colon { u.port = str((close + 2)..<hostEnd) }
        } else if let pc = b[hostStart..<hostEnd].lastIndex(of: colon) {
            u.host = str(hostStart..<pc)
            u.port = str((pc + 1)..<hostEnd)
        } else {
            u.host = str(hostStart..<hostEnd)
        }
        return u
    }

    public var text: String {
        if let t = parsedText { return t }
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
