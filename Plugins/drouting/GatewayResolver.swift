// A gateway host that is a name, resolved at load as the core resolves a SIP destination (ABI 1.12 rt_sip_resolve:
// NAPTR, SRV, A with the dns_* globals), as OpenSIPS's add_dst does with mk_proxy.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit

enum GatewayResolver {
    /// (name, port or nil, transport or nil, sips) → the addresses in failover order.
    typealias Resolve = @Sendable (String, Int?, String?, Bool) -> [GWAddress]

    /// The core's resolver as Loader.load's `resolveName`; nil on a core older than ABI 1.12 (getaddrinfo then).
    static func make(_ host: PluginHost) -> Resolve? {
        guard host.provides(\.rt_sip_resolve), host.runtime != nil, host.raw.pointee.rt_sip_resolve != nil else { return nil }
        return { name, port, proto, sips in
            guard let rt = host.runtime, let f = host.raw.pointee.rt_sip_resolve else { return [] }
            var out = [sy_sip_resolved](repeating: sy_sip_resolved(), count: 32)
            let n = name.withCString { h in (proto ?? "").withCString { p in
                f(rt, sy_str(s: h, len: strlen(h)), UInt16(port ?? 0), sy_str(s: p, len: strlen(p)), sips ? 1 : 0,
                  &out, UInt32(out.count))
            } }
            guard n > 0 else { return [] }
            return out.prefix(Int(n)).compactMap { r in
                let ip = withUnsafeBytes(of: r.ip) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                let pr = withUnsafeBytes(of: r.proto) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard let norm = Loader.normalizeIP(ip) else { return nil }
                return GWAddress(ip: norm, port: Int(r.port), proto: pr.lowercased())
            }
        }
    }
}
