// Header functions: append_hf, insert_hf, append_urihf, remove_hf, remove_hf_re, remove_hf_glob, is_present_hf,
// list_hdr_has_option. Edits go into what the message is sent on as (forward, t_relay, a relayed reply); tests read
// the message as received, less the headers already removed.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit

extension SipMsgOps {
    /// append_hf / insert_hf: each header line of the text last (first) in the message; with `hdr`, right after
    /// (before) the first header of that name, or last when the message has none (as OpenSIPS). 1 added, -1 refused
    /// (not a header line, a Via, no message).
    func addHeaders(_ call: FunctionCall, atTop: Bool) -> Int32 {
        let function = atTop ? "insert_hf" : "append_hf"
        let lines = Text.lines(call.string(0))
        guard call.isPresent(1) else { return add(call.context, lines, atTop: atTop, function: function) }
        let anchor = call.string(1)
        if let bad = lines.first(where: { !SipMsgOps.isAddable($0) }) {  // all lines or none, as without `hdr`
            host.log(.err, "\(function): cannot add '\(bad)' (not a 'Name: value' line, or a Via): nothing added")
            return -1
        }
        for line in lines {
            let rc = host.sipHeaderInsert(call.context, String(line), anchor: anchor, after: !atTop)
            if rc == 0 { continue }
            // No such header: where the form without `hdr` puts it (OpenSIPS: insert before the first header,
            // append after the last).
            if rc == -1, host.sipHeaderAdd(call.context, String(line), atTop: atTop) { continue }
            host.log(.err, "\(function): cannot add '\(line)' (not a 'Name: value' line, a Via, no message, or a reply built here)")
            return -1
        }
        return 1
    }

    func add(_ ctx: SYContext, _ lines: [Substring], atTop: Bool, function: String) -> Int32 {
        guard !lines.isEmpty else { return 1 }
        // All lines or none: refuse the text before adding any of it.
        if let bad = lines.first(where: { !SipMsgOps.isAddable($0) }) {
            host.log(.err, "\(function): cannot add '\(bad)' (not a 'Name: value' line, or a Via): nothing added")
            return -1
        }
        // A block inserted first keeps its order: its lines are added first to last.
        for line in lines {
            guard host.sipHeaderAdd(ctx, String(line), atTop: atTop) else {
                host.log(.err, "\(function): cannot add '\(line)' (not a 'Name: value' line, a Via, no message, or a reply built here)")
                return -1
            }
        }
        return 1
    }

    /// What the core adds: "Name: value" with a token name, not a Via (the core owns Via).
    static func isAddable(_ line: Substring) -> Bool {
        guard let colon = line.firstIndex(of: ":") else { return false }
        let name = Text.trim(line[..<colon])
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else { return false }
        return !Text.equalFold(name, "via") && !Text.equalFold(name, "v")
    }

    @inline(__always) static func isTokenByte(_ c: UInt8) -> Bool {
        switch c {
        case 48...57, 65...90, 97...122: return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "%"), UInt8(ascii: "*"),
             UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "`"), UInt8(ascii: "'"), UInt8(ascii: "~"): return true
        default: return false
        }
    }

    /// append_to_reply(txt): each header line of the text goes into every reply the core builds later for this request
    /// (sl_send_reply, send_reply, t_reply). 1 kept, -1 refused (not a header line, a Via, no request).
    func appendToReply(_ call: FunctionCall) -> Int32 {
        for line in Text.lines(call.string(0)) where !host.sipReplyHeaderAdd(call.context, String(line)) {
            host.log(.err, "append_to_reply: cannot keep '\(line)' (not a 'Name: value' line, a Via, or no request)")
            return -1
        }
        return 1
    }

    /// append_urihf(prefix, suffix): one header made of prefix, the request-URI as received, and suffix, added last.
    func appendURIHeader(_ call: FunctionCall) -> Int32 {
        guard let ruri = withInfo(call.context, { $0.is_request != 0 ? $0.ruri.string : nil }), let ruri else { return -1 }
        let text = call.string(0) + ruri + call.string(1)
        return add(call.context, Text.lines(text), atTop: false, function: "append_urihf")
    }

    /// remove_hf(name): every header of that name (a compact form matches its full name and back). 1 when at least
    /// one was removed, -1 when there was none (or it is a Via, which the core keeps).
    func removeHeader(_ call: FunctionCall) -> Int32 {
        let name = call.string(0)
        var removed = 0
        while host.sipHeaderRemove(call.context, name) { removed += 1 }
        return removed > 0 ? 1 : -1
    }

    /// remove_hf_re(regex) / remove_hf_glob(pattern): every header whose name, as written in the message, matches
    /// (POSIX extended regex, case-insensitive; shell glob, case-insensitive). 1 when one was removed, -1 otherwise.
    func removeMatching(_ call: FunctionCall, regex: Bool) -> Int32 {
        let pattern = call.string(0)
        let fn = regex ? "remove_hf_re" : "remove_hf_glob"
        guard let msg = host.varString(call.context, v.message) else { return -1 }
        let names = SipMsgOps.headerNames(msg)
        var matches: [String]
        if regex {
            var re = regex_t()
            guard regcomp(&re, pattern, REG_EXTENDED | REG_ICASE | REG_NOSUB) == 0 else {
                host.log(.err, "\(fn): bad regular expression '\(pattern)'")
                return -1
            }
            defer { regfree(&re) }
            matches = names.filter { regexec(&re, $0, 0, nil, 0) == 0 }
        } else {
            matches = names.filter { fnmatch(pattern, $0, SipMsgOps.caseFold) == 0 }
        }
        // Via stays (the core owns it); the rest are removed one at a time, first still present first.
        var removed = 0
        for n in matches where host.sipHeaderRemove(call.context, n) { removed += 1 }
        return removed > 0 ? 1 : -1
    }

    /// glibc's FNM_CASEFOLD (a GNU extension the Swift importer does not always expose).
    static let caseFold: Int32 = 1 << 4

    /// The names of the header lines of a message, in order, as written (folded continuation lines skipped).
    static func headerNames(_ msg: String) -> [String] {
        var names: [String] = []
        var first = true
        for line in msg.split(separator: "\r\n", omittingEmptySubsequences: false) {
            if first { first = false; continue }  // the request or status line
            if line.isEmpty { break }
            if line.first == " " || line.first == "\t" { continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let n = Text.trim(line[..<colon])
            if !n.isEmpty { names.append(String(n)) }
        }
        return names
    }

    /// is_present_hf(name): 1 when the message has such a header (not removed by the script), -1 otherwise.
    func isPresent(_ call: FunctionCall) -> Int32 {
        host.sipHeader(call.context, call.string(0)) != nil ? 1 : -1
    }

    /// list_hdr_has_option(name, option): 1 when a comma-separated header (Supported, Require, Allow ...) lists the
    /// option (case-insensitive), -1 otherwise.
    func listHeaderHasOption(_ call: FunctionCall) -> Int32 {
        let name = call.string(0), option = call.string(1)
        var index = 0
        while let value = host.sipHeader(call.context, name, index: index) {
            for item in value.split(separator: ",") where Text.equalFold(Text.trim(item), option) { return 1 }
            index += 1
        }
        return -1
    }
}
