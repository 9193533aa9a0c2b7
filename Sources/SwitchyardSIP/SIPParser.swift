#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Splits a message into first line, header fields and body. Strict where RFC 3261 must be (first
/// line, header names, Content-Length), tolerant where real peers differ (bare LF line ends,
/// whitespace before the colon, leading CRLF keep-alives).
enum SIPParser {
    /// Largest Content-Length taken seriously (a SIP message over UDP is at most 64 KiB).
    static let maxBody = 1 << 20

    static func parse(_ bytes: [UInt8]) throws(SIPParseError) -> SIPMessage {
        try bytes.withUnsafeBufferPointer { (b) throws(SIPParseError) -> SIPMessage in try parse(bytes, b) }
    }

    /// End of the line starting at `i`: (index of the first line-ending byte, index after the ending).
    @inline(__always)
    static func lineEnd(_ b: UnsafeBufferPointer<UInt8>, from i: Int) -> (end: Int, next: Int)? {
        // memchr scans a word at a time: the line scan is most of the parse.
        guard i < b.count, let base = b.baseAddress, let p = memchr(base + i, Int32(Byte.lf), b.count - i) else { return nil }
        let j = base.distance(to: p.assumingMemoryBound(to: UInt8.self))
        return (j > i && b[j - 1] == Byte.cr ? j - 1 : j, j + 1)
    }

