// loose_route(): Route set processing (RFC 3261 16.4 and 16.12), as OpenSIPS's rr.
import SwitchyardPluginKit

extension RRModule {
    /// Our own top Route is removed (its parameters kept for $rr_params / check_route_param / is_direction); the
    /// next one becomes the destination. 1 routed by the Route set, -1 no Route, or a dialog-creating request whose
    /// only Route was us ("preloaded"). Strict routers (RFC 2543, a Route URI without `;lr`) are handled as OpenSIPS
    /// does: a next hop that is one gets the request-URI, the old one saved as the last Route; a request-URI naming
    /// this proxy in a dialog means the previous hop was one.
    func looseRoute(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        guard let first = host.sipHeader(ctx, "Route") else { return -1 }
        let routes = RRModule.splitRoutes(first)
        guard let top = routes.first else { return -1 }
        guard let me = local(ctx), let vars = v else { return -1 }
        let inDialog: Bool
        if case .some(.string(let t)) = host.varGet(ctx, vars.toTag), !t.isEmpty { inDialog = true } else { inDialog = false }
        // OpenSIPS's is_myself (check_self): any listening socket or alias=, not only the receiving one.
        func mine(_ route: String) -> Bool {
            if let (h, p) = RRModule.hostPort(route), let ours = host.sipIsMyself(ctx, host: h, port: p) { return ours }
            return RRModule.isMe(route, ip: me.ip, port: me.port) || RRModule.isMe(route, ip: me.viaHost, port: me.viaPort)
        }
        if inDialog, let ruri = host.varString(ctx, vars.ruri), mine("<\(ruri)>"), RRModule.param("gr", in: RRModule.uriParams(ruri) ?? "") == nil {
            return afterStrict(ctx, vars)
        }
        var remaining = routes
        // The next Route header, read before this one is edited (a removed header no longer counts in indexes).
        let following = host.sipHeader(ctx, "Route", index: 1).flatMap { RRModule.splitRoutes($0).first }
        if mine(top) {
            if let params = RRModule.uri(of: top).flatMap(RRModule.uriParams), !params.isEmpty {
                host.contextValueSet(ctx, RRState.routeParams, params)
            }
            remaining.removeFirst()
            if remaining.isEmpty {
                host.sipHeaderRemove(ctx, "Route")
            } else {
                host.sipHeaderSet(ctx, "Route", remaining.joined(separator: ", "))
            }
            // A dialog-creating request whose only Route was us ("preloaded"): not routed by Record-Route (OpenSIPS).
            if remaining.isEmpty && following == nil { return inDialog ? 1 : -1 }
        }
        // The next hop: the next Route (in this header or the following one).
        guard let next = remaining.first ?? following, let uri = RRModule.uri(of: next) else { return 1 }
        if RRModule.isStrict(uri) {
            // Strict next hop: it gets the request-URI, and the request-URI is kept as the last Route.
            guard let ruri = host.varString(ctx, vars.ruri) else { return -1 }
            var all = allRoutes(ctx)
            if let i = all.firstIndex(of: next) { all.remove(at: i) }
            rewriteRoutes(ctx, all + ["<\(ruri)>"])
            host.varSet(ctx, vars.ruri, .string(RRModule.maddrURI(uri)))
        } else {
            host.varSet(ctx, vars.du, .string(RRModule.maddrURI(uri)))
        }
        return 1
    }

    /// The previous hop was a strict router: the request-URI is our Record-Route URI and the last Route the remote
    /// target. A strict next hop takes the request-URI; a loose one becomes $du and the last Route the request-URI.
    func afterStrict(_ ctx: SYContext, _ vars: RRVars) -> Int32 {
        var all = allRoutes(ctx)
        guard let top = all.first, let uri = RRModule.uri(of: top) else { return -1 }
        if RRModule.isStrict(uri) {
            all.removeFirst()
            rewriteRoutes(ctx, all)
            host.varSet(ctx, vars.ruri, .string(RRModule.maddrURI(uri)))
        } else {
            host.varSet(ctx, vars.du, .string(RRModule.maddrURI(uri)))
            guard let last = all.last.flatMap(RRModule.uri(of:)) else { return -1 }  // the remote target
            all.removeLast()
            rewriteRoutes(ctx, all)
            host.varSet(ctx, vars.ruri, .string(RRModule.maddrURI(last)))
        }
        if let ruri = host.varString(ctx, vars.ruri), let params = RRModule.uriParams(ruri), !params.isEmpty {
            host.contextValueSet(ctx, RRState.routeParams, params)
        }
        return 1
    }

