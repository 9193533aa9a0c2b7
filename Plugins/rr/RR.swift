// The OpenSIPS `rr` module as a Switchyard plugin: Record-Route and loose routing.
//
//   modparam("rr", "enable_double_rr", 0)
//   record_route()   loose_route()
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: "rr") else { return nil }
    guard host.provides(\.sip_header_add) else {
        host.log(.err, "this core has no SIP support (needs ABI 1.4)")
        return nil
    }
    return RRModule(host: host).build().pointer // allocated once, never freed
}

/// Variables resolved at init.
struct RRVars: Sendable {
    let ri: SYVar, rp: SYVar, proto: SYVar, du: SYVar, viaHost: SYVar, viaPort: SYVar, toTag: SYVar
}

final class RRModule: Sendable {
    let host: PluginHost
    let vars = Mutex<RRVars?>(nil)
    init(host: PluginHost) { self.host = host }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: "rr", version: "1.0.0", description: "Record-Route and loose routing")
        m.param("enable_double_rr", .int) { _ in }  // one socket per transport here: a single RR is always enough
        m.function("record_route", params: [[.str, .optional]], routes: [.request, .branch, .failure]) { [self] call in
            recordRoute(call)
        }
        m.function("loose_route", params: [], routes: [.request]) { [self] call in looseRoute(call) }
        m.onInit { [self] in
            let v = RRVars(ri: try host.varParse("$Ri"), rp: try host.varParse("$Rp"), proto: try host.varParse("$proto"),
                           du: try host.varParse("$du"), viaHost: try host.varParse("$socket_in(via_host)"),
                           viaPort: try host.varParse("$socket_in(via_port)"), toTag: try host.varParse("$tt"))
            vars.withLock { $0 = v }
        }
        return m.build()
    }

    /// The receiving socket: its IP and port, the host and port it advertises (Via/Record-Route), its transport.
    func local(_ ctx: SYContext) -> (ip: String, port: Int64, viaHost: String, viaPort: Int64, proto: String)? {
        guard let v = vars.withLock({ $0 }),
              case .some(.string(let ip)) = host.varGet(ctx, v.ri),
              case .some(.int(let port)) = host.varGet(ctx, v.rp) else { return nil }
        var proto = "udp"
        if case .some(.string(let p)) = host.varGet(ctx, v.proto) { proto = p }
        var viaHost = ip, viaPort = port
        if case .some(.string(let h)) = host.varGet(ctx, v.viaHost) { viaHost = h }
        if case .some(.int(let p)) = host.varGet(ctx, v.viaPort) { viaPort = p }
        return (ip, port, viaHost, viaPort, proto)
    }

    func recordRoute(_ call: FunctionCall) -> Int32 {
        guard let me = local(call.context) else { return -1 }
        // The advertised address (never 0.0.0.0 for a `*` socket).
        let host6 = me.viaHost.contains(":") && !me.viaHost.hasPrefix("[") ? "[\(me.viaHost)]" : me.viaHost
        var uri = "sip:\(host6):\(me.viaPort)"
        if me.proto != "udp" { uri += ";transport=\(me.proto)" }
        uri += ";lr"
        let params = call.isPresent(0) ? call.string(0) : ""
        if !params.isEmpty { uri += params.hasPrefix(";") ? params : ";" + params }
        return host.sipHeaderAdd(call.context, "Record-Route: <\(uri)>", atTop: true) ? 1 : -1
    }

    /// Route set processing: our own top Route is removed; the next one becomes the destination.
    func looseRoute(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        guard let first = host.sipHeader(ctx, "Route") else { return -1 }
        let routes = RRModule.splitRoutes(first)
        guard let top = routes.first else { return -1 }
        guard let me = local(ctx), let vars = vars.withLock({ $0 }) else { return -1 }
        var remaining = routes
        // The next Route header, read before this one is edited (a removed header no longer counts in indexes).
        let following = host.sipHeader(ctx, "Route", index: 1).flatMap { RRModule.splitRoutes($0).first }
        if RRModule.isMe(top, ip: me.ip, port: me.port) || RRModule.isMe(top, ip: me.viaHost, port: me.viaPort) {
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
