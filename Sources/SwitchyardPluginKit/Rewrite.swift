// Message text rewriting (ABI 1.16): received header bytes replaced, the body and a reply's status line set.
import SwitchyardABI

extension PluginHost {
    /// True when the core can rewrite message text (ABI 1.16).
    public var canRewrite: Bool { provides(\.sip_text_replace) && provides(\.sip_body_set) && provides(\.sip_status_set) }

    /// Replaces `count` received bytes at `offset` (into the message as $mb reads it) with `text` in what is sent on.
    /// 0, -1 outside the header lines or overlapping an earlier replacement, -2 no SIP message, -3 on a Via line,
    /// -4 the core is older than 1.16.
    public func sipTextReplace(_ ctx: SYContext, offset: Int, count: Int, _ text: [UInt8]) -> Int32 {
        guard provides(\.sip_text_replace), let f = raw.pointee.sip_text_replace else { return -4 }
        return text.withUnsafeBufferPointer { t in
            // An empty text is "" (never NULL).
            let s = t.isEmpty ? SYStr.make("") : SYStr.make(t)
            return f(ctx.raw, UInt32(offset), UInt32(count), s)
        }
    }

    /// The body the message will be sent with (the last one set, else the received one); nil without a message or
    /// on a core older than 1.16.
    public func sipBody(_ ctx: SYContext) -> [UInt8]? {
        guard provides(\.sip_body_get), let f = raw.pointee.sip_body_get else { return nil }
        var out = sy_str()
        guard f(ctx.raw, &out) == 0 else { return nil }
        return Array(UnsafeRawBufferPointer(start: out.s, count: out.s == nil ? 0 : out.len))
    }

    /// Sends `body` instead of the message's body (Content-Length follows). False without a message or on an older core.
    @discardableResult
    public func sipBodySet(_ ctx: SYContext, _ body: [UInt8]) -> Bool {
        guard provides(\.sip_body_set), let f = raw.pointee.sip_body_set else { return false }
        return body.withUnsafeBufferPointer { b in f(ctx.raw, b.isEmpty ? SYStr.make("") : SYStr.make(b)) } == 0
    }

    /// Relays the reply with the status line "SIP/2.0 code reason". 0, -1 not a reply, -2 no message, -3 bad code,
    /// -4 the core is older than 1.16.
    public func sipStatusSet(_ ctx: SYContext, code: Int, reason: String) -> Int32 {
        guard provides(\.sip_status_set), let f = raw.pointee.sip_status_set else { return -4 }
        var r = reason
        return r.withUTF8 { f(ctx.raw, Int32(code), SYStr.make($0)) }
    }
}
