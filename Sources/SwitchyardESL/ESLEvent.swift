/// Event serialisation formats.
public enum ESLEventFormat: String, Sendable, Equatable, Hashable, CaseIterable {
    case plain, json, xml

    public var contentType: ESLContentType {
        switch self {
        case .plain: return .eventPlain
        case .json: return .eventJSON
        case .xml: return .eventXML
        }
    }
}

/// A decoded FreeSWITCH event: headers in event order (values decoded; array headers as `ARRAY::a|:b`)
/// and an optional body (e.g. the API output of a BACKGROUND_JOB).
/// For a text/event-json frame the raw JSON text is the frame's `bodyString`.
public struct ESLEvent: Sendable, Equatable {
    public var headers: [ESLHeader]
    public var body: String?

    public init(headers: [ESLHeader], body: String? = nil) {
        self.headers = headers
        self.body = body
    }

    public subscript(_ name: String) -> String? {
        get {
            for h in headers where h.name.caseInsensitiveEquals(name) { return h.value }
            return nil
        }
        set {
            if let i = headers.firstIndex(where: { $0.name.caseInsensitiveEquals(name) }) {
                if let newValue { headers[i].value = newValue } else { headers.remove(at: i) }
            } else if let newValue {
                headers.append(ESLHeader(name, newValue))
            }
        }
    }

    public var name: String? { self["Event-Name"] }
    public var subclass: String? { self["Event-Subclass"] }
    public var uniqueID: String? { self["Unique-ID"] }
    public var jobUUID: String? { self["Job-UUID"] }
    public var coreUUID: String? { self["Core-UUID"] }

    /// The items of an array header (`ARRAY::a|:b`), or the single value.
    public func values(_ name: String) -> [String] {
        guard let v = self[name] else { return [] }
        guard v.hasPrefix("ARRAY::") else { return [v] }
        return v.dropFirst(7).components(separatedByString: "|:")
    }

    // MARK: decoding

    /// Decodes a text/event-json payload (a flat JSON object; `_body` becomes the body and the JSON
    /// `Content-Length` key that accompanies it is dropped).
    public static func decode(json: [UInt8]) throws -> ESLEvent {
        var p = FlatJSON(json)
        let pairs = try p.parseObject()
        var headers: [ESLHeader] = []
        headers.reserveCapacity(pairs.count)
        var body: String? = nil
        for (k, v) in pairs {
            if k == "_body" { body = v } else { headers.append(ESLHeader(k, v)) }
        }
        if body != nil, let i = headers.lastIndex(where: { $0.name == "Content-Length" }) { headers.remove(at: i) }
        return ESLEvent(headers: headers, body: body)
    }

    public static func decode(json: String) throws -> ESLEvent { try decode(json: Array(json.utf8)) }

    /// Decodes a text/event-plain payload: URL-encoded header lines, blank line, and if the inner
    /// headers carry `Content-Length`, that many bytes of body.
    public static func decode(plain: [UInt8]) throws -> ESLEvent {
        var headers: [ESLHeader] = []
        var i = 0
        let n = plain.count
        var bodyLength: Int? = nil
        while i < n {
            var e = i
            while e < n && plain[e] != 0x0A { e += 1 }
            var le = e
            if le > i && plain[le - 1] == 0x0D { le -= 1 }
            let line = plain[i..<le]
            i = e + 1
            if line.isEmpty { break }
            let h = try splitHeaderLine(line, urlDecode: true)
            if h.name.caseInsensitiveEquals("Content-Length") {
                bodyLength = try parseContentLength(h.value, max: ESLParser.maxBodyBytes)
            } else {
                headers.append(h)
            }
        }
        var body: String? = nil
        if let bl = bodyLength {
            let s = min(i, n)
            guard n - s >= bl else { throw ESLError.malformedEvent("plain body shorter than its Content-Length") }
            body = String(decoding: plain[s..<(s + bl)], as: UTF8.self)
        }
        return ESLEvent(headers: headers, body: body)
    }

    public static func decode(plain: String) throws -> ESLEvent { try decode(plain: Array(plain.utf8)) }

