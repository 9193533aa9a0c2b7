import Foundation
import SwitchyardABI
import SwitchyardSIP

/// The SIP entries of the host table (ABI 1.4): transports hand messages in, modules answer and
/// edit the message a route runs on, drouting sends probes.
extension HostTable {
    static func text(_ s: sy_str) -> String {
        guard let p = s.s, s.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: s.len), as: UTF8.self)
    }

    /// The kind of a header name given through the ABI (HeaderKind.named without making a string).
    static func kind(_ s: sy_str) -> HeaderKind {
        guard let p = s.s, s.len > 0 else { return .other }
        return HeaderKind.named(bytes: UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: s.len))
    }

    /// A reply's extra header lines followed by those the script kept for the replies to its request (append_to_reply).
    static func replyExtra(_ ctx: ScriptContext, _ extra: String, code: Int = 0) -> String {
        let kept = ctx.message.edits.replyLines
        let dset = (300..<400).contains(code) ? destinationSetContact(ctx) : nil
        guard !kept.isEmpty || dset != nil else { return extra }
        return extra + kept.map { $0 + "\r\n" }.joined() + (dset ?? "")
    }

    /// A 3xx reply (sl_send_reply, tm's t_reply) carries the destination set as one Contact line, as OpenSIPS's
    /// print_dset writes it after the script's append_to_reply lines: the request-URI when the script rewrote it, then
    /// each append_branch() branch, `<uri>` with `;q=` when given, joined by ", ". nil: nothing to print.
    static func destinationSetContact(_ ctx: ScriptContext) -> String? {
        var items: [String] = []
        func item(_ uri: String, _ q: Int?) -> String { "<" + uri + ">" + (q.map { ";q=" + QValue.text($0) } ?? "") }
        if ctx.message.requestURIChanged, let ruri = ctx.message.requestURI?.text { items.append(item(ruri, ctx.message.ruriQ)) }
        for b in ctx.message.branches { items.append(item(b.uri, b.q)) }
        return items.isEmpty ? nil : "Contact: " + items.joined(separator: ", ") + "\r\n"
    }

    /// A header value or line as one line: CR and LF would end the header block early.
    static func oneLine(_ s: String) -> String {
        // Most values have no line break: a byte scan instead of the Character-level checks below.
        if !s.utf8.contains(where: { $0 == 13 || $0 == 10 }) { return s }
        var t = s
        while t.hasSuffix("\r\n") || t.hasSuffix("\n") || t.hasSuffix("\r") { t.removeLast() }
        // Tested on bytes: a CR LF inside is one Character, equal to neither "\r" nor "\n".
        return t.utf8.contains(where: { $0 == 13 || $0 == 10 }) ? t.replacingOccurrences(of: "\r\n", with: " ")
            .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ") : t
    }

    /// `oneLine(text(s))`, the usual value without a line break checked on its bytes before any string is made.
    static func oneLineText(_ s: sy_str) -> String {
        guard let p = s.s, s.len > 0 else { return "" }
        let b = UnsafeRawBufferPointer(start: p, count: s.len)
        for c in b where c == 13 || c == 10 { return oneLine(text(s)) }
        return String(decoding: b, as: UTF8.self)
    }

    /// True when the bytes are what `oneLineText` makes of them: ASCII without CR or LF (no line to join, nothing for
    /// the UTF-8 decoding to repair).
    static func isPlainLine(_ s: sy_str) -> Bool {
        guard let p = s.s else { return true }
        for c in UnsafeRawBufferPointer(start: p, count: s.len) where c == 13 || c == 10 || c >= 0x80 { return false }
        return true
    }

    /// Index of the `nth` field named `name` (of kind `kind`, found without a string when the core classifies it) that
    /// the script has not removed.
    static func fieldIndex(_ ctx: ScriptContext, _ msg: SIPMessage, _ kind: HeaderKind, _ name: sy_str, nth: Int) -> Int? {
        if !ctx.message.edits.hasRemovals {
            return kind != .other ? msg.fieldIndex(kind: kind, nth: nth) : msg.fieldIndex(named: text(name), nth: nth)
        }
        let edits = ctx.message.edits
        let notRemoved: (Int) -> Bool = { !edits.isRemoved($0) }
        return kind != .other ? msg.fieldIndex(kind: kind, nth: nth, where: notRemoved)
                              : msg.fieldIndex(named: text(name), nth: nth, where: notRemoved)
    }

    /// isHeaderName on the bytes of a name given through the ABI (no string made).
    static func isHeaderName(_ s: sy_str) -> Bool {
        guard let p = s.s, s.len > 0 else { return false }
        let b = UnsafeRawBufferPointer(start: p, count: s.len)
        for c in b where !isHeaderNameByte(c) { return false }
        return true
    }

    static func isHeaderName(_ n: String) -> Bool {
        !n.isEmpty && n.utf8.allSatisfy(isHeaderNameByte)
    }

    /// RFC 3261 token bytes (digits, letters, - . ! % * _ + ` ' ~) as two 64-bit masks (bit c, bit c - 64).
    @inline(__always) static func isHeaderNameByte(_ c: UInt8) -> Bool {
        let word: UInt64 = c < 64 ? 0x03ff_6ca2_0000_0000 : 0x47ff_ffff_87ff_fffe
        return c < 128 && (word >> UInt64(c & 63)) & 1 != 0
    }

    /// sip_request(_from) and rt_sip_request on a given core: an empty socket chooses by destination.
    static func sipRequest(_ core: (any HostServices)?, _ method: sy_str, _ ruri: sy_str, _ dst: sy_str, _ extra: sy_str,
                           _ socket: sy_str, _ timeout: UInt32, _ done: (@convention(c) (UnsafeMutableRawPointer?, Int32) -> Void)?,
                           _ arg: UnsafeMutableRawPointer?) -> Int32 {
        guard let done else { return -2 }
        guard let sip = core?.engine.sip else { return -1 }
        let argBits = UInt(bitPattern: arg)
        return Int32(sip.local.send(method: HostTable.text(method), ruri: HostTable.text(ruri), dst: HostTable.text(dst),
                                    extraHeaders: HostTable.text(extra), from: HostTable.text(socket), timeoutMS: timeout) { code in
            done(UnsafeMutableRawPointer(bitPattern: argBits), Int32(code))
        })
    }

    static func installSIP(_ h: inout sy_host_api) {
        h.sip_receive = { wp, conn, src, srcLen, buf, len in
            // The worker's context carries the engine, and with it the SIP core: no process-wide lookup per message.
            guard let wp, let src, let buf else { return -1 }
            let w = SIPWorker.from(wp)
            guard let sip = w.ctx.engine.sip else { return -1 }
            let bytes = Array(UnsafeRawBufferPointer(start: buf, count: len))
            return sip.receive(w, conn: conn, source: SocketAddress(src, srcLen), bytes: bytes)
        }

        h.sip_reply = { ctxp, code, reason, extra in
            guard let ctx = HostTable.context(ctxp), let sip = ctx.engine.sip else { return -1 }
            let r = sip.reply(ctx, code: Int(code), reason: HostTable.text(reason),
                              extraHeaders: HostTable.replyExtra(ctx, HostTable.text(extra), code: Int(code)))
            return Int32(r)
        }

        h.sip_header_get = { ctxp, name, index, out in
            guard let ctx = HostTable.context(ctxp), let out else { return -2 }
            guard let msg = ctx.message.sip else { return -2 }
            // A header the core classifies is found by kind, without making a string of its name.
            let kind = HostTable.kind(name)
            guard let i = HostTable.fieldIndex(ctx, msg, kind, name, nth: Int(index)) else { return -1 }
            // The value as changed by the script, if it was; else the received bytes when they are the text.
            if let kept = ctx.message.edits.withReplaced(i, { ctx.cStringKeeper.keep($0) }) {
                out.pointee = kept
            } else if msg.isPlainValue(msg.fields[i]) {
                let r = msg.fields[i].value
                out.pointee = msg.bytes.withUnsafeBufferPointer { ctx.keepCBytes(UnsafeBufferPointer(rebasing: $0[r])) }
            } else {
                out.pointee = ctx.keepCString(msg.value(of: msg.fields[i]))
            }
            return 0
        }

        h.sip_header_set = { ctxp, name, value in
            guard let ctx = HostTable.context(ctxp), let msg = ctx.message.sip else { return -2 }
            let kind = HostTable.kind(name)
            // Via belongs to the core (forwarding and relaying depend on it); a name must be a header name (not empty).
            guard HostTable.isHeaderName(name), kind != .via else { return -3 }
            // A reply built here goes out as built (local_reply_route): refused, as sip_text_replace does.
            guard !ctx.builtReply else { return -5 }
            // The name's text is made only when it is needed (a header the core does not classify, or a new line).
            let present = HostTable.fieldIndex(ctx, msg, kind, name, nth: 0)
            if value.s == nil {
                // Remove the first header of that name still present.
                guard let i = present else { return -1 }
                ctx.message.edits.remove(i)
                return 0
            }
            if let i = present {
                // The usual value, one ASCII line, is kept as its bytes (no string made).
                if let p = value.s, value.len > 0, HostTable.isPlainLine(value) {
                    ctx.message.edits.replace(i, with: UnsafeRawBufferPointer(start: p, count: value.len))
                } else {
                    ctx.message.edits.replace(i, with: HostTable.oneLineText(value))
                }
            } else {
                ctx.message.edits.addBottom("\(HostTable.text(name)): \(HostTable.oneLineText(value))")
            }
            return 0
        }

        h.sip_header_add = { ctxp, line, atTop in
            guard let ctx = HostTable.context(ctxp), ctx.message.sip != nil else { return -2 }
            let l = HostTable.oneLine(HostTable.text(line))
            guard let colon = l.firstIndex(of: ":"), HostTable.isHeaderName(String(l[..<colon]).trimmingCharacters(in: .whitespaces)),
                  HeaderKind.named(String(l[..<colon]).trimmingCharacters(in: .whitespaces)) != .via else { return -3 }
            guard !ctx.builtReply else { return -5 }
            if atTop != 0 { ctx.message.edits.addTop(l) } else { ctx.message.edits.addBottom(l) }
            return 0
        }

        h.sip_header_insert = { ctxp, line, anchor, after in
            guard let ctx = HostTable.context(ctxp), let msg = ctx.message.sip else { return -2 }
            let l = HostTable.oneLine(HostTable.text(line))
            guard let colon = l.firstIndex(of: ":"), HostTable.isHeaderName(String(l[..<colon]).trimmingCharacters(in: .whitespaces)),
                  HeaderKind.named(String(l[..<colon]).trimmingCharacters(in: .whitespaces)) != .via else { return -3 }
            guard !ctx.builtReply else { return -5 }
            // The first field of that name as received: one the script removed still anchors (its place stays).
            let n = HostTable.text(anchor).trimmingCharacters(in: .whitespaces)
            guard !n.isEmpty, let i = msg.fieldIndex(named: n) else { return -1 }
            ctx.message.edits.addAnchored(AnchoredLine(field: i, after: after != 0, line: l))
            return 0
        }

        h.sip_reply_header_add = { ctxp, line in
            guard let ctx = HostTable.context(ctxp), let msg = ctx.message.sip, msg.isRequest else { return -2 }
            let l = HostTable.oneLine(HostTable.text(line))
            guard let colon = l.firstIndex(of: ":"), HostTable.isHeaderName(String(l[..<colon]).trimmingCharacters(in: .whitespaces)),
                  HeaderKind.named(String(l[..<colon]).trimmingCharacters(in: .whitespaces)) != .via else { return -3 }
            ctx.message.edits.addReplyLine(l)
            // After the transaction exists, its own later replies (tm's 408/487...) get the line too, as OpenSIPS's.
            ctx.keptBy?.keep(replyLine: l)
            return 0
        }

        h.sip_request = { method, ruri, dst, extra, timeout, done, arg in
            HostTable.sipRequest(HostBridge.services, method, ruri, dst, extra, sy_str(s: nil, len: 0), timeout, done, arg)
        }

        h.sip_request_from = { method, ruri, dst, extra, socket, timeout, done, arg in
            HostTable.sipRequest(HostBridge.services, method, ruri, dst, extra, socket, timeout, done, arg)
        }
    }
}
