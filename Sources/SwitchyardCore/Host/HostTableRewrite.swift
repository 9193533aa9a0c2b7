import SwitchyardABI
import SwitchyardSIP

/// ABI 1.16: the message text rewritten (textops's replace/subst, sipmsgops's codec_* and change_reply_status).
extension HostTable {
    static func installRewrite(_ h: inout sy_host_api) {
        h.sip_text_replace = { ctxp, offset, len, text in
            guard let ctx = HostTable.context(ctxp), let msg = ctx.message.sip else { return -2 }
            let lo = Int(offset), hi = Int(offset) + Int(len)
            return Int32(HostTable.textReplace(&ctx.message.edits, msg, lo..<hi, HostTable.bytes(text)))
        }
        h.sip_body_get = { ctxp, out in
            guard let ctx = HostTable.context(ctxp), let out, let msg = ctx.message.sip else { return -2 }
            if let body = ctx.message.edits.body {
                out.pointee = body.withUnsafeBufferPointer { ctx.keepCBytes($0) }
            } else {
                out.pointee = msg.bytes.withUnsafeBufferPointer { ctx.keepCBytes(UnsafeBufferPointer(rebasing: $0[msg.bodyRange])) }
            }
            return 0
        }
        h.sip_body_set = { ctxp, body in
            guard let ctx = HostTable.context(ctxp), ctx.message.sip != nil else { return -2 }
            guard body.s != nil else { return -3 }
            ctx.message.edits.setBody(HostTable.bytes(body))
            return 0
        }
        h.sip_status_set = { ctxp, code, reason in
            guard let ctx = HostTable.context(ctxp), let msg = ctx.message.sip else { return -2 }
            guard !msg.isRequest else { return -1 }
            guard (100...699).contains(code) else { return -3 }
            ctx.message.edits.setStatusLine("SIP/2.0 \(code) \(HostTable.oneLineText(reason))")
            return 0
        }
    }

    /// sip_text_replace's checks: the range within the header lines, on no Via line, overlapping no earlier one.
    /// Returns 0 kept, -1 out of the header lines or overlapping, -3 on a Via line.
    static func textReplace(_ edits: inout HeaderEdits, _ msg: SIPMessage, _ range: Range<Int>, _ text: [UInt8]) -> Int {
        guard let first = msg.fields.first, let last = msg.fields.last,
              range.lowerBound >= first.line.lowerBound, range.upperBound <= last.line.upperBound else { return -1 }
        for f in msg.fields where f.kind == .via {
            // An insertion at a Via line's start belongs to that line too (it would go out inside the core's Via).
            if f.line.overlaps(range) || (range.isEmpty && f.line.contains(range.lowerBound)) { return -3 }
        }
        return edits.addTextEdit(TextReplacement(range: range, text: text)) ? 0 : -1
    }
}
