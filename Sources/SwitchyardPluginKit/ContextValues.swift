// ABI 1.14: "myself" as the core sees it, and values a module keeps for the context's current message.
import SwitchyardABI

extension PluginHost {
    /// True when host and port (0: any) name one of the core's listening sockets or alias= entries (OpenSIPS's
    /// check_self). nil when the core is older than 1.14.
    public func sipIsMyself(_ ctx: SYContext, host: String, port: Int) -> Bool? {
        guard provides(\.sip_is_myself), let f = raw.pointee.sip_is_myself else { return nil }
        // Out of range is no port at all, never clamped to 0 ("any port") or 65535.
        guard let p16 = UInt16(exactly: port) else { return false }
        return sy_str.with(host) { h in sy_str.with("") { p in f(ctx.raw, h, p16, p) } } == 1
    }

    /// True when the core keeps per-context module values (ABI 1.14).
    public var hasContextValues: Bool { provides(\.ctx_value_get) }

    /// Keeps `value` under `key` for the context's current message (nil removes it); the script never sees it and a
    /// failure route's context starts without it. False when the core is older than 1.14.
    @discardableResult
    public func contextValueSet(_ ctx: SYContext, _ key: String, _ value: String?) -> Bool {
        guard provides(\.ctx_value_set), let f = raw.pointee.ctx_value_set else { return false }
        return sy_str.with(key) { k in
            guard let value else { return f(ctx.raw, k, sy_str(s: nil, len: 0)) }
            return sy_str.with(value) { v in f(ctx.raw, k, v) }
        } == 0
    }

    /// The value kept under `key` for the context's current message; nil when none. The core keeps raw bytes; this
    /// reads them as UTF-8 (a value set from a String reads back unchanged).
    public func contextValue(_ ctx: SYContext, _ key: String) -> String? {
        guard provides(\.ctx_value_get), let f = raw.pointee.ctx_value_get else { return nil }
        var out = sy_str()
        guard sy_str.with(key, { f(ctx.raw, $0, &out) }) == 0 else { return nil }
        return SYStr.string(out)
    }
}
