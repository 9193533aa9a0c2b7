// ESL URLs: [fs://][[user]:password@]host[:port][/...][?EV1[,EV2...]] (spec §2.1).

/// A parsed ESL URL. `description` never shows the password.
struct FSURL: Sendable, Equatable, CustomStringConvertible {
    var user: String?
    var password: String?
    var host: String
    /// 0 when the URL gave no port (then 8021 applies, or "any port" for a bare-host lookup).
    var explicitPort: UInt16
    var events: [String]

    static let defaultPort: UInt16 = 8021

    var port: UInt16 { explicitPort == 0 ? FSURL.defaultPort : explicitPort }
    var description: String { "\(host):\(port)" }

    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    /// Parses `text`. The scheme (anything before `://`) is ignored; userinfo ends at the LAST `@` (OpenSIPS: the
    /// first, which makes `user@domain` for userauth impossible); the first `:` inside it splits user and password
    /// (`fs://1000@default:pw@fs1` = user `1000@default`); `user@host` (no colon) is a user without password.
    static func parse(_ text: String) throws(ParseError) -> FSURL {
        // A bare host (an event's `sender`, what freeswitch_esl usually gets): nothing to split.
        if !text.isEmpty && !text.utf8.contains(where: { c in
            c == UInt8(ascii: ":") || c == UInt8(ascii: "@") || c == UInt8(ascii: "?") || c == UInt8(ascii: "/")
                || c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") || c == UInt8(ascii: "\n")
        }) {
            return FSURL(user: nil, password: nil, host: text, explicitPort: 0, events: [])
        }
        var s = Substring(text.trimmingCharacters(in: " \t\r\n"))
        if let r = s.firstRange("://") { s = s[r.upperBound...] }
        var events: [String] = []
        if let q = s.firstIndex(of: "?") {
            for item in s[s.index(after: q)...].split(separator: ",") {
                let name = item.split(separator: "=", maxSplits: 1).first.map { String($0).trimmingCharacters(in: " \t") } ?? ""
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
        return FSURL(user: user, password: password, host: String(s), explicitPort: port, events: events)
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var sub = Substring(self)
        while let f = sub.first, chars.contains(f) { sub = sub.dropFirst() }
        while let l = sub.last, chars.contains(l) { sub = sub.dropLast() }
        return String(sub)
    }
}

extension Substring {
    /// The first occurrence of `needle` (no Foundation).
    func firstRange(_ needle: String) -> Range<Index>? {
        let n = Array(needle)
        guard !n.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            var j = i, k = 0
            while k < n.count && j < endIndex && self[j] == n[k] { j = index(after: j); k += 1 }
            if k == n.count { return i..<j }
            i = index(after: i)
        }
        return nil
    }
}
