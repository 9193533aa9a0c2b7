// The rewriting functions: search_append, replace, replace_all, subst on the header lines and body (never the first
// line, as OpenSIPS), replace_body, replace_body_all, subst_body on the body. Header lines are rewritten as received
// bytes replaced (the core's sip_text_replace); the body is rewritten whole, starting from what earlier functions
// left, and the core sends it with its new Content-Length.
import SwitchyardPluginKit

/// The message as received, split where the functions need it.
struct MessageText {
    let bytes: [UInt8]
    /// The header lines: after the first line, up to the empty line.
    let headers: Range<Int>

    init?(_ text: String) {
        // Offsets go to the core as offsets of the received bytes: text that was not UTF-8 (shown with U+FFFD) would
        // shift them.
        guard !text.unicodeScalars.contains("\u{FFFD}") else { return nil }
        bytes = Array(text.utf8)
        guard let nl = bytes.firstIndex(of: 10) else { return nil }
        var pos = nl + 1
        let start = pos
        while pos < bytes.count, bytes[pos] != 10, !(bytes[pos] == 13 && pos + 1 < bytes.count && bytes[pos + 1] == 10) {
            pos = (bytes[pos...].firstIndex(of: 10) ?? bytes.count - 1) + 1
        }
        headers = start..<pos
    }

    var headerBytes: [UInt8] { Array(bytes[headers]) }
}

extension TextOps {
    func registerRewrites(_ m: inout ModuleExportsBuilder) {
        let any = TextOps.anyMessage
        let re = TextOps.checkRegex, se = TextOps.checkSubst
        m.function("search_append", params: [.str, .str], routes: any, fixup: re) { [self] call in
            rewrite(call, "search_append", headers: true, firstOnly: true) { self.firstMatch(call, $0, insertAfter: true) }
        }
        m.function("replace", params: [.str, .str], routes: any, fixup: re) { [self] call in
            rewrite(call, "replace", headers: true, firstOnly: true) { self.firstMatch(call, $0, insertAfter: false) }
        }
        m.function("replace_all", params: [.str, .str], routes: any, fixup: re) { [self] call in
            rewrite(call, "replace_all", headers: true, firstOnly: false) { self.allMatches(call, $0) }
        }
        m.function("replace_body", params: [.str, .str], routes: any, fixup: re) { [self] call in
            rewrite(call, "replace_body", headers: false, firstOnly: true) { self.firstMatch(call, $0, insertAfter: false) }
        }
        m.function("replace_body_all", params: [.str, .str], routes: any, fixup: re) { [self] call in
            rewrite(call, "replace_body_all", headers: false, firstOnly: false) { self.allMatches(call, $0) }
        }
        m.function("subst", params: [.str], routes: any, fixup: se) { [self] call in
            guard let e = subst(call, "subst") else { return -1 }
            return rewrite(call, "subst", headers: true, firstOnly: !e.global) { e.edits(in: $0) }
        }
        m.function("subst_body", params: [.str], routes: any, fixup: se) { [self] call in
            guard let e = subst(call, "subst_body") else { return -1 }
            return rewrite(call, "subst_body", headers: false, firstOnly: !e.global) { e.edits(in: $0) }
        }
    }

    /// The edits `find` makes on the header lines (when `headers`) and on the body as it stands, sent on. With
    /// `firstOnly`, the body is searched only when the header lines had no match. 1 when something was changed, -1
    /// when nothing matched (or there is no body to search), or on an error.
    func rewrite(_ call: FunctionCall, _ fn: String, headers: Bool, firstOnly: Bool, _ find: ([UInt8]) -> [TextEdit]?) -> Int32 {
        let ctx = call.context
        guard host.canRewrite else {
            host.log(.err, "\(fn): this core cannot rewrite messages (needs ABI 1.16)")
            return -1
        }
        var changed = false
        if headers {
            guard let mb = read(ctx, v.message), let msg = MessageText(mb) else { return -1 }
            guard let edits = find(msg.headerBytes) else { return -1 }
            for e in edits {
                let rc = host.sipTextReplace(ctx, offset: msg.headers.lowerBound + e.range.lowerBound, count: e.range.count, e.text)
                if rc == 0 { changed = true; continue }
                host.log(.warn, "\(fn): cannot change '\(String(decoding: msg.bytes[(msg.headers.lowerBound + e.range.lowerBound)...].prefix(e.range.count), as: UTF8.self))' (\(rc == -3 ? "a Via line" : "changed before"))")
            }
            if firstOnly && !edits.isEmpty { return changed ? 1 : -1 }
        }
        guard let body = host.sipBody(ctx), !body.isEmpty else { return changed ? 1 : -1 }
        guard let edits = find(body) else { return -1 }
        if !edits.isEmpty {
            guard host.sipBodySet(ctx, body.applying(edits)) else { return -1 }
            changed = true
        }
        return changed ? 1 : -1
    }

    /// The first match of argument 0, replaced by argument 1 (or, with insertAfter, argument 1 inserted after it).
    func firstMatch(_ call: FunctionCall, _ text: [UInt8], insertAfter: Bool) -> [TextEdit]? {
        guard let re = regex(call, 0, insertAfter ? "search_append" : "replace") else { return nil }
        let c = text.map { CChar(bitPattern: $0) } + [0]
        guard let m = re.firstMatch(c, from: 0), let whole = m[0] else { return [] }
        let repl = Array(call.string(1).utf8)
        return [TextEdit(range: insertAfter ? whole.upperBound..<whole.upperBound : whole, text: repl)]
    }

    /// Every match of argument 0, each replaced by argument 1; nil (an error, as OpenSIPS) on an empty match.
    func allMatches(_ call: FunctionCall, _ text: [UInt8]) -> [TextEdit]? {
        guard let re = regex(call, 0, "replace_all") else { return nil }
        let c = text.map { CChar(bitPattern: $0) } + [0]
        let repl = Array(call.string(1).utf8)
        var out: [TextEdit] = []
        var pos = 0
        while pos < text.count, let m = re.firstMatch(c, from: pos, notBOL: pos > 0 && text[pos - 1] != 10 && text[pos - 1] != 13),
              let whole = m[0] {
            if whole.isEmpty {
                host.log(.err, "replace_all: the expression matched an empty string")
                return nil
            }
            out.append(TextEdit(range: whole, text: repl))
            pos = whole.upperBound
        }
        return out
    }
}
