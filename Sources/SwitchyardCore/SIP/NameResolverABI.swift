#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SwitchyardABI

/// ABI 1.12's rt_sip_resolve: the core's SIP resolver for modules (the dispatcher's destinations at load), with the
/// script's dns_* globals.
extension HostTable {
    static func installResolve(_ h: inout sy_host_api) {
        h.rt_sip_resolve = { rt, host, port, proto, isSips, out, max in
            guard let server = HostBridge.runtime(rt), let out, host.len > 0 else { return -1 }
            let engine = server.engine
            // The SIP core's resolver once it runs (its cached answers); at load, before it exists, one with the same
            // settings and hosts table (read once at startup), caching nothing.
            let resolver = engine.sip?.names.resolver
                ?? SIPResolver(settings: engine.dns, hosts: engine.dnsHosts,
                               log: { server.log.write(LogLevels.warn, module: "core", $0) })
            let p = HostTable.text(proto).lowercased()
            let list = resolver.resolve(HostTable.text(host), port: port == 0 ? nil : Int(port), proto: p.isEmpty ? nil : p,
                                        secure: isSips != 0)
            var n: UInt32 = 0
            for r in list where n < max {
                var item = sy_sip_resolved()
                HostTable.copyC(r.address.ip, into: &item.ip)
                item.port = UInt16(r.address.port)
                HostTable.copyC(r.proto, into: &item.proto)
                out[Int(n)] = item
                n += 1
            }
            return Int32(n)
        }
    }

    /// A string into a fixed C char array, NUL-terminated (cut to fit).
    static func copyC<T>(_ s: String, into field: inout T) {
        withUnsafeMutableBytes(of: &field) { raw in
            let bytes = Array(s.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
    }
}
