import SwitchyardABI

/// ABI 1.14: "myself" (rr's loose_route) and the per-context values a module keeps for the current message.
extension HostTable {
    static func installMyself(_ h: inout sy_host_api) {
        h.sip_is_myself = { ctxp, host, port, _ in
            guard let ctx = HostTable.context(ctxp), host.s != nil, host.len > 0 else { return -1 }
            return MiscFunctions.isMyself(ctx, host: HostTable.text(host), port: Int(port)) ? 1 : 0
        }
        h.ctx_value_set = { ctxp, key, value in
            guard let ctx = HostTable.context(ctxp), key.s != nil, key.len > 0 else { return -1 }
            let k = HostTable.text(key)
            let at = ctx.moduleValues.firstIndex { $0.key == k }
            guard value.s != nil else {
                if let at { ctx.moduleValues.remove(at: at) }
                return 0
            }
            let v = HostTable.text(value)
            if let at { ctx.moduleValues[at].value = v } else { ctx.moduleValues.append((key: k, value: v)) }
            return 0
        }
        h.ctx_value_get = { ctxp, key, out in
            guard let ctx = HostTable.context(ctxp), let out, key.s != nil else { return -1 }
            let k = HostTable.text(key)
            guard let e = ctx.moduleValues.first(where: { $0.key == k }) else { return -1 }
            out.pointee = ctx.keepCString(e.value)
            return 0
        }
    }
}