    static func parse(_ bytes: [UInt8], _ b: UnsafeBufferPointer<UInt8>) throws(SIPParseError) -> SIPMessage {
        // Field offsets are kept in 32 bits (HeaderField).
        guard b.count < Int(Int32.max) else { throw SIPParseError("message too large") }
        var i = 0
        while i < b.count, b[i] == Byte.cr || b[i] == Byte.lf { i += 1 }
        guard i < b.count else { throw SIPParseError("empty message") }
        guard let (firstEnd, afterFirst) = lineEnd(b, from: i) else { throw SIPParseError("no end of the first line") }

        // First line.
        var isRequest = true
        var methodRange = 0..<0, uriRange = 0..<0, reasonRange = 0..<0, versionRange = i..<(i + 7)
        var status: Int? = nil
        let first = i..<firstEnd
        if first.count >= 8, Byte.equalsIgnoringCase(b, i..<(i + 8), "SIP/2.0 ") {
            isRequest = false
            var j = i + 8
            while j < firstEnd, b[j] == Byte.sp { j += 1 }
            var code = 0, digits = 0
            while j < firstEnd, b[j] >= 48, b[j] <= 57, digits < 4 { code = code * 10 + Int(b[j] - 48); digits += 1; j += 1 }
            guard digits == 3, (100...699).contains(code) else { throw SIPParseError("bad status code in the status line") }
            guard j == firstEnd || b[j] == Byte.sp else { throw SIPParseError("bad status line") }
            while j < firstEnd, b[j] == Byte.sp { j += 1 }
            status = code
            reasonRange = j..<firstEnd
        } else {
            var j = i
            while j < firstEnd, Byte.isToken(b[j]) { j += 1 }
            guard j > i, j < firstEnd, b[j] == Byte.sp else { throw SIPParseError("bad method in the request line") }
            methodRange = i..<j
            j += 1
            let uStart = j
            // The URI ends at the first SP or HT: memchr for each (a word at a time) instead of a byte loop.
            if let base = b.baseAddress {
                var stop = firstEnd
                if let p = memchr(base + j, Int32(Byte.sp), firstEnd - j) { stop = base.distance(to: p.assumingMemoryBound(to: UInt8.self)) }
                if stop > j, let p = memchr(base + j, Int32(Byte.ht), stop - j) { stop = base.distance(to: p.assumingMemoryBound(to: UInt8.self)) }
                j = stop
            }
            guard j > uStart, j < firstEnd else { throw SIPParseError("bad request-URI in the request line") }
            uriRange = uStart..<j
            // The URI needs a scheme: letters then ':'.
            var k = uStart
            while k < j, Byte.isToken(b[k]), b[k] != Byte.colon { k += 1 }
            guard k > uStart, k < j, b[k] == Byte.colon else { throw SIPParseError("request-URI without a scheme") }
            if Byte.equalsIgnoringCase(b, uStart..<k, "sip") || Byte.equalsIgnoringCase(b, uStart..<k, "sips") {
                guard sipURIHasUserAndHost(b, (k + 1)..<j) else { throw SIPParseError("bad SIP request-URI") }
            }
            j += 1
            // SIP/<digits>.<digits>: another version than 2.0 parses (the core answers 505).
            guard firstEnd - j >= 7, Byte.equalsIgnoringCase(b, j..<(j + 4), "SIP/") else {
                throw SIPParseError("bad SIP version in the request line")
            }
            var k2 = j + 4, dots = 0, digits = 0
            while k2 < firstEnd {
                if b[k2] == UInt8(ascii: ".") { dots += 1 } else if b[k2] >= 48 && b[k2] <= 57 { digits += 1 } else { break }
                k2 += 1
            }
            guard k2 == firstEnd, dots == 1, digits >= 2 else { throw SIPParseError("bad SIP version in the request line") }
            versionRange = j..<firstEnd
        }
        _ = first

        // Header fields.
        var fields: [HeaderField] = []
        fields.reserveCapacity(16)
        i = afterFirst
        let headersStart = i
        var headersEnd = -1
        var contentLength: Int? = nil
        /// Bit per HeaderKind seen (duplicate and mandatory checks without rescanning the fields).
        var seen: UInt32 = 0
        while i < b.count {
            guard let (end, next) = lineEnd(b, from: i) else {
                throw SIPParseError("headers not terminated by an empty line")
            }
            if end == i { headersEnd = next; break }   // empty line
            if Byte.isWS(b[i]) { throw SIPParseError("continuation line without a header", at: i) }
            // name
            var j = i
            // Letters and dashes a word at a time (most of a name), then byte by byte as before.
            if let base = b.baseAddress {
                while j + 8 <= end {
                    let n = Byte.lettersOrDashes(UInt64(littleEndian: UnsafeRawPointer(base + j).loadUnaligned(as: UInt64.self)))
                    j += n
                    if n < 8 { break }
                }
            }
            while j < end, Byte.isToken(b[j]) { j += 1 }
            let nameRange = i..<j
            guard !nameRange.isEmpty else { throw SIPParseError("bad header name", at: i) }
            while j < end, Byte.isWS(b[j]) { j += 1 }
            guard j < end, b[j] == Byte.colon else { throw SIPParseError("header line without a colon", at: i) }
            j += 1
            // value, with continuation lines
            var lineNext = next
            var valueEnd = end
            while lineNext < b.count, Byte.isWS(b[lineNext]) {
                guard let (e2, n2) = lineEnd(b, from: lineNext) else { throw SIPParseError("headers not terminated by an empty line") }
                valueEnd = e2
                lineNext = n2
            }
            let value = Byte.trim(b, j..<valueEnd)
            let kind = HeaderKind.classify(b, nameRange)
            if kind == .contentLength {
                guard let n = parseDecimal(bytes, value), n <= maxBody else { throw SIPParseError("bad Content-Length", at: i) }
                contentLength = n
            }
            if kind == .maxForwards {
                guard let n = parseDecimal(bytes, value), n <= 255 else { throw SIPParseError("bad Max-Forwards", at: i) }
            }
            let bit: UInt32 = 1 << kind.rawValue
            switch kind {
            case .from, .to, .callID, .cseq, .maxForwards, .contentLength:
                // One of each is allowed: a second one is a 400.
                if seen & bit != 0 { throw SIPParseError("more than one \(kind) header") }
            default: break
            }
            seen |= bit
            fields.append(HeaderField(parsed: kind, name: nameRange, value: value, line: i..<lineNext))
            i = lineNext
        }
        if headersEnd < 0 {
            // Tolerate a datagram whose header block ends at the end of the buffer without the empty line.
            guard i >= b.count, contentLength == nil || contentLength == 0 else {
                throw SIPParseError("headers not terminated by an empty line")
            }
            headersEnd = b.count
        }

        // A NUL byte is allowed in the header block only as an escaped character of a quoted string.
        if unescapedNUL(b, headersStart..<headersEnd) != nil { throw SIPParseError("NUL byte in a header") }

        // Body: exactly Content-Length bytes; without it, the rest of the datagram.
        var bodyRange = headersEnd..<b.count
        if let n = contentLength {
            guard headersEnd + n <= b.count else { throw SIPParseError("body shorter than Content-Length") }
            bodyRange = headersEnd..<(headersEnd + n)
        }

        if isRequest, seen & mandatoryMask != mandatoryMask {  // the list is read only to name what is missing
            for need in mandatory where seen & (1 << need.rawValue) == 0 {
                throw SIPParseError("missing mandatory header \(need)")
            }
        } else {
            guard seen & (1 << HeaderKind.via.rawValue) != 0 else { throw SIPParseError("reply without Via") }
        }
        // CSeq: a number then a method token.
        if let f = fields.first(where: { $0.kind == .cseq }) {
            var j = f.value.lowerBound, digits = 0
            while j < f.value.upperBound, b[j] >= 48, b[j] <= 57 { j += 1; digits += 1 }
            guard digits > 0, digits <= 10 else { throw SIPParseError("bad CSeq number", at: f.line.lowerBound) }
            var k = j
            while k < f.value.upperBound, Byte.isLWS(b[k]) { k += 1 }
            guard k > j, k < f.value.upperBound else { throw SIPParseError("bad CSeq method", at: f.line.lowerBound) }
            var m = k
            while m < f.value.upperBound, Byte.isToken(b[m]) { m += 1 }
            guard m == f.value.upperBound else { throw SIPParseError("bad CSeq method", at: f.line.lowerBound) }
            if isRequest && knownMethod(b, methodRange) {
                // The CSeq method must match the request method (ACK/CANCEL included). An unknown method is
                // left to the script (which answers 501), so its CSeq is not compared.
                guard m - k == methodRange.count, memcmpEqual(b, k, methodRange.lowerBound, methodRange.count) else {
                    throw SIPParseError("CSeq method does not match the request method")
                }
            }
        }
        let msg = SIPMessage(bytes: bytes, isRequest: isRequest, methodRange: methodRange, uriRange: uriRange,
                             versionRange: versionRange, statusCode: status, reasonRange: reasonRange,
                             headersStart: headersStart, headersEnd: headersEnd, fields: fields, bodyRange: bodyRange)
        // From and To carry the dialog identifiers: a malformed one makes the message unusable.
        for f in fields where f.kind == .from || f.kind == .to {
            guard NameAddr.isValid(b, f.value) else { throw SIPParseError("bad \(f.kind == .from ? "From" : "To") header", at: f.line.lowerBound) }
        }
        return msg
    }