    /// Decodes a text/event-xml payload (`<event><headers><Name>urlencoded</Name>...</headers>[<body>..</body>]</event>`).
    public static func decode(xml: [UInt8]) throws -> ESLEvent {
        let s = String(decoding: xml, as: UTF8.self)
        guard let hs = s.range(of: "<headers>") else { throw ESLError.malformedEvent("no <headers> element") }
        let he = s.range(of: "</headers>", range: hs.upperBound..<s.endIndex)?.lowerBound ?? s.endIndex
        var headers: [ESLHeader] = []
        var cur = hs.upperBound
        while let open = s.range(of: "<", range: cur..<he) {
            guard let close = s.range(of: ">", range: open.upperBound..<he) else { break }
            let name = String(s[open.upperBound..<close.lowerBound])
            if name.hasPrefix("/") || name.isEmpty { cur = close.upperBound; continue }
            if name.hasSuffix("/") {  // <Name/>
                headers.append(ESLHeader(String(name.dropLast()), ""))
                cur = close.upperBound
                continue
            }
            guard let end = s.range(of: "</\(name)>", range: close.upperBound..<he) else {
                throw ESLError.malformedEvent("unterminated <\(name)>")
            }
            let raw = xmlUnescape(String(s[close.upperBound..<end.lowerBound]))
            headers.append(ESLHeader(name, ESLURL.decode(raw)))
            cur = end.upperBound
        }
        var body: String? = nil
        if let bs = s.range(of: "<body>", range: he..<s.endIndex),
           let be = s.range(of: "</body>", range: bs.upperBound..<s.endIndex) {
            body = xmlUnescape(String(s[bs.upperBound..<be.lowerBound]))
        }
        return ESLEvent(headers: headers, body: body)
    }

    // MARK: encoding (payloads; ESLEncoder.event wraps them in a frame)

    /// Plain payload exactly as FreeSWITCH writes it.
    public func plainPayload() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(headers.count * 48)
        for h in headers {
            out.append(contentsOf: Array(h.name.utf8)); out.append(0x3A); out.append(0x20)
            ESLURL.appendEncoded(h.value, to: &out)
            out.append(0x0A)
        }
        if let body {
            out.append(contentsOf: Array("Content-Length: \(body.utf8.count)\n\n".utf8))
            out.append(contentsOf: Array(body.utf8))
        } else {
            out.append(0x0A)
        }
        return out
    }

    /// Compact JSON payload (cJSON escaping; array headers as JSON arrays; `Content-Length` + `_body` appended).
    /// The items of a header value in FreeSWITCH's array form, "ARRAY::a|:b" (a JSON array in the event's JSON); nil
    /// for any other value.
    public static func arrayItems(_ value: String) -> [String]? {
        guard value.hasPrefix("ARRAY::") else { return nil }
        return value.dropFirst(7).components(separatedByString: "|:")
    }

    public func jsonPayload() -> [UInt8] {
        var out: [UInt8] = [0x7B]
        out.reserveCapacity(headers.count * 48)
        var first = true
        func key(_ k: String) {
            if !first { out.append(0x2C) }
            first = false
            jsonString(k, &out); out.append(0x3A)
        }
        for h in headers {
            key(h.name)
            if let items = Self.arrayItems(h.value) {
                out.append(0x5B)
                for (i, item) in items.enumerated() {
                    if i > 0 { out.append(0x2C) }
                    jsonString(item, &out)
                }
                out.append(0x5D)
            } else {
                jsonString(h.value, &out)
            }
        }
        if let body {
            key("Content-Length"); jsonString(String(body.utf8.count), &out)
            key("_body"); jsonString(body, &out)
        }
        out.append(0x7D)
        return out
    }

    /// XML payload as FreeSWITCH writes it (header values URL-encoded).
    public func xmlPayload() -> [UInt8] {
        var out: [UInt8] = Array("<event>\n  <headers>\n".utf8)
        for h in headers {
            out.append(contentsOf: Array("    <\(h.name)>".utf8))
            var enc: [UInt8] = []
            ESLURL.appendEncoded(h.value, to: &enc)
            out.append(contentsOf: Array(xmlEscape(String(decoding: enc, as: UTF8.self)).utf8))
            out.append(contentsOf: Array("</\(h.name)>\n".utf8))
        }
        out.append(contentsOf: Array("  </headers>\n".utf8))
        if let body {
            out.append(contentsOf: Array("  <Content-Length>\(body.utf8.count)</Content-Length>\n".utf8))
            out.append(contentsOf: Array("  <body>\(xmlEscape(body))</body>\n".utf8))
        }
        out.append(contentsOf: Array("</event>\n".utf8))
        return out
    }

    public func payload(_ format: ESLEventFormat) -> [UInt8] {
        switch format {
        case .plain: return plainPayload()
        case .json: return jsonPayload()
        case .xml: return xmlPayload()
        }
    }
}

