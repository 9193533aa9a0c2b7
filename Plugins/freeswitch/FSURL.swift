// ESL URLs: [fs://][[user]:password@]host[:port][/...][?EV1[,EV2...]].
import SwitchyardESL

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

    /// Parses `text` (the rules are ESLBoxURL's, shared with the modules that check URLs at configuration time).
    static func parse(_ text: String) throws(ParseError) -> FSURL {
        do {
            let u = try ESLBoxURL.parse(text)
            return FSURL(user: u.user, password: u.password, host: u.host, explicitPort: u.explicitPort, events: u.events)
        } catch {
            throw ParseError(description: error.description)
        }
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
