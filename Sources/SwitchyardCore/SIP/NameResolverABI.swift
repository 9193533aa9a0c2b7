#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SwitchyardABI

/// ABI 1.12's rt_sip_resolve and 1.13's rt_sip_resolve_ex: the core's SIP resolver for modules (drouting's gateways
/// and the dispatcher's destinations at load, drouting's goes_to_gw per message), with the script's dns_* globals.
extension HostTable {
    static func installResolve(_ h: inout sy_host_api) {
        h.rt_sip_resolve = { rt, host, port, proto, isSips, out, max in
            HostTable.sipResolve(rt, host, port, proto, isSips, out, max, nil)
        }
        h.rt_sip_resolve_ex = { rt, host, port, proto, isSips, out, max, failed in
            HostTable.sipResolve(rt, host, port, proto, isSips, out, max, failed)
        }
    }

    static func sipResolve(_ rt: OpaquePointer?, _ host: sy_str, _ port: UInt16, _ proto: sy_str, _ isSips: Int32,
                                   _ out: UnsafeMutablePointer<sy_sip_resolved>?, _ max: UInt32,
                                   _ failed: UnsafeMutablePointer<Int32>?) -> Int32 {
        failed?.pointee = 0
        guard let server = HostBridge.runtime(rt), let out, host.len > 0 else { return -1 }
        let engine = server.engine
        // The SIP core's resolver (its cached answers): built with the runtime, before any module's init. The
        // fallback (no SIP core: a runtime without SIP) has the same settings and hosts table, caching nothing.
        let resolver = engine.sip?.names.resolver
            ?? SIPResolver(settings: engine.dns, hosts: engine.dnsHosts,
                           log: { server.log.write(LogLevels.warn, module: "core", $0) })
        let p = HostTable.text(proto).lowercased()
        let (list, dnsFailed) = resolver.resolveNotingFailures(HostTable.text(host), port: port == 0 ? nil : Int(port),
                                                               proto: p.isEmpty ? nil : p, secure: isSips != 0)
        failed?.pointee = dnsFailed ? 1 : 0
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

    /// A string into a fixed C char array, NUL-terminated (cut to fit).
    static func copyC<T>(_ s: String, into field: inout T) {
        withUnsafeMutableBytes(of: &field) { raw in
            let bytes = Array(s.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
    }
}
