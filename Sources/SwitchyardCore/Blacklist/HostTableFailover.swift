import SwitchyardABI

/// The host entries of ABI 1.11's DNS failover: building a request toward a destination name's next address, and
/// learning a destination that failed into the `dns` blacklist.
extension HostTable {
    static func installFailover(_ h: inout sy_host_api) {
        h.sip_build_request_at = { ctxp, ruri, dst, branch, index, outIndex, outCount, out, target in
            guard let ctx = HostTable.context(ctxp), let out, let target, let sip = ctx.engine.sip else { return -1 }
            switch sip.buildRequest(ctx, ruri: HostTable.optText(ruri), dest: HostTable.optText(dst),
                                    branch: HostTable.optText(branch), from: Int(index),
                                    keep: { out.pointee = ctx.bytesKeeper.keep(UnsafeRawBufferPointer($0)) }) {
            case .failed(let code): return code
            case .built(let socket, let addr, let used, let count):
                HostTable.fill(target, socket: socket, conn: 0, dst: addr)
                outIndex?.pointee = UInt32(used)
                outCount?.pointee = UInt32(count)
                sip.counters.forwarded.add(1, ordering: .relaxed)
                return 0
            }
        }
        h.rt_sip_learn_failed = { rt, target in
            guard let target, let sp = target.pointee.socket, let server = HostBridge.runtime(rt),
                  let sip = server.engine.sip else { return -1 }
            guard !server.engine.dnsBlacklistDisabled else { return 0 }
            let socket = Unmanaged<SIPSocket>.fromOpaque(UnsafeRawPointer(sp)).takeUnretainedValue()
            var storage = target.pointee.dst
            let dst = withUnsafePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress($0, target.pointee.dst_len) }
            }
            sip.learnFailed(server.engine, dst, proto: socket.proto.name)
            return 1
        }
    }
}
