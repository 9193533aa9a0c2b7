// Body parts edited: remove_body_part and add_body_part over ABI 1.16 (the body sent on, with its Content-Length;
// Content-Type through sip_header_set). A multipart body is rebuilt from its parts as received or as earlier calls
// left them.
import SwitchyardPluginKit

/// One part of a body: its raw bytes (part headers, empty line, content; never decoded, so a binary part such as
/// application/isup goes out as received) and its type ("" when it has none).
struct BodyPart {
    let raw: [UInt8]
    let type: String
}

extension SipMsgOps {
    /// The boundary add_body_part gives a body it makes multipart.
    static let partBoundary = "OSS-unique-boundary-42"

    /// The current body as parts and the boundary (nil for a body that is not multipart: one part of its type).
    func currentParts(_ ctx: SYContext) -> (parts: [BodyPart], boundary: String?)? {
        guard let body = host.sipBody(ctx), !body.isEmpty else { return nil }
        let (main, boundary) = SipMsgOps.mediaType(currentType(ctx) ?? "")
        guard main.hasPrefix("multipart/"), let boundary else { return ([BodyPart(raw: body, type: main)], nil) }
        return (SipMsgOps.splitParts(body, boundary: boundary), boundary)
    }

    /// The parts of a multipart body, split on the `--boundary` bytes (the preamble and epilogue dropped).
    static func splitParts(_ body: [UInt8], boundary: String) -> [BodyPart] {
        let delim = Array(("--" + boundary).utf8)
        var marks: [Range<Int>] = []
        var i = 0
        while i + delim.count <= body.count {
            if body[i] == delim[0] && body[i..<(i + delim.count)].elementsEqual(delim) {
                marks.append(i..<(i + delim.count))
                i += delim.count
            } else {
                i += 1
            }
        }
        var parts: [BodyPart] = []
        for (k, m) in marks.enumerated() {
            var lo = m.upperBound
            var hi = k + 1 < marks.count ? marks[k + 1].lowerBound : body.count
            if body[lo..<hi].starts(with: [45, 45]) { break }  // the close delimiter
            // The line end after the delimiter, and the one before the next delimiter, belong to the delimiters.
            if body[lo..<hi].starts(with: [13, 10]) { lo += 2 } else if lo < hi && body[lo] == 10 { lo += 1 }
            if hi - lo >= 2 && body[hi - 2] == 13 && body[hi - 1] == 10 { hi -= 2 } else if hi > lo && body[hi - 1] == 10 { hi -= 1 }
            let raw = Array(body[lo..<hi])
            parts.append(BodyPart(raw: raw, type: partType(raw)))
        }
        return parts
    }

    /// The Content-Type of a part (its header lines decoded as text; text/plain without one, RFC 2046 5.1).
    static func partType(_ raw: [UInt8]) -> String {
        var pos = 0
        while pos < raw.count {
            let end = raw[pos...].firstIndex(of: 10) ?? raw.count
            var line = raw[pos..<end]
            if line.last == 13 { line = line.dropLast() }
            if line.isEmpty { break }  // the empty line ending the part headers
            let text = String(decoding: line, as: UTF8.self)
            if let colon = text.firstIndex(of: ":"),
               Text.equalFold(Text.trim(text[..<colon]), "content-type") || Text.equalFold(Text.trim(text[..<colon]), "c") {
                return mediaType(String(text[text.index(after: colon)...])).0
            }
            pos = end + 1
        }
        return "text/plain"
    }

    /// The Content-Type the message is sent with so far (earlier calls may have set it).
    func currentType(_ ctx: SYContext) -> String? { host.sipHeader(ctx, "Content-Type") }

    /// Sends `parts` as a multipart body with `boundary`.
    func setParts(_ ctx: SYContext, _ parts: [BodyPart], boundary: String, type: String) -> Bool {
        let delim = Array("--\(boundary)".utf8)
        var body: [UInt8] = []
        for p in parts { body += delim + [13, 10] + p.raw + [13, 10] }
        body += delim + Array("--\r\n".utf8)
        return host.sipBodySet(ctx, body) && host.sipHeaderSet(ctx, "Content-Type", type)
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
        let part = BodyPart(raw: Array((headers + "\r\n" + content).utf8), type: mime)
        if let boundary {
            return setParts(ctx, parts + [part], boundary: boundary, type: currentType(ctx) ?? "") ? 1 : -1
        }
        // A single body becomes the first part, with its own type.
        let old = parts[0]
        let head = (old.type.isEmpty ? "" : "Content-Type: \(currentType(ctx) ?? old.type)\r\n") + "\r\n"
        let first = BodyPart(raw: Array(head.utf8) + old.raw, type: old.type)
        let b = SipMsgOps.partBoundary
        return setParts(ctx, [first, part], boundary: b, type: "multipart/mixed;boundary=\(b)") ? 1 : -1
    }
}
