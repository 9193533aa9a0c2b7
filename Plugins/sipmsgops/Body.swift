// Body and header-value tests: has_body / has_body_part, is_privacy.
import SwitchyardPluginKit

extension SipMsgOps {
    /// has_body([mime]): 1 when the message has a body (with a part of type "type/subtype": the body itself, or one of
    /// the parts of a multipart body), -1 otherwise. Parameters of `mime` are ignored. A "multipart/..." mime is
    /// compared with the message's own Content-Type only. A body without Content-Type has no typed part.
    func hasBody(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        guard let body = host.varString(ctx, v.body), !body.isEmpty else { return -1 }
        let mime = call.isPresent(0) ? SipMsgOps.mediaType(call.string(0)).0 : ""
        if mime.isEmpty { return 1 }
        guard let type = host.varString(ctx, v.contentType), !type.isEmpty else { return -1 }
        let (main, boundary) = SipMsgOps.mediaType(type)
        if mime.hasPrefix("multipart/") || !main.hasPrefix("multipart/") { return main == mime ? 1 : -1 }
        // A multipart body has the type when one of its parts has it.
        guard let boundary else { return -1 }
        return SipMsgOps.partTypes(body, boundary: boundary).contains(mime) ? 1 : -1
    }

    /// "type/subtype" of a Content-Type value (lower-cased) and its boundary parameter, if any.
    static func mediaType(_ value: String) -> (String, String?) {
        let items = value.split(separator: ";")
        let main = items.first.map { String(Text.trim($0)).lowercased() } ?? ""
        var boundary: String?
        for p in items.dropFirst() {
            let kv = Text.trim(p)
            guard let eq = kv.firstIndex(of: "="), Text.equalFold(Text.trim(kv[..<eq]), "boundary") else { continue }
            var b = Text.trim(kv[kv.index(after: eq)...])
            if b.hasPrefix("\""), b.hasSuffix("\""), b.count >= 2 { b = b.dropFirst().dropLast() }
            boundary = String(b)
        }
        return (main, boundary)
    }

    /// The Content-Type of each part of a multipart body (text/plain for a part without one, RFC 2046 5.1).
    static func partTypes(_ body: String, boundary: String) -> [String] {
        var types: [String] = []
        let delimiter = "--" + boundary
        let chunks = body.components(separatedBy: delimiter).dropFirst()  // the preamble
        for chunk in chunks {
            if chunk.hasPrefix("--") { break }  // the close delimiter
            var type = "text/plain"
            // "\r\n" is one Character to Swift: split on it and on a bare "\n".
            for l in chunk.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\r\n" || $0 == "\n" }).dropFirst() {
                if l.isEmpty { break }
                // The compact form "c" names Content-Type in a part as in the message.
                if let colon = l.firstIndex(of: ":"),
                   Text.equalFold(Text.trim(l[..<colon]), "content-type") || Text.equalFold(Text.trim(l[..<colon]), "c") {
                    type = mediaType(String(l[l.index(after: colon)...])).0
                }
            }
            types.append(type)
        }
        return types
    }

    /// The privacy values RFC 3323 and RFC 3325 define (and history, RFC 7044), as is_privacy takes them.
    static let privacyValues: Set<Substring> = ["header", "session", "user", "none", "critical", "id", "history"]

    /// is_privacy(value): 1 when the first Privacy header lists that value, -1 otherwise: also when that header does
    /// not parse (values separated by ';', each one of privacyValues as written, "none" alone) and for a value that
    /// is not a privacy value (which OpenSIPS refuses at startup).
    func isPrivacy(_ call: FunctionCall) -> Int32 {
        let wanted = call.string(0)
        guard SipMsgOps.privacyValues.contains(wanted[...]) else {
            host.log(.err, "is_privacy: '\(wanted)' is not a privacy value (header, session, user, none, critical, id, history)")
            return -1
        }
        guard let value = host.sipHeader(call.context, "Privacy"), let values = SipMsgOps.privacy(value) else { return -1 }
        return values.contains(wanted[...]) ? 1 : -1
    }

    /// The values of a Privacy header, nil when it does not parse.
    static func privacy(_ header: String) -> Set<Substring>? {
        var values: Set<Substring> = []
        for item in header.split(separator: ";", omittingEmptySubsequences: false) {
            let v = Text.trim(item)
            guard privacyValues.contains(v) else { return nil }
            values.insert(v)
        }
        if values.contains("none"), values.count > 1 { return nil }
        return values
    }
}
