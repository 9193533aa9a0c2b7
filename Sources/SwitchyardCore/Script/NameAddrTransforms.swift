import Foundation

/// `nameaddr.` and `via.` classes (OpenSIPS's tr_eval_nameaddr / tr_eval_via): a header value parsed on the fly.
/// An empty or unparsable input fails; an absent part is null.
enum NameAddrTransforms {
    /// A To/From-style value: display name (quotes kept, as OpenSIPS's parser keeps them), URI, parameters.
    struct Parsed {
        var display = "", uri = "", params: [(String, String)] = [], paramsText = ""
        /// OpenSIPS's `to_body.body.len`, what `{nameaddr.len}` returns (see `parse`).
        var bodyLen = 0
    }

    /// `last` is false for a body that a ',' ends in a list (the indexed form).
    static func parse(_ text: String, last: Bool = true) -> Parsed? {
        var s = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !s.isEmpty else { return nil }
        var p = Parsed()
        // _parse_to starts the body at the first non-blank byte and ends it at the ';' of the header parameters
        // (blanks before it included). Without parameters the end is the end of the buffer it parses, which is
        // the value plus the CRLF tr_eval_nameaddr appends (so 2 more bytes than the value); in a list, a body that
        // a ',' ends without parameters keeps a length of 0.
        let lead = text.utf8.prefix { $0 == 32 || $0 == 9 }.count
        p.bodyLen = last ? text.utf8.count - lead + 2 : 0
        var rest: Substring
        if s.first == "\"" {
            var i = s.index(after: s.startIndex)
            while i < s.endIndex, s[i] != "\"" { if s[i] == "\\" { i = s.index(after: i) }; if i < s.endIndex { i = s.index(after: i) } }
            guard i < s.endIndex else { return nil }
            p.display = String(s[...i])
            s = s[s.index(after: i)...]
        }
        if let lt = s.firstIndex(of: "<") {
            if p.display.isEmpty { p.display = s[..<lt].trimmingCharacters(in: .whitespaces) }
            guard let gt = s[lt...].firstIndex(of: ">") else { return nil }
            p.uri = String(s[s.index(after: lt)..<gt])
            rest = s[s.index(after: gt)...]
        } else {
            guard p.display.isEmpty else { return nil }
            let semi = s.firstIndex(of: ";") ?? s.endIndex
            p.uri = s[..<semi].trimmingCharacters(in: .whitespaces)
            rest = s[semi...]
        }
        let r = rest.trimmingCharacters(in: .whitespaces)
        if r.hasPrefix(";"), let semi = rest.firstIndex(of: ";") {
            // `rest` is a slice of the trimmed value, which starts at the body: the body is everything before ';'.
            p.bodyLen = s.base.utf8.distance(from: s.base.startIndex, to: semi)
            p.paramsText = String(r.dropFirst()).trimmingCharacters(in: .whitespaces)
            for (k, v) in URITransforms.paramList(p.paramsText) {
                var val = v ?? ""
                if val.count >= 2, let f = val.first, f == "\"", val.last == f { val = String(val.dropFirst().dropLast()) }
                p.params.append((k, val))
            }
        } else if !r.isEmpty {
            return nil
        }
        return p
    }

    /// Splits a comma-separated list of name-addrs at the commas outside quotes and `<...>` (parse_multi_to).
    static func split(_ text: String) -> [String] {
        var out: [String] = [], cur: [UInt8] = []
        var quoted = false, angle = false, escaped = false
        for c in text.utf8 {
            if escaped { escaped = false; cur.append(c); continue }
            switch c {
            case 92 where quoted: escaped = true
            case 34 where !angle: quoted.toggle()
            case 60 where !quoted: angle = true
            case 62 where !quoted: angle = false
            case 44 where !quoted && !angle:
                out.append(String(decoding: cur, as: UTF8.self)); cur = []; continue
            default: break
            }
            cur.append(c)
        }
        out.append(String(decoding: cur, as: UTF8.self))
        return out
    }

