// Body parts edited: remove_body_part and add_body_part over ABI 1.16 (the body sent on, with its Content-Length;
// Content-Type through sip_header_set). A multipart body is rebuilt from its parts as received or as earlier calls
// left them.
import SwitchyardPluginKit

/// One part of a body: its raw text (part headers, empty line, content) and its type ("" when it has none).
struct BodyPart {
    let raw: String
    let type: String
}

extension SipMsgOps {
    /// The boundary add_body_part gives a body it makes multipart.
    static let partBoundary = "OSS-unique-boundary-42"

    /// The current body as parts and the boundary (nil for a body that is not multipart: one part of its type).
    func currentParts(_ ctx: SYContext) -> (parts: [BodyPart], boundary: String?)? {
        guard let bytes = host.sipBody(ctx), !bytes.isEmpty else { return nil }
        let body = String(decoding: bytes, as: UTF8.self)
        let (main, boundary) = SipMsgOps.mediaType(currentType(ctx) ?? "")
        guard main.hasPrefix("multipart/"), let boundary else { return ([BodyPart(raw: body, type: main)], nil) }
        var parts: [BodyPart] = []
        for chunk in body.components(separatedBy: "--" + boundary).dropFirst() {
            if chunk.hasPrefix("--") { break }
            // The line end after the delimiter, and the one before the next delimiter, belong to the delimiters ("\r\n"
            // is one Character to Swift: one dropped either way).
            var raw = Substring(chunk)
            if raw.hasPrefix("\r\n") || raw.hasPrefix("\n") { raw = raw.dropFirst() }
            if raw.hasSuffix("\r\n") || raw.hasSuffix("\n") { raw = raw.dropLast() }
            let type = SipMsgOps.parts("\r\n--x\r\n" + raw + "\r\n--x--", boundary: "x").first?.type ?? "text/plain"
            parts.append(BodyPart(raw: String(raw), type: type))
        }
        return (parts, boundary)
    }

    /// The Content-Type the message is sent with so far (earlier calls may have set it).
    func currentType(_ ctx: SYContext) -> String? { host.sipHeader(ctx, "Content-Type") }

    /// Sends `parts` as a multipart body with `boundary`.
    func setParts(_ ctx: SYContext, _ parts: [BodyPart], boundary: String, type: String) -> Bool {
        let body = parts.map { "--\(boundary)\r\n\($0.raw)\r\n" }.joined() + "--\(boundary)--\r\n"
        return host.sipBodySet(ctx, Array(body.utf8)) && host.sipHeaderSet(ctx, "Content-Type", type)
    }

    /// Sends no body (and no Content-Type).
    func clearBody(_ ctx: SYContext) -> Bool {
        guard host.sipBodySet(ctx, []) else { return false }
        host.sipHeaderRemove(ctx, "Content-Type")
        return true
    }

    /// remove_body_part([mime[, revert]]): without mime, the whole body; with it, every part of that type (with
    /// revert, every part of another type). 1 when something was removed, -1 otherwise.
    func removeBodyPart(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        guard host.canRewrite else {
            host.log(.err, "remove_body_part: this core cannot rewrite messages (needs ABI 1.16)")
            return -1
        }
        guard let (parts, boundary) = currentParts(ctx) else { return -1 }
        guard call.isPresent(0) else { return clearBody(ctx) ? 1 : -1 }
        let mime = SipMsgOps.mediaType(call.string(0)).0
        let revert = call.isPresent(1) && !call.string(1).isEmpty
        let keep = parts.filter { ($0.type == mime) == revert }
        if keep.count == parts.count { return -1 }
        if keep.isEmpty || boundary == nil { return clearBody(ctx) ? 1 : -1 }
        let type = currentType(ctx) ?? "multipart/mixed;boundary=\(boundary!)"
        return setParts(ctx, keep, boundary: boundary!, type: type) ? 1 : -1
    }

    /// add_body_part(body, mime[, headers]): `body` of type `mime` becomes the body when there is none; otherwise the
    /// body becomes (or stays) multipart/mixed with it as the last part, `headers` (whole lines) among its headers.
    func addBodyPart(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        guard host.canRewrite else {
            host.log(.err, "add_body_part: this core cannot rewrite messages (needs ABI 1.16)")
            return -1
        }
        let content = call.string(0), mime = call.string(1)
        let extra = call.isPresent(2) ? call.string(2) : ""
        // (A line end is checked as a byte: "\r\n" is one Character, which hasSuffix("\n") does not find.)
        let headers = "Content-Type: \(mime)\r\n" + extra + (extra.isEmpty || extra.utf8.last == 10 ? "" : "\r\n")
        guard let (parts, boundary) = currentParts(ctx) else {
            return host.sipBodySet(ctx, Array(content.utf8)) && host.sipHeaderSet(ctx, "Content-Type", mime) ? 1 : -1
        }
        let part = BodyPart(raw: headers + "\r\n" + content, type: mime)
        if let boundary {
            return setParts(ctx, parts + [part], boundary: boundary, type: currentType(ctx) ?? "") ? 1 : -1
        }
        // A single body becomes the first part, with its own type.
        let old = parts[0]
        let first = BodyPart(raw: (old.type.isEmpty ? "" : "Content-Type: \(currentType(ctx) ?? old.type)\r\n") + "\r\n" + old.raw,
                             type: old.type)
        let b = SipMsgOps.partBoundary
        return setParts(ctx, [first, part], boundary: b, type: "multipart/mixed;boundary=\(b)") ? 1 : -1
    }
}
