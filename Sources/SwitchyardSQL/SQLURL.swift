// SQLURL: an OpenSIPS SQL database URL, scheme://[user[:password]@]host[:port]/database[?params].
//
// As OpenSIPS parses it: the database part is mandatory; the password runs from the first ':' of the credentials to
// the first '@' (so it may hold '/' and ':' but not a raw '@': write %40), except that a ':' followed by 1-5 digits
// and a '/' before any '@' is a port (so a URL without credentials may have '@' in its database or params); every
// part is percent-decoded; an IPv6 host is written in brackets; a Unix socket is written as the host
// `unix(/path/to/socket)`; `?params` is kept for the driver. `masked` is the form every message shows: the password is never logged.
import SwitchyardPluginKit

/// A parsed SQL URL.
public struct SQLURL: Equatable, Sendable {
    public var scheme: String
    public var user: String?
    public var password: String?
    /// The host as written (brackets of an IPv6 address removed); empty when the URL has none.
    public var host: String
    public var port: Int?
    /// The socket path of a `unix(/path)` host.
    public var socket: String?
    public var database: String
    /// The raw text after `?` (`a=b&c=d`), empty when absent.
    public var params: String

    /// The URL as messages show it: the password replaced by `***`.
    public var masked: String {
        var out = scheme + "://"
        if let user {
            out += user
            if password != nil { out += ":***" }
            out += "@"
        }
        if let socket { out += "unix(\(socket))" } else { out += host.contains(":") ? "[\(host)]" : host }
        if let port { out += ":\(port)" }
        out += "/" + database
        if !params.isEmpty { out += "?" + SQLURL.maskedParams(params) }
        return out
    }

    /// `a=b&password=x` with the value of every password-like key (password, sslpassword, ...) replaced by `***`.
    static func maskedParams(_ params: String) -> String {
        params.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let eq = pair.firstIndex(of: "="), pair[..<eq].lowercased().contains("password") else { return String(pair) }
            return pair[...eq] + "***"
        }.joined(separator: "&")
    }

    /// `params` as key/value pairs (`a=b&c=d`); a pair without `=` has an empty value.
    public var paramPairs: [(String, String)] {
        params.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            if let eq = pair.firstIndex(of: "=") {
                return (String(pair[..<eq]), pair[pair.index(after: eq)...].percentDecoded() ?? "")
            }
            return (String(pair), "")
        }
    }

    /// Parses `text`; the error message names the URL with its password masked.
    public static func parse(_ text: String) throws(SQLError) -> SQLURL {
        func bad(_ why: String) -> SQLError {
            SQLError(.badArg, "bad database URL '\(maskPassword(text))': \(why)")
        }
        guard let sep = text.range(of: "://") else { throw bad("expected scheme://[user[:password]@]host[:port]/database") }
        let scheme = text[..<sep.lowerBound].lowercased()
        guard !scheme.isEmpty else { throw bad("no scheme") }
        var rest = Substring(text[sep.upperBound...])
        // Credentials before params, as OpenSIPS reads left to right: the user runs to the first ':', '@' or '/';
        // after a ':' the password runs to the first '@' that follows, so it may hold '/', ':', '?' and '#'.
        var user: String?, password: String?
        // An IPv6 host in brackets has no credentials before it: its ':'s are not a password's.
        if !rest.hasPrefix("["), let end = rest.firstIndex(where: { $0 == ":" || $0 == "@" || $0 == "/" }) {
            if rest[end] == "@" {
                user = try decode(rest[..<end], "user", bad)
                rest = rest[rest.index(after: end)...]
            } else if rest[end] == ":", let at = rest[end...].firstIndex(of: "@"),
                      !isPort(rest[rest.index(after: end)...], before: at) {
                user = try decode(rest[..<end], "user", bad)
                password = try decode(rest[rest.index(after: end)..<at], "password", bad)
                rest = rest[rest.index(after: at)...]
            }
        }
        var params = ""
        if let q = rest.firstIndex(of: "?") {
            params = String(rest[rest.index(after: q)...])
            rest = rest[..<q]
        }
        var host = "", socket: String?, port: Int?
        if rest.hasPrefix("unix(") {
            guard let close = rest.firstIndex(of: ")") else { throw bad("unix( without )") }
            socket = try decode(rest[rest.index(rest.startIndex, offsetBy: 5)..<close], "socket", bad)
            host = "localhost"
            rest = rest[rest.index(after: close)...]
        } else if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw bad("[ without ] around the IPv6 address") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
        } else {
            let end = rest.firstIndex { $0 == ":" || $0 == "/" } ?? rest.endIndex
            host = try decode(rest[..<end], "host", bad)
            rest = rest[end...]
        }
        if rest.hasPrefix(":") {
            let end = rest.firstIndex(of: "/") ?? rest.endIndex
            guard let p = Int(rest[rest.index(after: rest.startIndex)..<end]), p > 0, p < 65536 else {
                throw bad("the port is not a number from 1 to 65535")
            }
            port = p
            rest = rest[end...]
        }
        guard rest.hasPrefix("/"), rest.count > 1 else { throw bad("no /database at the end") }
        let database = try decode(rest.dropFirst(), "database", bad)
        return SQLURL(scheme: scheme, user: user, password: password, host: host, port: port, socket: socket,
                      database: database, params: params)
    }

    /// Whether `text` (what follows the first ':') starts with a port, `1`-`5` digits then '/', before `at`: then
    /// that ':' is the host's and a later '@' belongs to the database name or the params (`host:3306/db?x=a@b`).
    private static func isPort(_ text: Substring, before at: Substring.Index) -> Bool {
        guard let slash = text.firstIndex(of: "/"), slash < at else { return false }
        let digits = text[..<slash]
        return (1...5).contains(digits.count) && digits.allSatisfy { $0 >= "0" && $0 <= "9" }
    }

    private static func decode(_ s: Substring, _ what: String, _ bad: (String) -> SQLError) throws(SQLError) -> String {
        guard let d = s.percentDecoded() else { throw bad("bad %-escape in the \(what)") }
        return d
    }

    /// Any URL-like text with the password part (between the credentials' ':' and '@') replaced by `***`, for
    /// messages about a URL that did not parse.
    public static func maskPassword(_ text: String) -> String {
        var out = text
        if let q = out.lastIndex(of: "?") { out = out[..<q] + "?" + maskedParams(String(out[out.index(after: q)...])) }
        // Without "://" (a mistyped scheme) the credentials may still be there: look from the start.
        let rest = out[(out.range(of: "://")?.upperBound ?? out.startIndex)...]
        // The last '@': a password with a raw '@' (a bad URL, the reason this is called) is still hidden whole.
        guard let at = rest.lastIndex(of: "@") else { return out }
        let creds = rest[..<at]
        guard let colon = creds.firstIndex(of: ":") else { return out }
        return String(out[..<colon]) + ":***" + String(out[at...])
    }
}
