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

    /// A header value or line as one line: CR and LF would end the header block early.
    static func oneLine(_ s: String) -> String {
        var t = s
        while t.hasSuffix("\r\n") || t.hasSuffix("\n") || t.hasSuffix("\r") { t.removeLast() }
        return t.contains(where: { $0 == "\r" || $0 == "\n" }) ? t.replacingOccurrences(of: "\r\n", with: " ")
            .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " ") : t
    }

    static func isHeaderName(_ n: String) -> Bool {
        !n.isEmpty && n.utf8.allSatisfy { c in
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || "-.!%*_+`'~".utf8.contains(c)
        }
    }

    static func installSIP(_ h: inout sy_host_api) {
        h.sip_receive = { wp, conn, src, srcLen, buf, len in
            // The worker knows its engine: no look-up of the global services (a lock) per message.
            guard let wp, let src, let buf else { return -1 }
            let w = SIPWorker.from(wp)
            guard let sip = w.ctx.engine.sip else { return -1 }
            let bytes = Array(UnsafeRawBufferPointer(start: buf, count: len))
            return sip.receive(w, conn: conn, source: SocketAddress(src, srcLen), bytes: bytes)
        }

        h.sip_reply = { ctxp, code, reason, extra in
            guard let ctx = HostTable.context(ctxp), let sip = ctx.engine.sip else { return -1 }
            let r = sip.reply(ctx, code: Int(code), reason: HostTable.text(reason), extraHeaders: HostTable.text(extra))
            return Int32(r)
        }

        h.sip_header_get = { ctxp, name, index, out in
            guard let ctx = HostTable.context(ctxp), let out else { return -2 }
            guard let msg = ctx.message.sip else { return -2 }
            let n = HostTable.text(name)
            // The value as changed by the script, if it was.
            var seen = 0
            var found: String? = nil
            for i in msg.fieldIndexes(named: n) where !ctx.message.edits.removed.contains(i) {
                if seen == Int(index) {
                    found = ctx.message.edits.replaced[i] ?? msg.value(of: msg.fields[i])
                    break
                }
                seen += 1
            }
            guard let value = found else { return -1 }
            out.pointee = ctx.keepCString(value)
            return 0
        }

        h.sip_header_set = { ctxp, name, value in
            guard let ctx = HostTable.context(ctxp), let msg = ctx.message.sip else { return -2 }
            let n = HostTable.text(name), v = HostTable.oneLine(HostTable.text(value))
            // Via belongs to the core (forwarding and relaying depend on it); a name must be a header name.
            guard !n.isEmpty, HostTable.isHeaderName(n), HeaderKind.named(n) != .via else { return -3 }
            if value.s == nil {
                // Remove the first header of that name still present.
                for i in msg.fieldIndexes(named: n) where !ctx.message.edits.removed.contains(i) {
                    ctx.message.edits.removed.insert(i)
                    return 0
                }
                return -1
            }
            if let i = msg.fieldIndexes(named: n).first(where: { !ctx.message.edits.removed.contains($0) }) {
                ctx.message.edits.replaced[i] = v
            } else {
                ctx.message.edits.bottom.append("\(n): \(v)")
            }
            return 0
        }

        h.sip_header_add = { ctxp, line, atTop in
            guard let ctx = HostTable.context(ctxp), ctx.message.sip != nil else { return -2 }
            let l = HostTable.oneLine(HostTable.text(line))
            guard let colon = l.firstIndex(of: ":"), HostTable.isHeaderName(String(l[..<colon]).trimmingCharacters(in: .whitespaces)),
                  HeaderKind.named(String(l[..<colon]).trimmingCharacters(in: .whitespaces)) != .via else { return -3 }
            if atTop != 0 { ctx.message.edits.top.append(l) } else { ctx.message.edits.bottom.append(l) }
            return 0
        }

        h.sip_request = { method, ruri, dst, extra, timeout, done, arg in
            guard let done else { return -2 }
            guard let sip = HostBridge.services?.engine.sip else { return -1 }
            let argBits = UInt(bitPattern: arg)
            return Int32(sip.local.send(method: HostTable.text(method), ruri: HostTable.text(ruri), dst: HostTable.text(dst),
                                        extraHeaders: HostTable.text(extra), timeoutMS: timeout) { code in
                done(UnsafeMutableRawPointer(bitPattern: argBits), Int32(code))
            })
        }

        h.sip_request_from = { method, ruri, dst, extra, socket, timeout, done, arg in
            guard let done else { return -2 }
            guard let sip = HostBridge.services?.engine.sip else { return -1 }
            let argBits = UInt(bitPattern: arg)
            return Int32(sip.local.send(method: HostTable.text(method), ruri: HostTable.text(ruri), dst: HostTable.text(dst),
                                        extraHeaders: HostTable.text(extra), from: HostTable.text(socket),
                                        timeoutMS: timeout) { code in
                done(UnsafeMutableRawPointer(bitPattern: argBits), Int32(code))
            })
        }
    }
}
