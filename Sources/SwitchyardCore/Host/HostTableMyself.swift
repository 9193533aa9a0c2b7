import SwitchyardABI

/// ABI 1.14: "myself" (rr's loose_route) and the per-context values a module keeps for the current message.
extension HostTable {
    static func installMyself(_ h: inout sy_host_api) {
        h.sip_is_myself = { ctxp, host, port, _ in
            guard let ctx = HostTable.context(ctxp), host.s != nil, host.len > 0 else { return -1 }
            return MiscFunctions.isMyself(ctx, host: HostTable.text(host), port: Int(port)) ? 1 : 0
        }
        // Keys and values are kept as raw bytes: a plugin's binary value (a NUL, 0xFF) reads back unchanged.
        h.ctx_value_set = { ctxp, key, value in
            guard let ctx = HostTable.context(ctxp), key.s != nil, key.len > 0 else { return -1 }
            let k = HostTable.bytes(key)
            let at = ctx.moduleValues.firstIndex { $0.key == k }
            guard value.s != nil else {
                if let at { ctx.moduleValues.remove(at: at) }
                return 0
            }
            let v = HostTable.bytes(value)
            if let at { ctx.moduleValues[at].value = v } else { ctx.moduleValues.append((key: k, value: v)) }
            return 0
        }
        h.ctx_value_get = { ctxp, key, out in
            guard let ctx = HostTable.context(ctxp), let out, key.s != nil, key.len > 0 else { return -2 }
            let k = HostTable.bytes(key)
            guard let e = ctx.moduleValues.first(where: { $0.key == k }) else { return -1 }
            out.pointee = e.value.withUnsafeBufferPointer { ctx.keepCBytes($0) }
            return 0
        }
    }

    /// An ABI string's bytes as given (no UTF-8 decoding).
    static func bytes(_ s: sy_str) -> [UInt8] {
        guard let p = s.s, s.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: s.len))
    }
}