func xmlEscape(_ s: String) -> String {
    guard s.contains(where: { $0 == "&" || $0 == "<" || $0 == ">" || $0 == "\r" }) else { return s }
    var o = ""
    for c in s {
        switch c {
        case "&": o += "&amp;"
        case "<": o += "&lt;"
        case ">": o += "&gt;"
        case "\r": o += "&#xD;"
        default: o.append(c)
        }
    }
    return o
}

func xmlUnescape(_ s: String) -> String {
    guard s.contains("&") else { return s }
    var o = ""
    var i = s.startIndex
    while i < s.endIndex {
        // An entity is at most 10 characters from its '&' to its ';': the search stops there (searching the whole rest
        // for every '&' made a text of '&'s cost the square of its length).
        if s[i] == "&", let semi = s[i...].prefix(11).firstIndex(of: ";") {
            let ent = s[s.index(after: i)..<semi]
            var rep: String? = nil
            switch ent {
            case "amp": rep = "&"
            case "lt": rep = "<"
            case "gt": rep = ">"
            case "quot": rep = "\""
            case "apos": rep = "'"
            default:
                if ent.hasPrefix("#x") || ent.hasPrefix("#X"), let v = UInt32(ent.dropFirst(2), radix: 16), let u = Unicode.Scalar(v) { rep = String(Character(u)) }
                else if ent.hasPrefix("#"), let v = UInt32(ent.dropFirst(1)), let u = Unicode.Scalar(v) { rep = String(Character(u)) }
            }
            if let rep { o += rep; i = s.index(after: semi); continue }
        }
        o.append(s[i])
        i = s.index(after: i)
    }
    return o
}

func jsonString(_ s: String, _ out: inout [UInt8]) {
    out.append(0x22)
    for b in s.utf8 {
        switch b {
        case 0x22: out.append(0x5C); out.append(0x22)
        case 0x5C: out.append(0x5C); out.append(0x5C)
        case 0x08: out.append(0x5C); out.append(0x62)
        case 0x0C: out.append(0x5C); out.append(0x66)
        case 0x0A: out.append(0x5C); out.append(0x6E)
        case 0x0D: out.append(0x5C); out.append(0x72)
        case 0x09: out.append(0x5C); out.append(0x74)
        case 0..<0x20:
            let hx: [UInt8] = Array("0123456789abcdef".utf8)
            out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hx[Int(b >> 4)], hx[Int(b & 15)]])
        default: out.append(b)
        }
    }
    out.append(0x22)
}