    /// Every Route entry of the message, in order, across its Route headers.
    func allRoutes(_ ctx: SYContext) -> [String] {
        var out: [String] = [], i = 0
        while let h = host.sipHeader(ctx, "Route", index: i) { out += RRModule.splitRoutes(h); i += 1 }
        return out
    }

    /// Replaces the Route headers by one listing `routes` where the first one was (none when empty).
    func rewriteRoutes(_ ctx: SYContext, _ routes: [String]) {
        while host.sipHeaderRemove(ctx, "Route") {}
        guard !routes.isEmpty else { return }
        let line = "Route: " + routes.joined(separator: ", ")
        if host.sipHeaderInsert(ctx, line, anchor: "Route", after: false) != 0 { _ = host.sipHeaderAdd(ctx, line, atTop: false) }
    }

    /// A Route URI without `lr` among its parameters names a strict router.
    static func isStrict(_ uri: String) -> Bool {
        guard let params = uriParams(uri) else { return true }
        return param("lr", in: params) == nil
    }

    /// `sip:MADDR[:port]` when the URI has a maddr parameter (OpenSIPS routes to it), else the URI itself.
    static func maddrURI(_ uri: String) -> String {
        guard let params = uriParams(uri), let maddr = param("maddr", in: params), !maddr.isEmpty else { return uri }
        var port = ""
        if let hostPart = uri.split(separator: ";", maxSplits: 1).first, let c = hostPart.lastIndex(of: ":"),
           hostPart[hostPart.index(after: c)...].allSatisfy(\.isNumber), hostPart.firstIndex(of: ":") != c {
            port = ":" + hostPart[hostPart.index(after: c)...]
        }
        return "sip:" + maddr + port
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

    /// The host and port of a Route's URI; the port defaults to 5061 for sips or `;transport=tls` (OpenSIPS's
    /// get_uri_port), else 5060.
    static func hostPort(_ route: String) -> (String, Int)? {
        guard let u = uri(of: route) else { return nil }
        var rest = Substring(u)
        let secure = u.lowercased().hasPrefix("sips:")
            || (uriParams(u).flatMap { param("transport", in: $0.lowercased()) } == "tls")
        if let c = rest.firstIndex(of: ":") { rest = rest[rest.index(after: c)...] }
        if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
        let hostPort = rest.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
        let fallback = secure ? 5061 : 5060
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            let h = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            guard after.hasPrefix(":") else { return (h, fallback) }
            return port(after.dropFirst()).map { (h, $0) }
        }
        if let c = hostPort.lastIndex(of: ":") {
            return port(hostPort[hostPort.index(after: c)...]).map { (String(hostPort[..<c]), $0) }
        }
        return hostPort.isEmpty ? nil : (hostPort, fallback)
    }

    /// A URI's port: digits only, 1...65535 (OpenSIPS's parse_uri refuses anything else), so a Route with `:0`,
    /// `:-1` or `:99999` is never ours (0 would mean "any port" to sip_is_myself).
    static func port(_ s: Substring) -> Int? {
        guard !s.isEmpty, s.count <= 5, s.allSatisfy({ $0.isASCII && $0.isNumber }), let p = Int(s),
              (1...65535).contains(p) else { return nil }
        return p
    }

    static func isMe(_ route: String, ip rawIP: String, port: Int64) -> Bool {
        guard let (host, p) = hostPort(route) else { return false }
        let ip = rawIP.hasPrefix("[") && rawIP.hasSuffix("]") ? String(rawIP.dropFirst().dropLast()) : rawIP
        return host.lowercased() == ip.lowercased() && Int64(p) == port
    }
}
