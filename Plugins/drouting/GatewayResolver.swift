// A gateway host that is a name, resolved as the core resolves a SIP destination (ABI 1.12 rt_sip_resolve, 1.13
// rt_sip_resolve_ex: NAPTR, SRV, A with the dns_* globals), as OpenSIPS's add_dst does with mk_proxy.
import SwitchyardPluginKit

enum GatewayResolver {
    /// (name, port or nil, transport or nil, sips) → the addresses in failover order, and whether a DNS query failed
    /// (no answer in time, a server failure: not "no such name").
    typealias Resolve = @Sendable (String, Int?, String?, Bool) -> (addrs: [GWAddress], dnsFailed: Bool)

    /// The core's resolver as Loader.load's `resolveName`; nil on a core older than ABI 1.12 (getaddrinfo then).
    static func make(_ host: PluginHost) -> Resolve? {
        guard host.canSIPResolve else { return nil }
        return { name, port, proto, sips in
            guard let r = host.sipResolve(name, port: port, proto: proto, sips: sips) else { return ([], false) }
            let addrs = r.addresses.compactMap { a -> GWAddress? in
                guard let ip = Loader.normalizeIP(a.ip) else { return nil }
                return GWAddress(ip: ip, port: a.port, proto: a.proto)
            }
            return (addrs, r.dnsFailed)
        }
    }
}
