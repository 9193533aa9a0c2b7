/// The text of `dst_blacklist` values and of the rules the script and MI add: `name:{ rule, rule, ... }` where a rule
/// is `[!](proto, ip[/mask], port, "pattern")`. Errors carry the offset of the offending character in the text.
enum BlacklistParser {
    struct Failure: Error {
        let offset: Int
        let message: String
    }

    /// A whole `dst_blacklist` value: the list's name and its rules.
    static func list(_ text: String) throws(Failure) -> (name: String, rules: [BlacklistRule]) {
        let b = Array(text.utf8)
        var i = 0
        skip(b, &i)
        let nameStart = i
        while i < b.count, b[i] != UInt8(ascii: ":"), b[i] != UInt8(ascii: "{"), !isSpace(b[i]) { i += 1 }
        let name = String(decoding: b[nameStart..<i], as: UTF8.self)
        guard !name.isEmpty else { throw Failure(offset: nameStart, message: "a blacklist needs a name: name:{ rules }") }
        skip(b, &i)
        guard i < b.count, b[i] == UInt8(ascii: ":") else { throw Failure(offset: i, message: "expected ':' after the list name '\(name)'") }
        i += 1
        skip(b, &i)
        guard i < b.count, b[i] == UInt8(ascii: "{") else { throw Failure(offset: i, message: "expected '{' to open the rules of '\(name)'") }
        i += 1
        var rules: [BlacklistRule] = []
        skip(b, &i)
        if i < b.count, b[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                rules.append(try rule(b, &i))
                skip(b, &i)
                guard i < b.count else { throw Failure(offset: i, message: "missing '}' at the end of the rules of '\(name)'") }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "}") { i += 1; break }
                throw Failure(offset: i, message: "expected ',' or '}' after a rule")
            }
        }
        skip(b, &i)
        guard i == b.count else { throw Failure(offset: i, message: "unexpected text after the rules of '\(name)'") }
        return (name, rules)
    }

    /// One rule on its own (add_blacklist_rule, del_blacklist_rule).
    static func rule(_ text: String) throws(Failure) -> BlacklistRule {
        let b = Array(text.utf8)
        var i = 0
        let r = try rule(b, &i)
        skip(b, &i)
        guard i == b.count else { throw Failure(offset: i, message: "unexpected text after the rule") }
        return r
    }

    static func rule(_ b: [UInt8], _ i: inout Int) throws(Failure) -> BlacklistRule {
        skip(b, &i)
        var negated = false
        if i < b.count, b[i] == UInt8(ascii: "!") { negated = true; i += 1; skip(b, &i) }
        guard i < b.count, b[i] == UInt8(ascii: "(") else { throw Failure(offset: i, message: "expected '(' to open a rule") }
        i += 1
        var fields: [(String, Int, Bool)] = []  // text, offset, quoted
        while true {
            skip(b, &i)
            let start = i
            var quoted = false
            var value = ""
            if i < b.count, b[i] == UInt8(ascii: "\"") || b[i] == UInt8(ascii: "'") {
                let q = b[i]
                quoted = true
                i += 1
                let s = i
                while i < b.count, b[i] != q { i += 1 }
                guard i < b.count else { throw Failure(offset: start, message: "unterminated quoted pattern") }
                value = String(decoding: b[s..<i], as: UTF8.self)
                i += 1
            } else {
                while i < b.count, b[i] != UInt8(ascii: ","), b[i] != UInt8(ascii: ")") { i += 1 }
                value = String(decoding: b[start..<i], as: UTF8.self).blTrimmed
            }
            fields.append((value, start, quoted))
            skip(b, &i)
            guard i < b.count else { throw Failure(offset: i, message: "missing ')' at the end of a rule") }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: ")") { i += 1; break }
            throw Failure(offset: i, message: "expected ',' or ')' in a rule")
        }
        guard fields.count == 4 else {
            throw Failure(offset: fields.first?.1 ?? i, message: "a rule has four fields: (proto, ip[/mask], port, \"pattern\"), got \(fields.count)")
        }
        let protoText = fields[0].0.lowercased()
        var proto: String? = protoText
        if protoText == "any" || protoText == "*" {
            proto = nil
        } else if !["udp", "tcp", "tls", "sctp", "ws", "wss"].contains(protoText) {
            throw Failure(offset: fields[0].1, message: "unknown protocol '\(fields[0].0)' (udp, tcp, tls, sctp, ws, wss or any)")
        }
        guard let net = IPNetwork(fields[1].0) else {
            throw Failure(offset: fields[1].1, message: "bad IP or network '\(fields[1].0)' (ip, ip/bits or ip/mask)")
        }
        guard let port = Int(fields[2].0.isEmpty ? "0" : fields[2].0), (0...65535).contains(port) else {
            throw Failure(offset: fields[2].1, message: "bad port '\(fields[2].0)' (0 for any)")
        }
        let pattern = fields[3].0.isEmpty ? nil : fields[3].0
        return BlacklistRule(negated: negated, proto: proto, network: net, port: port, pattern: pattern)
    }

    private static func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 }
    private static func skip(_ b: [UInt8], _ i: inout Int) { while i < b.count, isSpace(b[i]) { i += 1 } }
}
