// loose_route(): Route set processing (RFC 3261 16.4 and 16.12), as OpenSIPS's rr.
import SwitchyardPluginKit

extension RRModule {
    /// Our own top Route is removed (its parameters kept for $rr_params / check_route_param / is_direction); the
    /// next one becomes the destination. 1 routed by the Route set, -1 no Route, or a dialog-creating request whose
    /// only Route was us ("preloaded").
    func looseRoute(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        guard let first = host.sipHeader(ctx, "Route") else { return -1 }
        let routes = RRModule.splitRoutes(first)
        guard let top = routes.first else { return -1 }
        guard let me = local(ctx), let vars = v else { return -1 }
        var remaining = routes
        // The next Route header, read before this one is edited (a removed header no longer counts in indexes).
        let following = host.sipHeader(ctx, "Route", index: 1).flatMap { RRModule.splitRoutes($0).first }
        if RRModule.isMe(top, ip: me.ip, port: me.port) || RRModule.isMe(top, ip: me.viaHost, port: me.viaPort) {
            if let params = RRModule.uri(of: top).flatMap(RRModule.uriParams), !params.isEmpty {
                host.varSet(ctx, vars.routeParams, .string(params))
            }
            remaining.removeFirst()
            if remaining.isEmpty {
                host.sipHeaderRemove(ctx, "Route")
            } else {
                host.sipHeaderSet(ctx, "Route", remaining.joined(separator: ", "))
            }
            // A dialog-creating request whose only Route was us ("preloaded"): not routed by Record-Route (OpenSIPS).
            if remaining.isEmpty && following == nil, case .some(.null) = host.varGet(ctx, vars.toTag) { return -1 }
        }
        // The next hop: the next Route (in this header or the following one), else the request-URI.
        let next = remaining.first ?? following
        if let n = next, let uri = RRModule.uri(of: n) {
            _ = host.varSet(ctx, vars.du, .string(uri))
        }
        return 1
    }

    static func splitRoutes(_ v: String) -> [String] {
        var out: [String] = []
        var cur = ""
        var inAngle = false, inQuote = false
        for c in v {
            if c == "\"" { inQuote.toggle() }
            if !inQuote && c == "<" { inAngle = true }
            if !inQuote && c == ">" { inAngle = false }
            if c == "," && !inAngle && !inQuote {
                out.append(cur.trimmingSpaces())
                cur = ""
            } else {
                cur.append(c)
            }
        }
        if !cur.trimmingSpaces().isEmpty { out.append(cur.trimmingSpaces()) }
        return out
    }

    static func uri(of route: String) -> String? {
        guard let lt = route.firstIndex(of: "<"), let gt = route.firstIndex(of: ">"), lt < gt else { return nil }
        return String(route[route.index(after: lt)..<gt])
    }

    /// The URI parameters after the host part, without the first ';' and without `?headers` ("lr;ftag=a;nat=yes").
    static func uriParams(_ uri: String) -> String? {
        var rest = Substring(uri)
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        if let q = rest.firstIndex(of: "?") { rest = rest[..<q] }
        guard let semi = rest.firstIndex(of: ";") else { return nil }
        return String(rest[rest.index(after: semi)...])
    }

    static func isMe(_ route: String, ip rawIP: String, port: Int64) -> Bool {
        guard let u = uri(of: route) else { return false }
        let ip = rawIP.hasPrefix("[") && rawIP.hasSuffix("]") ? String(rawIP.dropFirst().dropLast()) : rawIP
        var rest = Substring(u)
        if let c = rest.firstIndex(of: ":") { rest = rest[rest.index(after: c)...] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        let hostPort = rest.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        var host = hostPort, p: Int64 = 5060
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":"), let n = Int64(after.dropFirst()) { p = n }
        } else if let c = hostPort.lastIndex(of: ":") {
            host = String(hostPort[..<c])
            p = Int64(hostPort[hostPort.index(after: c)...]) ?? 5060
        }
        return host.lowercased() == ip.lowercased() && p == port
    }
}
