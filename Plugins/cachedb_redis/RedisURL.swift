// RedisURL: a cachedb_url of this module, redis[:GROUP]://[user[:password]@]host[:port][,host2[:port2]...][/db].
//
// As OpenSIPS reads it: GROUP (between "redis:" and "://") names the connection in scripts ("redis:GROUP"); the user
// is ignored (AUTH takes the password only); the credentials end at the LAST '@' of the whole URL (as OpenSIPS's
// cachedb_id.c), so a password may hold '@' — and an '@' after the path makes what precedes it credentials
// (`redis://h:6379/0?x=a@b` is host b); parts are percent-decoded; the port defaults to 6379; several comma-separated hosts are a failover list;
// `/N` selects database N on every (re)connect. The masked form is what logs show.
import SwitchyardPluginKit

struct RedisURL: Equatable, Sendable {
    struct Endpoint: Equatable, Sendable {
        var host: String
        var port: Int
        var text: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    var group: String?
    var password: String?
    var endpoints: [Endpoint]
    var database: Int

    var masked: String {
        "redis\(group.map { ":" + $0 } ?? "")://\(password == nil ? "" : ":***@")"
            + endpoints.map(\.text).joined(separator: ",") + (database == 0 ? "/" : "/\(database)")
    }

    static func parse(_ text: String) -> Result<RedisURL, PluginErrorText> {
        func bad(_ why: String) -> Result<RedisURL, PluginErrorText> {
            .failure(PluginErrorText("bad cachedb_url '\(maskedText(text))': \(why)"))
        }
        guard let sep = text.range(of: "://") else { return bad("expected redis[:group]://host[:port]/") }
        let head = text[..<sep.lowerBound]
        var group: String?
        if let colon = head.firstIndex(of: ":") {
            guard head[..<colon].lowercased() == "redis" else { return bad("the scheme is not redis") }
            group = String(head[head.index(after: colon)...])
            if group!.isEmpty { return bad("empty group after redis:") }
        } else {
            guard head.lowercased() == "redis" else { return bad("the scheme is not redis") }
        }
        var rest = Substring(text[sep.upperBound...])
        // The credentials first (they end at the last '@', so the password may hold '@', '/', '?'), then the
        // options and the path after them.
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let creds = rest[..<at]
            if let colon = creds.firstIndex(of: ":") {
                guard let p = creds[creds.index(after: colon)...].percentDecoded() else { return bad("bad %-escape in the password") }
                password = p
            }
            rest = rest[rest.index(after: at)...]
        }
        if let q = rest.firstIndex(of: "?") {
            let opts = rest[rest.index(after: q)...]
            if !opts.isEmpty { return bad("URL options (\(opts.split(separator: "=").first ?? "")) are not supported (no TLS in this build)") }
            rest = rest[..<q]
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let n = Int(db), n >= 0 else { return bad("the database after / is not a number") }
                database = n
            }
            rest = rest[..<slash]
        }
        var endpoints: [Endpoint] = []
        for part in rest.split(separator: ",", omittingEmptySubsequences: false) {
            var host = Substring(part), port = 6379
            if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
                let after = host[host.index(after: close)...]
                host = host[host.index(after: host.startIndex)..<close]
                if after.hasPrefix(":") {
                    guard let p = Int(after.dropFirst()), p > 0, p < 65536 else { return bad("bad port in '\(part)'") }
                    port = p
                }
            } else if let colon = host.lastIndex(of: ":") {
                guard let p = Int(host[host.index(after: colon)...]), p > 0, p < 65536 else { return bad("bad port in '\(part)'") }
                port = p
                host = host[..<colon]
            }
            guard !host.isEmpty, let h = host.percentDecoded() else { return bad("empty or bad host in '\(part)'") }
            endpoints.append(Endpoint(host: h, port: port))
        }
        guard !endpoints.isEmpty else { return bad("no host") }
        return .success(RedisURL(group: group, password: password, endpoints: endpoints, database: database))
    }


    /// The text with anything between "://" and the last '@' replaced, for a URL that did not parse.
    static func maskedText(_ text: String) -> String {
        guard let sep = text.range(of: "://"), let at = text.lastIndex(of: "@"), at > sep.upperBound else { return text }
        return String(text[..<sep.upperBound]) + "***" + String(text[at...])
    }
}

/// An error message (PluginError is not Equatable).
struct PluginErrorText: Error, Equatable, Sendable {
    let message: String
    init(_ message: String) { self.message = message }
}
