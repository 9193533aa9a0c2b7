/// One Via value: `SIP/2.0/UDP host[:port];branch=...;received=...;rport`.
public struct SIPVia: Sendable, Equatable {
    public var transport: String
    public var host: String
    public var port: Int?
    /// Parameters in order; a flag parameter has a nil value.
    public var params: [(name: String, value: String?)]
    /// The value's bytes in the message (for editing it in place).
    public var range: Range<Int>
    /// Where the next value starts (after the comma), or nil if this is the field's last value.
    public var isLastInField: Bool

    public static func == (a: SIPVia, b: SIPVia) -> Bool {
        a.transport == b.transport && a.host == b.host && a.port == b.port && a.range == b.range
    }

    public func param(_ name: String) -> String?? {
        for p in params where p.name.lowercased() == name { return .some(p.value) }
        return .none
    }

    public var branch: String? { param("branch") ?? nil }
    public var received: String? { param("received") ?? nil }
    /// rport: absent → nil; present without value → .some(nil).
    public var rport: String?? { param("rport") }

    /// Splits a Via field's body into values (commas outside quotes) and parses each.
    static func parseAll(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPParseError) -> [SIPVia] {
        var out: [SIPVia] = []
        var start = r.lowerBound
        var i = r.lowerBound
        var inQuote = false
        var depth = 0
        while i <= r.upperBound {
            let atEnd = i == r.upperBound
            let c: UInt8 = atEnd ? 0 : b[i]
            if !atEnd && c == Byte.quote { inQuote.toggle() }
            if !atEnd && !inQuote && c == UInt8(ascii: "(") { depth += 1 }
            if !atEnd && !inQuote && c == UInt8(ascii: ")") && depth > 0 { depth -= 1 }
            if atEnd || (c == Byte.comma && !inQuote && depth == 0) {
                let v = Byte.trim(b, start..<i)
                guard !v.isEmpty else { throw SIPParseError("empty Via value") }
                var via = try parseOne(b, v)
                via.isLastInField = atEnd
                out.append(via)
                start = i + 1
            }
            i += 1
        }
        return out
    }

    static func parseOne(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) throws(SIPParseError) -> SIPVia {
        var i = r.lowerBound
        let end = r.upperBound
        func skipWS() { while i < end, Byte.isLWS(b[i]) { i += 1 } }
        func token() -> Range<Int> {
            let s = i
            while i < end, Byte.isToken(b[i]) { i += 1 }
            return s..<i
        }
        func text(_ x: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[x]), as: UTF8.self) }
        // sent-protocol: name / version / transport, LWS allowed around the slashes
        let name = token(); skipWS()
        guard !name.isEmpty, i < end, b[i] == Byte.slash else { throw SIPParseError("bad Via protocol") }
        i += 1; skipWS()
        let version = token(); skipWS()
        guard !version.isEmpty, i < end, b[i] == Byte.slash else { throw SIPParseError("bad Via protocol") }
        i += 1; skipWS()
        let transport = token()
        guard !transport.isEmpty else { throw SIPParseError("bad Via transport") }
        skipWS()
        // sent-by: host[:port]
        let hs = i
        var host: String
        if i < end, b[i] == UInt8(ascii: "[") {
            while i < end, b[i] != UInt8(ascii: "]") { i += 1 }
            guard i < end else { throw SIPParseError("bad IPv6 reference in Via") }
            i += 1
            host = text(hs..<i)
        } else {
            while i < end, Byte.isToken(b[i]) { i += 1 }
            host = text(hs..<i)
        }
        guard !host.isEmpty else { throw SIPParseError("Via without a host") }
        skipWS()
        var port: Int? = nil
        if i < end, b[i] == Byte.colon {
            i += 1; skipWS()
            var n = 0, digits = 0
            while i < end, b[i] >= 48, b[i] <= 57, digits < 6 { n = n * 10 + Int(b[i] - 48); i += 1; digits += 1 }
            guard digits > 0, n <= 65535 else { throw SIPParseError("bad Via port") }
            port = n
        }
        skipWS()
        var params: [(String, String?)] = []
        while i < end, b[i] == Byte.semi {
            i += 1; skipWS()
            let pn = token()
            guard !pn.isEmpty else { throw SIPParseError("bad Via parameter") }
            skipWS()
            var pv: String? = nil
            if i < end, b[i] == Byte.eq {
                i += 1; skipWS()
                if i < end, b[i] == Byte.quote {
                    let s = i
                    i += 1
                    while i < end, b[i] != Byte.quote { if b[i] == Byte.backslash { i += 1 }; i += 1 }
                    guard i < end else { throw SIPParseError("unterminated quoted string in Via") }
                    i += 1
                    pv = text(s..<i)
                } else {
                    let s = i
                    while i < end, Byte.isToken(b[i]) || b[i] == Byte.colon || b[i] == UInt8(ascii: "[") || b[i] == UInt8(ascii: "]") { i += 1 }
                    pv = text(s..<i)
                }
            }
            params.append((text(pn), pv))
            skipWS()
        }
        // A trailing comment "( ... )" is allowed by RFC 2543 peers; anything else is an error.
        if i < end, b[i] == UInt8(ascii: "(") { i = end }
        guard i == end else { throw SIPParseError("bad Via value") }
        return SIPVia(transport: text(transport).uppercased(), host: host, port: port, params: params,
                      range: r, isLastInField: true)
    }
}
