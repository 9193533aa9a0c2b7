import Foundation

/// The `s.` transformation class.
enum StringTransforms {
    static let cls = TransformClass(name: "s") { op, params throws(PVResolveError) in
        func need(_ n: Int) throws(PVResolveError) {
            if params.count < n { throw PVResolveError("transformation s.\(op) needs \(n) parameter\(n == 1 ? "" : "s")") }
        }
        @Sendable func str(_ v: Value) -> String? { v.stringForm }
        switch op {
        case "len":
            return Transform(name: op) { v, _ in .int(str(v)?.utf8.count ?? 0) }
        case "int":
            return Transform(name: op) { v, _ in
                if case .int = v { return v }
                guard let s = str(v) else { return .null }
                return .int(leadingInt(s))
            }
        case "tolower":
            return Transform(name: op) { v, _ in str(v).map { .str($0.lowercased()) } ?? .null }
        case "toupper":
            return Transform(name: op) { v, _ in str(v).map { .str($0.uppercased()) } ?? .null }
        case "reverse":
            return Transform(name: op) { v, _ in str(v).map { .str(String($0.reversed())) } ?? .null }
        case "trim", "trimr", "triml":
            return Transform(name: op) { v, _ in
                guard var s = str(v) else { return .null }
                let ws: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
                if op != "trimr" { while let f = s.first, ws(f) { s.removeFirst() } }
                if op != "triml" { while let l = s.last, ws(l) { s.removeLast() } }
                return .str(s)
            }
        case "substr":
            try need(2)
            let off = params[0], len = params[1]
            return Transform(name: op) { v, ctx in
                guard let s = str(v) else { return .null }
                let b = Array(s.utf8)
                var o = off.int(ctx) ?? 0
                let l = len.int(ctx) ?? 0
                if o < 0 { o = b.count + o }
                guard o >= 0, o <= b.count, l >= 0 else { return .null }
                let end = l == 0 ? b.count : min(b.count, o + l)
                return .str(String(decoding: b[o..<end], as: UTF8.self))
            }
        case "select":
            try need(2)
            let idx = params[0], sep = params[1]
            return Transform(name: op) { v, ctx in
                guard let s = str(v) else { return .null }
                // {s.select,1,,}: an empty separator followed by another empty part means ','.
                let sepStr = params.count > 2 && sep.string(ctx).isEmpty ? "," : sep.string(ctx)
                guard let sc = sepStr.first else { return .null }
                let fields = s.split(separator: sc, omittingEmptySubsequences: false)
                var i = idx.int(ctx) ?? 0
                if i < 0 { i = fields.count + i }
                guard i >= 0, i < fields.count else { return .null }
                return .str(String(fields[i]))
            }
        case "strip", "strip_tail":
            try need(1)
            let n = params[0]
            return Transform(name: op) { v, ctx in
                guard let s = str(v) else { return .null }
                let k = max(0, n.int(ctx) ?? 0)
                if k >= s.count { return .str("") }
                return .str(op == "strip" ? String(s.dropFirst(k)) : String(s.dropLast(k)))
            }
        case "index", "rindex":
            try need(1)
            let needle = params[0]
            let startP = params.count > 1 ? params[1] : nil
            return Transform(name: op) { v, ctx in
                guard let s = str(v) else { return .null }
                let hay = Array(s.utf8), nd = Array(needle.string(ctx).utf8)
                guard !nd.isEmpty, nd.count <= hay.count else { return .int(-1) }
                var start = startP?.int(ctx) ?? (op == "index" ? 0 : hay.count - nd.count)
                if start < 0 { start = hay.count + start }
                let range: [Int] = op == "index"
                    ? Array(stride(from: max(0, start), through: hay.count - nd.count, by: 1))
                    : Array(stride(from: min(start, hay.count - nd.count), through: 0, by: -1))
                for i in range where hay[i..<(i + nd.count)].elementsEqual(nd) { return .int(i) }
                return .int(-1)
            }
        case "fill.left", "fill.right":
            try need(2)
            let tok = params[0], len = params[1]
            return Transform(name: op) { v, ctx in
                guard var s = str(v) else { return .null }
                let t = tok.string(ctx)
                let want = len.int(ctx) ?? 0
                guard !t.isEmpty else { return .str(s) }
                while s.count < want {
                    s = op == "fill.left" ? t + s : s + t
                }
                if s.count > want, want > 0, s.count - want < t.count {
                    s = op == "fill.left" ? String(s.suffix(want)) : String(s.prefix(want))
                }
                return .str(s)
            }
        case "width":
            try need(1)
            let len = params[0]
            return Transform(name: op) { v, ctx in
                guard let s = str(v) else { return .null }
                let w = max(0, len.int(ctx) ?? 0)
                return .str(s.count >= w ? String(s.prefix(w)) : s + String(repeating: " ", count: w - s.count))
            }
        case "encode.hexa":
            return Transform(name: op) { v, _ in str(v).map { .str($0.utf8.map { String(format: "%02x", $0) }.joined()) } ?? .null }
        case "decode.hexa":
            return Transform(name: op) { v, _ in
                guard let s = str(v), s.count % 2 == 0 else { return .null }
                var bytes: [UInt8] = []
                var it = s.makeIterator()
                while let a = it.next(), let b = it.next() {
                    guard let x = UInt8(String([a, b]), radix: 16) else { return .null }
                    bytes.append(x)
                }
                return .str(String(decoding: bytes, as: UTF8.self))
            }
        case "dec2hex":
            return Transform(name: op) { v, _ in
                let n = v.intForm ?? v.stringForm.flatMap { Int($0) }
                return n.map { .str(String($0, radix: 16)) } ?? .null
            }
        case "hex2dec":
            return Transform(name: op) { v, _ in
                guard var s = str(v) else { return .null }
                if s.lowercased().hasPrefix("0x") { s = String(s.dropFirst(2)) }
                return Int(s, radix: 16).map { .int($0) } ?? .null
            }
        case "md5", "sha1", "sha256":
            return Transform(name: op) { v, _ in
                guard let s = str(v) else { return .null }
                let bytes = Array(s.utf8)
                let d = op == "md5" ? Digests.md5(bytes) : (op == "sha1" ? Digests.sha1(bytes) : Digests.sha256(bytes))
                return .str(Digests.hex(d))
            }
        case "crc32":
            return Transform(name: op) { v, _ in str(v).map { .str(String(Digests.crc32(Array($0.utf8)), radix: 16)) } ?? .null }
        case "b64encode":
            return Transform(name: op) { v, _ in str(v).map { .str(Data($0.utf8).base64EncodedString()) } ?? .null }
        case "b64decode":
            return Transform(name: op) { v, _ in
                guard let s = str(v), let d = Data(base64Encoded: s) else { return .null }
                return .str(String(decoding: d, as: UTF8.self))
            }
        case "escape.common":
            return Transform(name: op) { v, _ in
                guard let s = str(v) else { return .null }
                var o = ""
                for c in s {
                    switch c {
                    case "'": o += "\\'"
                    case "\"": o += "\\\""
                    case "\\": o += "\\\\"
                    case "\0": o += "\\0"
                    default: o.append(c)
                    }
                }
                return .str(o)
            }
        case "unescape.common":
            return Transform(name: op) { v, _ in
                guard let s = str(v) else { return .null }
                var o = ""
                var esc = false
                for c in s {
                    if esc { o.append(c == "0" ? "\0" : c); esc = false }
                    else if c == "\\" { esc = true }
                    else { o.append(c) }
                }
                return .str(o)
            }
        case "escape.user", "escape.param":
            let allowed: CharacterSet = {
                var cs = CharacterSet.alphanumerics
                cs.insert(charactersIn: op == "escape.user" ? "-_.!~*'()&=+$,;?/" : "-_.!~*'()[]/:&+$")
                return cs
            }()
            return Transform(name: op) { v, _ in
                str(v).map { .str($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0) } ?? .null
            }
        case "unescape.user", "unescape.param":
            return Transform(name: op) { v, _ in str(v).map { .str($0.removingPercentEncoding ?? $0) } ?? .null }
        default:
            throw PVResolveError("unknown transformation s.\(op)")
        }
    }