    static let nameaddr = TransformClass(name: "nameaddr") { fullOp, params throws(PVResolveError) in
        // Since OpenSIPS 3.4 an index may come first ({nameaddr.0.name}, {nameaddr.-1.uri}): the value is then a
        // comma-separated list and the index picks one (negative counts from the end).
        var op = fullOp
        var pick: Int? = nil
        if let dot = fullOp.firstIndex(of: "."), let n = Int(fullOp[..<dot]) {
            pick = n
            op = String(fullOp[fullOp.index(after: dot)...])
        }
        let index = pick
        @Sendable func parsed(_ v: Value) -> Parsed? {
            guard let s = v.stringForm, !s.isEmpty else { return nil }
            guard let index else { return parse(s) }
            let items = split(s)
            let i = index < 0 ? items.count + index : index
            guard i >= 0, i < items.count else { return nil }
            return parse(items[i], last: i == items.count - 1)
        }
        @Sendable func nonEmpty(_ s: String) -> Value { s.isEmpty ? .null : .str(s) }
        switch op.lowercased() {
        case "uri": return Transform(name: op) { v, _ in parsed(v).map { nonEmpty($0.uri) } }
        case "name": return Transform(name: op) { v, _ in parsed(v).map { nonEmpty($0.display) } }
        case "len": return Transform(name: op) { v, _ in parsed(v).map { .int($0.bodyLen) } }
        case "params": return Transform(name: op) { v, _ in parsed(v).map { nonEmpty($0.paramsText) } }
        case "param":
            guard let p = params.first, case .literal(let name) = p else {
                throw PVResolveError("nameaddr.param needs a parameter name (a string, not a variable)")
            }
            // The name is matched case-sensitively, as OpenSIPS does.
            return Transform(name: op) { v, _ in
                parsed(v).map { pa in nonEmpty(pa.params.first { $0.0 == name }?.1 ?? "") }
            }
        default:
            throw PVResolveError("unknown transformation nameaddr.\(fullOp)")
        }
    }

    /// One Via body: `SIP/2.0/UDP host[:port][;params][ (comment)]`.
    struct Via {
        var name = "", version = "", transport = "", host = "", port = "", params = "", comment = ""
        var list: [(String, String?)] = []
    }

    static func parseVia(_ text: String) -> Via? {
        var s = Substring(text.trimmingCharacters(in: .whitespaces))
        var v = Via()
        if s.hasSuffix(")"), let open = s.lastIndex(of: "(") {
            v.comment = String(s[s.index(after: open)..<s.index(before: s.endIndex)])
            s = Substring(s[..<open].trimmingCharacters(in: .whitespaces))
        }
        let proto = s.prefix { !$0.isWhitespace }
        let parts = proto.split(separator: "/", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty, !parts[2].isEmpty else { return nil }
        (v.name, v.version, v.transport) = (parts[0], parts[1], parts[2])
        let sentBy = s[proto.endIndex...].trimmingCharacters(in: .whitespaces)
        let semi = sentBy.firstIndex(of: ";") ?? sentBy.endIndex
        let hostPort = sentBy[..<semi].trimmingCharacters(in: .whitespaces)
        guard !hostPort.isEmpty else { return nil }
        if hostPort.hasPrefix("["), let close = hostPort.firstIndex(of: "]") {
            v.host = String(hostPort[...close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") { v.port = String(after.dropFirst()) }
        } else if let c = hostPort.lastIndex(of: ":") {
            v.host = String(hostPort[..<c])
            v.port = String(hostPort[hostPort.index(after: c)...])
        } else {
            v.host = hostPort
        }
        if semi < sentBy.endIndex {
            v.params = String(sentBy[sentBy.index(after: semi)...]).trimmingCharacters(in: .whitespaces)
            v.list = URITransforms.paramList(v.params)
        }
        return v
    }

    static let via = TransformClass(name: "via") { op, params throws(PVResolveError) in
        @Sendable func parsed(_ v: Value) -> Via? {
            guard let s = v.stringForm, s.utf8.count > 2 else { return nil }
            return parseVia(s)
        }
        func part(_ f: @escaping @Sendable (Via) -> String) -> Transform {
            Transform(name: op) { v, _ in
                guard let via = parsed(v) else { return nil }
                let s = f(via)
                return s.isEmpty ? .null : .str(s)
            }
        }
        @Sendable func param(_ via: Via, _ name: String) -> String? {
            via.list.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }.map { $0.1 ?? "" }
        }
        switch op.lowercased() {
        case "name": return part { $0.name }
        case "version": return part { $0.version }
        case "transport": return part { $0.transport }
        case "host", "domain": return part { $0.host }
        case "port":
            return Transform(name: op) { v, _ in
                guard let via = parsed(v) else { return nil }
                if via.port.isEmpty { return .null }
                return Int(via.port).map { .int($0) } ?? .str(via.port)
            }
        case "params": return part { $0.params }
        case "comment": return part { $0.comment }
        case "branch", "received", "rport":
            let name = op.lowercased()
            return part { param($0, name) ?? "" }
        case "param":
            guard let p = params.first else { throw PVResolveError("via.param needs a parameter name") }
            return Transform(name: op) { v, ctx in
                guard let via = parsed(v) else { return nil }
                return param(via, p.string(ctx)).map { .str($0) } ?? .null
            }
        default:
            throw PVResolveError("unknown transformation via.\(op)")
        }
    }
}
