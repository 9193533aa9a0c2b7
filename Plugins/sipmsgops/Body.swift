// Body and header-value tests: has_body / has_body_part, is_privacy.
import SwitchyardPluginKit

extension SipMsgOps {
    /// has_body([mime]): 1 when the message has a body (of that type "type/subtype", or, for a multipart body, with a
    /// part of that type), -1 otherwise.
    func hasBody(_ call: FunctionCall) -> Int32 {
        let ctx = call.context
        guard let body = read(ctx, v.body), !body.isEmpty else { return -1 }
        let mime = call.isPresent(0) ? call.string(0) : ""
        if mime.isEmpty { return 1 }
        let type = read(ctx, v.contentType) ?? "application/sdp"  // RFC 3261 20.15: no Content-Type, no body type
        let (main, boundary) = SipMsgOps.mediaType(type)
        if Text.equalFold(main[...], mime) { return 1 }
        // A multipart body has the type when one of its parts has it.
        guard main.hasPrefix("multipart/"), let boundary else { return -1 }
        for partType in SipMsgOps.partTypes(body, boundary: boundary) where Text.equalFold(partType[...], mime) { return 1 }
        return -1
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
            for line in chunk.split(separator: "\n", omittingEmptySubsequences: false).dropFirst() {
                let l = line.hasSuffix("\r") ? line.dropLast() : line
                if l.isEmpty { break }
                if let colon = l.firstIndex(of: ":"), Text.equalFold(Text.trim(l[..<colon]), "content-type") {
                    type = mediaType(String(l[l.index(after: colon)...])).0
                }
            }
            types.append(type)
        }
        return types
    }

    /// The privacy values RFC 3323 and RFC 3325 define, as is_privacy takes them.
    static let privacyValues: Set<String> = ["header", "session", "user", "none", "critical", "id"]

    /// is_privacy(value): 1 when a Privacy header lists that value, -1 otherwise (also for a value RFC 3323/3325 do
    /// not define, which OpenSIPS refuses at startup).
    func isPrivacy(_ call: FunctionCall) -> Int32 {
        let wanted = call.string(0).lowercased()
        guard SipMsgOps.privacyValues.contains(wanted) else {
            host.log(.err, "is_privacy: '\(wanted)' is not a privacy value (header, session, user, none, critical, id)")
            return -1
        }
        var index = 0
        while let value = host.sipHeader(call.context, "Privacy", index: index) {
            for item in value.split(whereSeparator: { $0 == ";" || $0 == "," }) where Text.equalFold(Text.trim(item), wanted) {
                return 1
            }
            index += 1
        }
        return -1
    }
}
