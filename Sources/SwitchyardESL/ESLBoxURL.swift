// ESL URLs: [fs://][[user]:password@]host[:port][/...][?EV1[,EV2...]]. One parser for the module that connects and
// the modules that only check a URL at configuration time (so `-c` refuses what startup would refuse).

/// A parsed ESL URL. `description` never shows the password.
public struct ESLBoxURL: Sendable, Equatable, CustomStringConvertible {
    public var user: String?
    public var password: String?
    public var host: String
    /// 0 when the URL gave no port (then 8021 applies, or "any port" for a bare-host lookup).
    public var explicitPort: UInt16
    public var events: [String]

    public static let defaultPort: UInt16 = 8021

    public var port: UInt16 { explicitPort == 0 ? ESLBoxURL.defaultPort : explicitPort }
    public var description: String { "\(host):\(port)" }

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `text`. The scheme (anything before `://`) is ignored; userinfo ends at the LAST `@` (OpenSIPS: the
    /// first, which makes `user@domain` for userauth impossible); the first `:` inside it splits user and password
    /// (`fs://1000@default:pw@fs1` = user `1000@default`); `user@host` (no colon) is a user without password.
    public static func parse(_ text: String) throws(ParseError) -> ESLBoxURL {
        // A bare host (an event's `sender`, what freeswitch_esl usually gets): nothing to split.
        if !text.isEmpty && !text.utf8.contains(where: { c in
            c == UInt8(ascii: ":") || c == UInt8(ascii: "@") || c == UInt8(ascii: "?") || c == UInt8(ascii: "/")
                || c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") || c == UInt8(ascii: "\n")
        }) {
            return ESLBoxURL(user: nil, password: nil, host: text, explicitPort: 0, events: [])
        }
        var s = trimmed(Substring(text))
        if let r = firstRange(of: "://", in: s) { s = s[r.upperBound...] }
        var events: [String] = []
        if let q = s.firstIndex(of: "?") {
            for item in s[s.index(after: q)...].split(separator: ",") {
                let name = item.split(separator: "=", maxSplits: 1).first.map { String(trimmed($0)) } ?? ""
                if !name.isEmpty { events.append(name) }
            }
            s = s[..<q]
        }
        var user: String? = nil, password: String? = nil
        if let at = s.lastIndex(of: "@") {
            let info = s[..<at]
            if let colon = info.firstIndex(of: ":") {
                user = String(info[..<colon])
                password = String(info[info.index(after: colon)...])
            } else {
                user = String(info)
            }
            if user?.isEmpty == true { user = nil }
            s = s[s.index(after: at)...]
        }
        if let slash = s.firstIndex(of: "/") { s = s[..<slash] }
        var port: UInt16 = 0
        if let colon = s.firstIndex(of: ":") {
            let p = s[s.index(after: colon)...]
            guard let n = UInt16(p) else { throw ParseError(description: "bad port '\(p)'") }
            port = n
            s = s[..<colon]
        }
        guard !s.isEmpty else { throw ParseError(description: "no host") }
        return ESLBoxURL(user: user, password: password, host: String(s), explicitPort: port, events: events)
    }

    static func trimmed(_ s: Substring) -> Substring {
        var sub = s
        // Made once, not per call (this runs for every event's sender).
        let ws = whitespace
        while let f = sub.first, ws.contains(f) { sub = sub.dropFirst() }
        while let l = sub.last, ws.contains(l) { sub = sub.dropLast() }
        return sub
    }
    static let whitespace: Set<Character> = [" ", "\t", "\r", "\n"]

    static func firstRange(of needle: String, in s: Substring) -> Range<Substring.Index>? {
        let n = Array(needle)
        var i = s.startIndex
        while i < s.endIndex {
            var j = i, k = 0
            while k < n.count && j < s.endIndex && s[j] == n[k] { j = s.index(after: j); k += 1 }
            if k == n.count { return i..<j }
            i = s.index(after: i)
        }
        return nil
    }
}