    /// Leading signed integer of a string ("12ab" → 12, "x" → 0), as str2sint-based code does.
    static func leadingInt(_ s: String) -> Int {
        var it = s.trimmingCharacters(in: .whitespaces).makeIterator()
        var sign = 1
        var n = 0
        var first = true
        while let c = it.next() {
            if first, c == "-" || c == "+" { sign = c == "-" ? -1 : 1; first = false; continue }
            first = false
            guard let d = c.wholeNumberValue, c.isASCII else { break }
            n = n &* 10 &+ d
        }
        return sign * n
    }
}

/// `uri.`, `param.` and `csv.` classes.
enum URITransforms {
    static let uri = TransformClass(name: "uri") { op, params throws(PVResolveError) in
        @Sendable func parsed(_ v: Value) -> SIPURI? { v.stringForm.flatMap { SIPURI($0) } }
        func part(_ f: @escaping @Sendable (SIPURI) -> String?) -> Transform {
            Transform(name: op) { v, _ in
                guard let u = parsed(v), let s = f(u) else { return .null }
                return .str(s)
            }
        }
        switch op {
        case "user": return part { $0.user }
        case "host": return part { $0.host }
        case "passwd": return part { $0.password ?? "" }
        case "port": return part { $0.port }
        case "params": return part { $0.params }
        case "headers": return part { $0.headers }
        case "schema": return part { $0.scheme }
        case "transport", "ttl", "maddr", "method", "lr", "r2", "uparam":
            let name = op == "uparam" ? nil : op
            if op == "uparam" && params.isEmpty { throw PVResolveError("uri.uparam needs a parameter name") }
            let p = params.first
            return Transform(name: op) { v, ctx in
                guard let u = parsed(v) else { return .null }
                return u.param(name ?? p!.string(ctx)).map { .str($0) } ?? .null
            }
        case "param":
            guard let p = params.first else { throw PVResolveError("uri.param needs a parameter name") }
            return Transform(name: op) { v, ctx in
                guard let u = parsed(v) else { return .null }
                return u.param(p.string(ctx)).map { .str($0) } ?? .null
            }
        default:
            throw PVResolveError("unknown transformation uri.\(op)")
        }
    }