    static let mandatory: [HeaderKind] = [.via, .from, .to, .callID, .cseq]
    static let mandatoryMask: UInt32 = 1 << HeaderKind.via.rawValue | 1 << HeaderKind.from.rawValue
        | 1 << HeaderKind.to.rawValue | 1 << HeaderKind.callID.rawValue | 1 << HeaderKind.cseq.rawValue

    /// The RFC 3261 and extension methods the parser knows (case-sensitive), picked by length then compared with
    /// memcmp: INVITE ACK BYE CANCEL OPTIONS REGISTER INFO PRACK SUBSCRIBE NOTIFY UPDATE MESSAGE REFER PUBLISH.
    static func knownMethod(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        guard let base = b.baseAddress else { return false }
        let p = base + r.lowerBound
        @inline(__always) func eq(_ m: StaticString) -> Bool { memcmp(p, m.utf8Start, m.utf8CodeUnitCount) == 0 }
        switch r.count {
        case 3: return eq("ACK") || eq("BYE")
        case 4: return eq("INFO")
        case 5: return eq("PRACK") || eq("REFER")
        case 6: return eq("INVITE") || eq("CANCEL") || eq("NOTIFY") || eq("UPDATE")
        case 7: return eq("OPTIONS") || eq("MESSAGE") || eq("PUBLISH")
        case 8: return eq("REGISTER")
        case 9: return eq("SUBSCRIBE")
        default: return false
        }
    }