extension Substring {
    func components(separatedByString sep: String) -> [String] {
        var out: [String] = []
        var rest = self[...]
        while let r = rest.range(of: sep) {
            out.append(String(rest[rest.startIndex..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        out.append(String(rest))
        return out
    }

    /// The first occurrence of `needle`, byte by byte: needles are markup (`<headers>`, `|:`...), and stepping by
    /// Character (grapheme breaking, a substring per step) made this the codec's hottest loop. A match starts on the
    /// needle's first byte, so on a scalar boundary (it may now start inside a grapheme cluster: markup is bytes).
    func range(of needle: String) -> Range<Substring.Index>? {
        let n = Array(needle.utf8)
        guard let first = n.first else { return nil }
        let u = utf8
        var i = u.startIndex
        while let f = u[i...].firstIndex(of: first) {
            if u[f...].starts(with: n) { return f..<u.index(f, offsetBy: n.count) }
            i = u.index(after: f)
        }
        return nil
    }
}

extension String {
    func range(of needle: String, range: Range<String.Index>? = nil) -> Range<String.Index>? {
        let sub = range.map { self[$0] } ?? self[...]
        return sub.range(of: needle)
    }
}

/// A tiny parser for the flat JSON object ESL sends: string values, arrays of strings (returned as
/// `ARRAY::a|:b`), and — leniently — numbers/true/false/null as their text.
struct FlatJSON {
    let b: [UInt8]
    var i = 0
    /// Arrays in arrays are read by recursion: FreeSWITCH's arrays hold strings, and a body of 200,000 '[' (well under
    /// the 16 MiB body limit) overflowed the stack, so nesting stops here.
    static let maxArrayDepth = 32
    var arrayDepth = 0
    init(_ b: [UInt8]) { self.b = b }

    mutating func ws() { while i < b.count && (b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09) { i += 1 } }

    func fail(_ m: String) -> ESLError { .malformedEvent("JSON: \(m) at byte \(i)") }

    mutating func expect(_ c: UInt8) throws {
        ws()
        guard i < b.count, b[i] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
        i += 1
    }

    mutating func parseObject() throws -> [(String, String)] {
        try expect(0x7B)
        var out: [(String, String)] = []
        ws()
        if i < b.count && b[i] == 0x7D { i += 1; return out }
        while true {
            ws()
            let k = try string()
            try expect(0x3A)
            ws()
            let v = try value()
            out.append((k, v))
            ws()
            guard i < b.count else { throw fail("unterminated object") }
            if b[i] == 0x2C { i += 1; continue }
            if b[i] == 0x7D { i += 1; break }
            throw fail("expected ',' or '}'")
        }
        ws()
        if i != b.count { throw fail("trailing bytes") }
        return out
    }

    mutating func value() throws -> String {
        guard i < b.count else { throw fail("missing value") }
        switch b[i] {
        case 0x22: return try string()
        case 0x5B:
            guard arrayDepth < FlatJSON.maxArrayDepth else { throw fail("arrays nested deeper than \(FlatJSON.maxArrayDepth)") }
            arrayDepth += 1
            defer { arrayDepth -= 1 }
            i += 1
            var items: [String] = []
            ws()
            if i < b.count && b[i] == 0x5D { i += 1; return "ARRAY::" }
            while true {
                ws()
                items.append(try value())
                ws()
                guard i < b.count else { throw fail("unterminated array") }
                if b[i] == 0x2C { i += 1; continue }
                if b[i] == 0x5D { i += 1; break }
                throw fail("expected ',' or ']'")
            }
            return "ARRAY::" + items.joined(separator: "|:")
        case 0x7B: throw fail("nested object")
        default:
            let s = i
            while i < b.count, b[i] != 0x2C, b[i] != 0x7D, b[i] != 0x5D, b[i] != 0x20, b[i] != 0x0A, b[i] != 0x0D, b[i] != 0x09 { i += 1 }
            guard i > s else { throw fail("bad value") }
            let t = String(decoding: b[s..<i], as: UTF8.self)
            if t == "null" { return "" }
            guard t == "true" || t == "false" || Double(t) != nil else { throw fail("bad literal") }
            return t
        }
    }

    mutating func string() throws -> String {
        guard i < b.count, b[i] == 0x22 else { throw fail("expected string") }
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < b.count else { throw fail("unterminated string") }
            let c = b[i]
            if c == 0x22 { i += 1; break }
            if c == 0x5C {
                guard i + 1 < b.count else { throw fail("bad escape") }
                let e = b[i + 1]
                i += 2
                switch e {
                case 0x22: out.append(0x22)
                case 0x5C: out.append(0x5C)
                case 0x2F: out.append(0x2F)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0C)
                case 0x6E: out.append(0x0A)
                case 0x72: out.append(0x0D)
                case 0x74: out.append(0x09)
                case 0x75:
                    var cp = try hex4()
                    if cp >= 0xD800 && cp < 0xDC00, i + 1 < b.count, b[i] == 0x5C, b[i + 1] == 0x75 {
                        i += 2
                        let lo = try hex4()
                        if lo >= 0xDC00 && lo < 0xE000 { cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00) } else { cp = 0xFFFD }
                    }
                    let scalar = Unicode.Scalar(cp) ?? "\u{FFFD}"
                    out.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: throw fail("bad escape")
                }
                continue
            }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    mutating func hex4() throws -> UInt32 {
        guard i + 4 <= b.count else { throw fail("bad \\u escape") }
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let h = ESLURL.hexValue(b[i + k]) else { throw fail("bad \\u escape") }
            v = v << 4 | UInt32(h)
        }
        i += 4
        return v
    }
}
