// The core's SIP resolver for modules (ABI 1.12 rt_sip_resolve, 1.13 rt_sip_resolve_ex), decoded once for every
// module that resolves destinations (drouting, dispatcher).
import SwitchyardABI

/// One address a SIP destination resolved to.
public struct SIPResolvedAddress: Sendable, Equatable {
    public var ip: String
    public var port: Int
    /// The transport: the URI's, or the one a NAPTR record chose (lowercase; empty when the core gave none).
    public var proto: String

    public init(ip: String, port: Int, proto: String) {
        self.ip = ip
        self.port = port
        self.proto = proto
    }
}

extension PluginHost {
    /// True when the core resolves SIP destinations for modules (ABI 1.12 and a running core).
    public var canSIPResolve: Bool { runtime != nil && provides(\.rt_sip_resolve) }

    /// A SIP destination's addresses as the core resolves a request's destination (NAPTR, SRV, A, at most 32), and
    /// whether a DNS query on the way failed (timeout, server failure; always false on a 1.12 core, which cannot
    /// tell). `port` nil when the URI gives none, `proto` nil when it names no transport. nil when the core offers no
    /// resolver (older than 1.12, no runtime). Any thread; may wait for DNS.
    public func sipResolve(_ name: String, port: Int?, proto: String?, sips: Bool)
        -> (addresses: [SIPResolvedAddress], dnsFailed: Bool)? {
        guard let rt = runtime, provides(\.rt_sip_resolve) else { return nil }
        let ex = provides(\.rt_sip_resolve_ex) ? raw.pointee.rt_sip_resolve_ex : nil
        let plain = raw.pointee.rt_sip_resolve
        return withUnsafeTemporaryAllocation(of: sy_sip_resolved.self, capacity: 32) { buf in
            guard let out = buf.baseAddress else { return nil }
            var failed: Int32 = 0
            let n: Int32 = sy_str.with(name) { h in sy_str.with(proto ?? "") { p in
                if let ex { return ex(rt, h, UInt16(port ?? 0), p, sips ? 1 : 0, out, 32, &failed) }
                return plain?(rt, h, UInt16(port ?? 0), p, sips ? 1 : 0, out, 32) ?? -1
            } }
            guard n > 0 else { return ([], failed != 0) }
            let list = (0..<Int(min(n, 32))).map { i in
                let r = out[i]
                let ip = withUnsafeBytes(of: r.ip) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                let pr = withUnsafeBytes(of: r.proto) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                return SIPResolvedAddress(ip: ip, port: Int(r.port), proto: pr.lowercased())
            }
            return (list, failed != 0)
        }
    }
}