    @inline(__always)
    static func memcmpEqual(_ b: UnsafeBufferPointer<UInt8>, _ x: Int, _ y: Int, _ n: Int) -> Bool {
        for i in 0..<n where b[x + i] != b[y + i] { return false }
        return true
    }

    /// The index of the first NUL byte in `r` not escaped by a backslash, if any.
    static func unescapedNUL(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int? {
        guard !r.isEmpty, let base = b.baseAddress else { return nil }
        var i = r.lowerBound
        while i < r.upperBound {
            guard let p = memchr(base + i, 0, r.upperBound - i) else { return nil }
            let at = base.distance(to: p.assumingMemoryBound(to: UInt8.self))
            if at == 0 || b[at - 1] != Byte.backslash { return at }
            i = at + 1
        }
        return nil
    }

    /// A sip:/sips: request-URI names a host, and a user when it has a userinfo part ("sip:@host" does not).
    static func sipURIHasUserAndHost(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        var at = -1
        for i in r {
            if b[i] == UInt8(ascii: "?") { break }
            if b[i] == UInt8(ascii: "@") { at = i; break }
        }
        if at == r.lowerBound { return false }
        let hostStart = at >= 0 ? at + 1 : r.lowerBound
        guard hostStart < r.upperBound else { return false }
        let c = b[hostStart]
        return c != Byte.colon && c != Byte.semi && c != UInt8(ascii: "?") && c != UInt8(ascii: "@")
    }

    /// A non-negative decimal integer filling the range (at most 9 digits).
    static func parseDecimal(_ bytes: [UInt8], _ r: Range<Int>) -> Int? {
        guard !r.isEmpty, r.count <= 9 else { return nil }
        var n = 0
        for i in r {
            let c = bytes[i]
            guard c >= 48, c <= 57 else { return nil }
            n = n * 10 + Int(c - 48)
        }
        return n
    }
}

/// Finds where one message ends in a stream buffer (TCP): the header block, then Content-Length
/// bytes (required on streams). Returns the message length, nil if more bytes are needed, or
/// throws when the stream cannot be framed (no Content-Length, header block too large).
public enum SIPFraming {
    public static func messageLength(_ b: UnsafeBufferPointer<UInt8>, maxHeaders: Int = 65536) throws(SIPParseError) -> Int? {
        var i = 0
        while i < b.count, b[i] == Byte.cr || b[i] == Byte.lf { i += 1 }
        let start = i
        var lineStart = i
        var contentLength: Int? = nil
        while i < b.count {
            if b[i] == Byte.lf {
                var end = i
                if end > lineStart, b[end - 1] == Byte.cr { end -= 1 }
                if end == lineStart {
                    guard let n = contentLength else { throw SIPParseError("no Content-Length on a stream") }
                    return i + 1 + n <= b.count ? i + 1 + n : nil
                }
                // "Content-Length:" or "l:" at the start of a line.
                var j = lineStart
                while j < end, Byte.isToken(b[j]) { j += 1 }
                let name = lineStart..<j
                if Byte.equalsIgnoringCase(b, name, "content-length") || Byte.equalsIgnoringCase(b, name, "l") {
                    while j < end, Byte.isWS(b[j]) { j += 1 }
                    if j < end, b[j] == Byte.colon {
                        j += 1
                        while j < end, Byte.isWS(b[j]) { j += 1 }
                        var n = 0, digits = 0
                        while j < end, b[j] >= 48, b[j] <= 57, digits < 9 { n = n * 10 + Int(b[j] - 48); j += 1; digits += 1 }
                        // Same limits as the parser's: a value it would refuse must not frame the stream either.
                        if digits == 0 || (j < end && b[j] >= 48 && b[j] <= 57) || n > SIPParser.maxBody {
                            throw SIPParseError("bad Content-Length", at: i)
                        }
                        contentLength = n
                    }
                }
                lineStart = i + 1
            }
            i += 1
            if i - start > maxHeaders { throw SIPParseError("header block too large") }
        }
        return nil
    }
}
