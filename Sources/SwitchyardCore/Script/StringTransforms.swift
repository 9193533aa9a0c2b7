import Foundation

/// The `s.` transformation class. Every case follows OpenSIPS's tr_eval_string: a nil result is a failed
/// transformation (the variable then reads null and prints nothing), `.null` a successful "no value".
enum StringTransforms {
    static let cls = TransformClass(name: "s") { op, params throws(PVResolveError) in
        func need(_ n: Int) throws(PVResolveError) {
            if params.count < n { throw PVResolveError("transformation s.\(op) needs \(n) parameter\(n == 1 ? "" : "s")") }
        }
        @Sendable func str(_ v: Value) -> String { v.stringForm ?? "" }
        @Sendable func bytes(_ v: Value) -> [UInt8] { Array(str(v).utf8) }
        @Sendable func text(_ b: [UInt8]) -> Value { .str(String(decoding: b, as: UTF8.self)) }
        @Sendable func text(_ b: ArraySlice<UInt8>) -> Value { .str(String(decoding: b, as: UTF8.self)) }
        switch op.lowercased() {
        case "len":
            return Transform(name: op) { v, _ in .int(str(v).utf8.count) }
        case "int":
            return Transform(name: op) { v, _ in
                if case .int = v { return v }
                return .int(leadingInt(str(v)))
            }
        case "tolower":
            return Transform(name: op) { v, _ in text(bytes(v).map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }) }
        case "toupper":
            return Transform(name: op) { v, _ in text(bytes(v).map { $0 >= 97 && $0 <= 122 ? $0 - 32 : $0 }) }
        case "reverse":
            return Transform(name: op) { v, _ in text(Array(bytes(v).reversed())) }
        case "trim", "trimr", "triml":
            let o = op.lowercased()
            return Transform(name: op) { v, _ in
                var b = bytes(v)[...]
                let ws: (UInt8) -> Bool = { $0 == 32 || $0 == 9 || $0 == 13 || $0 == 10 }
                if o != "trimr" { while let f = b.first, ws(f) { b.removeFirst() } }
                if o != "triml" { while let l = b.last, ws(l) { b.removeLast() } }
                return text(b)
            }
        case "substr":
            try need(2)
            let off = params[0], len = params[1]
            return Transform(name: op) { v, ctx in
                let b = bytes(v)
                guard var i = off.int(ctx), var j = len.int(ctx) else { return nil }
                if i < 0 {
                    if -i > b.count { return nil }
                    i += b.count
                }
                if i >= b.count { return nil }
                if j < 1 { j = b.count + j - i }
                if i + j > b.count { j = b.count - i }
                return j > 0 ? text(b[i..<(i + j)]) : .str("")
            }
        case "select":
            try need(2)
            let idx = params[0], sep = params[1]
            return Transform(name: op) { v, ctx in
                // {s.select,1,,}: an empty separator followed by another empty part means ','.
                let sepStr = params.count > 2 && sep.string(ctx).isEmpty ? "," : sep.string(ctx)
                guard let sc = sepStr.utf8.first, var i = idx.int(ctx) else { return nil }
                let fields = bytes(v).split(separator: sc, omittingEmptySubsequences: false)
                if i < 0 { i += fields.count }
                guard i >= 0, i < fields.count else { return .null }
                return text(fields[i])
            }
        case "strip", "strip_tail":
            try need(1)
            let n = params[0], tail = op.lowercased() == "strip_tail"
            return Transform(name: op) { v, ctx in
                let b = bytes(v)
                let k = max(0, n.int(ctx) ?? 0)
                if k >= b.count { return .str("") }
                return tail ? text(b.dropLast(k)) : text(b.dropFirst(k))
            }
        case "index", "rindex":
            try need(1)
            let needle = params[0]
            let startP = params.count > 1 ? params[1] : nil
            let forward = op.lowercased() == "index"
            return Transform(name: op) { v, ctx in
                let hay = bytes(v), nd = Array(needle.string(ctx).utf8)
                let n = hay.count
                guard !nd.isEmpty else { return nil }
                var i: Int
                if let sp = startP { guard let x = sp.int(ctx) else { return nil }; i = x } else { i = forward ? 0 : n - 1 }
                // A negative start counts from the end and wraps (-2 and -12 are the same on 10 bytes).
                if i < 0 {
                    if n > 0 { i = (-i) % n; if i > 0 { i = n - i } } else { i = 0 }
                }
                func at(_ k: Int) -> Bool { hay[k..<(k + nd.count)].elementsEqual(nd) }
                if forward {
                    if i >= n || nd.count > n - i { return .null }
                    while i <= n - nd.count { if at(i) { return .int(i) }; i += 1 }
                } else {
                    if nd.count > n { return .null }
                    if i >= n { i = n - 1 }
                    if nd.count > n - i { i = n - nd.count }
                    while i >= 0 { if at(i) { return .int(i) }; i -= 1 }
                }
                return .null
            }
        case "fill.left", "fill.right":
            try need(2)
            let left = op.lowercased() == "fill.left"
            // The pad may be quoted to keep blanks: {s.fill.left,' ',5}.
            var padText: String = { if case .literal(let s) = params[0] { return s } else { return "" } }()
            if case .pv = params[0] { throw PVResolveError("fill transformation does not allow variables") }
            if padText.count > 1 {
                while let l = padText.last, l == " " || l == "\t" { padText.removeLast() }
                if padText.count > 2, let f = padText.first, f == "'" || f == "\"", padText.last == f {
                    padText = String(padText.dropFirst().dropLast())
                }
            }
            guard !padText.isEmpty, padText != "''", padText != "\"\"" else {
                throw PVResolveError("fill transformation is a NOP, maybe use quotes?")
            }
            // OpenSIPS takes the length as a literal only ("fill transformation does not allow PVs").
            if case .pv = params[1] { throw PVResolveError("fill transformation does not allow variables") }
            let pad = Array(padText.utf8), len = params[1]
            return Transform(name: op) { v, ctx in
                let b = bytes(v)
                let want = len.int(ctx) ?? 0
                var k = want - b.count
                if k < 0 { return v }
                // The result has to fit OpenSIPS's transformation buffer (TR_BUFFER_SIZE); a longer one fails.
                if want > maxResult { return nil }
                var fill: [UInt8] = []
                if left {
                    let r = k % pad.count
                    if r != 0 { fill += pad[(pad.count - r)...]; k -= r }
                    while k > 0 { fill += pad; k -= pad.count }
                    return text(fill + b)
                }
                while k > 0 { fill += pad.prefix(k); k -= pad.count }
                return text(b + fill)
            }
        case "width":
            try need(1)
            let len = params[0]
            if case .literal = len, let w = len.literalInt, w < 0 { throw PVResolveError("width negative") }
            return Transform(name: op) { v, ctx in
                let b = bytes(v)
                guard let w = len.int(ctx), w > 0 else { return nil }
                if w <= b.count { return text(b.prefix(w)) }
                // OpenSIPS: "width cant be greater than buffer" (TR_BUFFER_SIZE - 1).
                if w > maxResult { return nil }
                return text(b + [UInt8](repeating: 32, count: w - b.count))
            }
        case "encode.hexa":
            return Transform(name: op) { v, _ in .str(bytes(v).map { String(format: "%02x", $0) }.joined()) }
        case "decode.hexa":
            return Transform(name: op) { v, _ in
                let b = bytes(v)
                var out: [UInt8] = []
                var i = 0
                while i + 1 < b.count {
                    guard let hi = hexDigit(b[i]), let lo = hexDigit(b[i + 1]) else { return nil }
                    out.append(hi << 4 | lo)
                    i += 2
                }
                return text(out)
            }
        case "dec2hex":
            return Transform(name: op) { v, _ in
                let n: Int
                if case .int(let x) = v { n = x } else { guard let x = strictInt(str(v)) else { return nil }; n = x }
                return .str(String(UInt32(truncatingIfNeeded: n), radix: 16))
            }
        case "hex2dec":
            return Transform(name: op) { v, _ in
                if case .int = v { return v }
                var r: UInt32 = 0
                for c in bytes(v) {
                    guard let d = hexDigit(c) else { return nil }
                    r = r << 4 | UInt32(d)
                }
                return .int(Int(Int32(bitPattern: r)))
            }
        case "md5", "sha1", "sha224", "sha256", "sha384", "sha512":
            let f: @Sendable ([UInt8]) -> [UInt8]
            switch op.lowercased() {
            case "md5": f = Digests.md5
            case "sha1": f = Digests.sha1
            case "sha224": f = Digests.sha224
            case "sha256": f = { Digests.sha256($0) }
            case "sha384": f = SHA512.sha384
            default: f = SHA512.sha512
            }
            return Transform(name: op) { v, _ in .str(Digests.hex(f(bytes(v)))) }
        case "date2unix":
            // An RFC 3261 Date header value ("Thu, 13 Jun 2024 12:48:00 GMT") as a UNIX timestamp; anything else fails.
            return Transform(name: op) { v, _ in dateToUnix(str(v)).map { .int($0) } }
        case "crc32":
            return Transform(name: op) { v, _ in .str(String(Digests.crc32(bytes(v)), radix: 16)) }
        case "b64encode":
            return Transform(name: op) { v, _ in .str(Data(bytes(v)).base64EncodedString()) }
        case "b64decode":
            return Transform(name: op) { v, _ in
                guard let d = Data(base64Encoded: str(v)) else { return .str("") }
                return text([UInt8](d))
            }
        case "xor":
            try need(1)
            let secret = params[0]
            return Transform(name: op) { v, ctx in
                let k = Array(secret.string(ctx).utf8)
                guard !k.isEmpty else { return nil }
                return text(bytes(v).enumerated().map { $0.element ^ k[$0.offset % k.count] } as [UInt8])
            }
        case "escape.common":
            return Transform(name: op) { v, _ in
                var o: [UInt8] = []
                for c in bytes(v) {
                    switch c {
                    case 39, 34, 92: o += [92, c]
                    case 0: o += [92, 48]
                    default: o.append(c)
                    }
                }
                return text(o)
            }
        case "unescape.common":
            return Transform(name: op) { v, _ in
                let b = bytes(v)
                var o: [UInt8] = []
                var i = 0
                while i < b.count {
                    if b[i] == 92, i + 1 < b.count, [39, 34, 92, 48].contains(b[i + 1]) {
                        o.append(b[i + 1] == 48 ? 0 : b[i + 1])
                        i += 2
                    } else {
                        o.append(b[i]); i += 1
                    }
                }
                return text(o)
            }
        case "escape.user", "escape.param":
            let extra = Array((op.lowercased() == "escape.user" ? "-_.!~*'()&=+$,;?/" : "-_.!~*'()[]/:&+$").utf8)
            return Transform(name: op) { v, _ in
                var o: [UInt8] = []
                for c in bytes(v) {
                    let alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
                    if alnum || extra.contains(c) { o.append(c) } else { o += Array(String(format: "%%%02x", c).utf8) }
                }
                return text(o)
            }
        case "unescape.user", "unescape.param":
            return Transform(name: op) { v, _ in
                let b = bytes(v)
                var o: [UInt8] = []
                var i = 0
                while i < b.count {
                    if b[i] == 37 {
                        guard i + 2 < b.count, let hi = hexDigit(b[i + 1]), let lo = hexDigit(b[i + 2]) else { return nil }
                        o.append(hi << 4 | lo)
                        i += 3
                    } else {
                        o.append(b[i]); i += 1
                    }
                }
                return text(o)
            }
        case "eval":
            return EvalTransform.make()
        default:
            if let t = try HMAC.transform(op.lowercased(), params) { return t }
            throw PVResolveError("unknown transformation s.\(op)")
        }
    }

    static func hexDigit(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        case 65...70: return c - 55
        default: return nil
        }
    }

    /// SIP-date (rfc1123-date, always GMT: "Thu, 13 Jun 2024 12:48:00 GMT") to seconds since the epoch.
    static func dateToUnix(_ s: String) -> Int? {
        let w = s.split(separator: " ", omittingEmptySubsequences: true)
        guard w.count == 6, w[0].count == 4, w[0].last == ",", w[5] == "GMT",
              let day = Int(w[1]), (1...31).contains(day), let year = Int(w[3]), year >= 1970,
              let mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                .firstIndex(where: { $0.caseInsensitiveEquals(String(w[2])) }) else { return nil }
        let t = w[4].split(separator: ":", omittingEmptySubsequences: false)
        guard t.count == 3, t.allSatisfy({ $0.count == 2 }), let hh = Int(t[0]), let mm = Int(t[1]), let ss = Int(t[2]),
              hh < 24, mm < 60, ss < 61 else { return nil }
        // Days from the civil date (proleptic Gregorian), March-based year.
        let y = mon < 2 ? year - 1 : year
        let era = y / 400, yoe = y - era * 400
        let mp = (mon + 10) % 12  // mon is 0-based
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return days * 86400 + hh * 3600 + mm * 60 + ss
    }

    /// OpenSIPS's TR_BUFFER_SIZE - 1: the longest result a padding transformation may build.
    static let maxResult = 65535

    /// A whole signed decimal ("12" → 12; "12a", "" → nil), as str2sint accepts, in C `int` arithmetic: it wraps
    /// at 32 bits as OpenSIPS's does, and never traps on a long number.
    static func strictInt(_ s: String) -> Int? {
        var b = Array(s.utf8)[...]
        guard !b.isEmpty else { return nil }
        var sign: Int32 = 1
        if b.first == 45 { sign = -1; b.removeFirst() } else if b.first == 43 { b.removeFirst() }
        var n: Int32 = 0
        for c in b {
            guard c >= 48 && c <= 57 else { return nil }
            n = n &* 10 &+ Int32(c - 48)
        }
        return Int(sign &* n)
    }

    /// The leading signed integer of a string, stopping at the first non-digit ("12ab" → 12, " 5" → 0, "x" → 0),
    /// as `{s.int}` converts (str2sint's partial result, its error ignored), wrapping at 32 bits as C `int` does.
    static func leadingInt(_ s: String) -> Int {
        var b = Array(s.utf8)[...]
        var sign: Int32 = 1
        if b.first == 45 { sign = -1; b.removeFirst() } else if b.first == 43 { b.removeFirst() }
        var n: Int32 = 0
        for c in b {
            guard c >= 48 && c <= 57 else { break }
            n = n &* 10 &+ Int32(c - 48)
        }
        return Int(sign &* n)
    }
}
