// t_write_*: the route set, next request-URI and next hop written for the application, from Contact and Record-Route.
import SwitchyardPluginKit
import SwitchyardSIP

extension TWrite {
    /// Where the application's later requests go: the route set, the next request-URI and the next hop.
    struct Routing {
        var route = ""
        var nextURI = ""
        var nextHop = ""
    }

    /// The first Contact's URI (else the From URI) and the Record-Route set, as OpenSIPS computes them: with a
    /// loose-routing first proxy the route starts with it and it is the next hop; with a strict one the Contact
    /// closes the route and the first proxy becomes the next request-URI. Only the first entry of the first
    /// Record-Route header is read, then every entry of the following ones.
    static func routing(_ msg: SIPMessage, fromURI: String) -> Result<Routing, PluginError> {
        var r = Routing()
        if let c = msg.field(.contact).map({ msg.value(of: $0) }), let first = entries(c).first, first != "*" {
            r.nextURI = NameAddr.parse(first)?.uri ?? ""
        }
        if r.nextURI.isEmpty { r.nextURI = fromURI }
        let rr = msg.headers("Record-Route")
        guard let firstHeader = rr.first else { return .success(r) }
        guard let firstEntry = entries(firstHeader).first, let proxy = NameAddr.parse(firstEntry)?.uri else {
            return .failure(PluginError("bad Record-Route header"))
        }
        func add(_ uri: String) -> Bool {
            guard uri.utf8.count + r.route.utf8.count + 3 < 512 else { return false }
            if !r.route.isEmpty { r.route += "," }
            r.route += "<" + uri + ">"
            return true
        }
        let loose = isLoose(proxy)
        if loose && !add(proxy) { return .failure(PluginError("route set too long")) }
        for h in rr.dropFirst() {
            for e in entries(h) {
                guard let uri = NameAddr.parse(e)?.uri else { return .failure(PluginError("bad Record-Route header")) }
                if !add(uri) { return .failure(PluginError("route set too long")) }
            }
        }
        if loose {
            r.nextHop = proxy
        } else {
            if !add(r.nextURI) { return .failure(PluginError("route set too long")) }
            r.nextURI = proxy
        }
        return .success(r)
    }

    /// A URI with an `lr` parameter.
    static func isLoose(_ uri: String) -> Bool {
        uri.split(separator: ";").dropFirst().contains { p in
            p.split(separator: "=", maxSplits: 1).first.map { $0.trimmingSpaces().lowercased() == "lr" } ?? false
        }
    }

    /// The comma-separated entries of a header value (commas inside quotes or <...> do not split).
    static func entries(_ value: String) -> [String] {
        var out: [String] = []
        var cur = ""
        var quoted = false, angle = false
        for ch in value {
            switch ch {
            case "\"" where !angle: quoted.toggle()
            case "<" where !quoted: angle = true
            case ">" where !quoted: angle = false
            case "," where !quoted && !angle:
                out.append(cur.trimmingSpaces()); cur = ""; continue
            default: break
            }
            cur.append(ch)
        }
        let last = cur.trimmingSpaces()
        if !last.isEmpty { out.append(last) }
        return out.filter { !$0.isEmpty }
    }
}