    static func paramList(_ s: String) -> [(String, String?)] {
        s.split(separator: ";").map { p in
            let kv = p.split(separator: "=", maxSplits: 1)
            let k = String(kv[0]).trimmingCharacters(in: .whitespaces)
            return (k, kv.count > 1 ? String(kv[1]) : nil)
        }
    }

    static let param = TransformClass(name: "param") { op, params throws(PVResolveError) in
        switch op {
        case "value", "exist", "valueat", "name":
            guard let p = params.first else { throw PVResolveError("param.\(op) needs a parameter") }
            return Transform(name: op) { v, ctx in
                guard let s = v.stringForm else { return .null }
                let list = paramList(s)
                switch op {
                case "value":
                    let n = p.string(ctx)
                    return list.first { $0.0.caseInsensitiveCompare(n) == .orderedSame }.map { .str($0.1 ?? "") } ?? .null
                case "exist":
                    let n = p.string(ctx)
                    return .int(list.contains { $0.0.caseInsensitiveCompare(n) == .orderedSame } ? 1 : 0)
                default:
                    var i = p.int(ctx) ?? 0
                    if i < 0 { i += list.count }
                    guard i >= 0, i < list.count else { return .null }
                    return .str(op == "name" ? list[i].0 : (list[i].1 ?? ""))
                }
            }
        case "count":
            return Transform(name: op) { v, _ in .int(v.stringForm.map { paramList($0).count } ?? 0) }
        default:
            throw PVResolveError("unknown transformation param.\(op)")
        }
    }

    static let csv = TransformClass(name: "csv") { op, params throws(PVResolveError) in
        switch op {
        case "count":
            return Transform(name: op) { v, _ in .int(v.stringForm.map { $0.split(separator: ",", omittingEmptySubsequences: false).count } ?? 0) }
        case "value":
            guard let p = params.first else { throw PVResolveError("csv.value needs an index") }
            return Transform(name: op) { v, ctx in
                guard let s = v.stringForm else { return .null }
                let f = s.split(separator: ",", omittingEmptySubsequences: false)
                var i = p.int(ctx) ?? 0
                if i < 0 { i += f.count }
                return i >= 0 && i < f.count ? .str(String(f[i])) : .null
            }
        default:
            throw PVResolveError("unknown transformation csv.\(op)")
        }
    }
}
