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

    /// nil when the message has no header lines, or when its first line or header lines were not UTF-8: offsets go to
    /// the core as offsets of the received bytes, and text shown with U+FFFD (EF BF BD, 3 bytes for each bad byte)
    /// would shift them. A body that is not UTF-8 shifts nothing before it.
    init?(_ text: String) {
        bytes = Array(text.utf8)
        guard let nl = bytes.firstIndex(of: 10) else { return nil }
        var pos = nl + 1
        let start = pos
        while pos < bytes.count, bytes[pos] != 10, !(bytes[pos] == 13 && pos + 1 < bytes.count && bytes[pos + 1] == 10) {
            pos = (bytes[pos...].firstIndex(of: 10) ?? bytes.count - 1) + 1
        }
        headers = start..<pos
        var i = 0
        while i + 2 < pos {
            if bytes[i] == 0xEF && bytes[i + 1] == 0xBF && bytes[i + 2] == 0xBD { return nil }
            i += 1
        }
    }
}

extension TextOps {
    func registerRewrites(_ m: inout ModuleExportsBuilder) {
        let any = TextOps.anyMessage
        let re = checkRegex, se = checkSubst
        m.function("search_append", params: [.str, .str], routes: any, fixup: re) { [self] call in
            guard let r = regex(call, 0, "search_append") else { return -1 }
            let txt = Array(call.string(1).utf8)
            return rewrite(call, "search_append", headers: true, firstOnly: true) { TextOps.firstMatch(r, txt, $0, insertAfter: true) }
        }
        m.function("replace", params: [.str, .str], routes: any, fixup: re) { [self] call in
            guard let r = regex(call, 0, "replace") else { return -1 }
            let txt = Array(call.string(1).utf8)
            return rewrite(call, "replace", headers: true, firstOnly: true) { TextOps.firstMatch(r, txt, $0, insertAfter: false) }
        }
        m.function("replace_all", params: [.str, .str], routes: any, fixup: re) { [self] call in
            guard let r = regex(call, 0, "replace_all") else { return -1 }
            let txt = Array(call.string(1).utf8)
            return rewrite(call, "replace_all", headers: true, firstOnly: false) { self.allMatches(r, txt, $0, "replace_all") }
        }
        m.function("replace_body", params: [.str, .str], routes: any, fixup: re) { [self] call in
            guard let r = regex(call, 0, "replace_body") else { return -1 }
            let txt = Array(call.string(1).utf8)
            return rewrite(call, "replace_body", headers: false, firstOnly: true) { TextOps.firstMatch(r, txt, $0, insertAfter: false) }
        }
        m.function("replace_body_all", params: [.str, .str], routes: any, fixup: re) { [self] call in
            guard let r = regex(call, 0, "replace_body_all") else { return -1 }
            let txt = Array(call.string(1).utf8)
            return rewrite(call, "replace_body_all", headers: false, firstOnly: false) { self.allMatches(r, txt, $0, "replace_body_all") }
        }
        m.function("subst", params: [.str], routes: any, fixup: se) { [self] call in
            guard let e = subst(call, "subst") else { return -1 }
            return rewrite(call, "subst", headers: true, firstOnly: !e.global) { self.substEdits(e, $0, "subst") }
        }
        m.function("subst_body", params: [.str], routes: any, fixup: se) { [self] call in
            guard let e = subst(call, "subst_body") else { return -1 }
            return rewrite(call, "subst_body", headers: false, firstOnly: !e.global) { self.substEdits(e, $0, "subst_body") }
        }
    }

    /// The edits `find` makes on the header lines (when `headers`) and on the body as it stands, sent on. With
    /// `firstOnly`, the body is searched only when the header lines had no match. 1 when something was changed, -1
    /// when nothing matched (or there is no body to search), or on an error.
    func rewrite(_ call: FunctionCall, _ fn: String, headers: Bool, firstOnly: Bool,
                 _ find: (UnsafeBufferPointer<UInt8>) -> [TextEdit]?) -> Int32 {
        let ctx = call.context
        guard host.canRewrite else {
            host.log(.err, "\(fn): this core cannot rewrite messages (needs ABI 1.16)")
            return -1
        }
        var changed = false
        if headers {
            guard let mb = host.varString(ctx, v.message) else { return -1 }
            guard let msg = MessageText(mb) else {
                host.log(.err, "\(fn): the first line or header lines are not UTF-8: not rewritten")
                return -1
            }
            guard let edits = msg.bytes.withUnsafeBufferPointer({ find(UnsafeBufferPointer(rebasing: $0[msg.headers])) }) else {
                return -1
            }
            var skipped = 0, lastRC: Int32 = 0
            for e in edits {
                let rc = host.sipTextReplace(ctx, offset: msg.headers.lowerBound + e.range.lowerBound, count: e.range.count, e.text)
                if rc == 0 { changed = true; continue }
                if rc == -5 {
                    host.log(.err, "\(fn): a reply built here (local_reply_route) cannot be rewritten")
                    return -1
                }
                skipped += 1
                lastRC = rc
            }
            // Once per call, at debug: replace_all over a Via address would otherwise log on every message.
            if skipped > 0 {
                host.log(.dbg, "\(fn): \(skipped) match(es) left as received (\(lastRC == -3 ? "on a Via or Content-Length line" : "changed before"))")
            }
            if firstOnly && !edits.isEmpty { return changed ? 1 : -1 }
        }
        guard let body = host.sipBody(ctx), !body.isEmpty else { return changed ? 1 : -1 }
        guard let edits = body.withUnsafeBufferPointer({ find($0) }) else { return -1 }
        if !edits.isEmpty {
            guard host.sipBodySet(ctx, body.applying(edits)) else {
                host.log(.err, "\(fn): the body cannot be changed here (a reply built here, in local_reply_route?)")
                return -1
            }
            changed = true
        }
        return changed ? 1 : -1
    }

    /// The first match of `re`, replaced by `txt` (or, with insertAfter, `txt` inserted after it).
    static func firstMatch(_ re: POSIXRegex, _ txt: [UInt8], _ text: UnsafeBufferPointer<UInt8>, insertAfter: Bool) -> [TextEdit] {
        POSIXRegex.withCString(text) { c in
            guard let m = re.firstMatch(c, from: 0), let whole = m[0] else { return [] }
            return [TextEdit(range: insertAfter ? whole.upperBound..<whole.upperBound : whole, text: txt)]
        }
    }

    /// Every match of `re`, each replaced by `txt`; nil (an error, as OpenSIPS) on an empty match.
    func allMatches(_ re: POSIXRegex, _ txt: [UInt8], _ text: UnsafeBufferPointer<UInt8>, _ fn: String) -> [TextEdit]? {
        POSIXRegex.withCString(text) { c -> [TextEdit]? in
            var out: [TextEdit] = []
            var pos = 0
            while pos < text.count,
                  let m = re.firstMatch(c, from: pos, notBOL: pos > 0 && text[pos - 1] != 10 && text[pos - 1] != 13),
                  let whole = m[0] {
                if whole.isEmpty {
                    host.log(.err, "\(fn): the expression matched an empty string")
                    return nil
                }
                out.append(TextEdit(range: whole, text: txt))
                pos = whole.upperBound
            }
            return out
        }
    }

    /// A subst expression's edits; nil (logged) on an empty match.
    func substEdits(_ e: SubstExpr, _ text: UnsafeBufferPointer<UInt8>, _ fn: String) -> [TextEdit]? {
        guard let edits = e.edits(in: text) else {
            host.log(.err, "\(fn): the expression matched an empty string")
            return nil
        }
        return edits
    }
}
