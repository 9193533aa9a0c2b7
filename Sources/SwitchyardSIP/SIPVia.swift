#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One Via value: `SIP/2.0/UDP host[:port];branch=...;received=...;rport`. Parsing records byte
/// ranges only; the text of a part is made when asked for (most relays need only a few parts).
public struct SIPVia: Sendable {
    let bytes: [UInt8]
    /// The ranges are kept as 32-bit offsets (a message is under 2 GiB, as HeaderField's) and an absent one as a lower
    /// bound of -1: a Via is copied and destroyed about twenty times per relayed call, and with `Range<Int>?` fields
    /// (tag bytes between them) each copy went through an outlined value-witness call instead of a few moves.
    private let transportLo: Int32, transportHi: Int32, hostLo: Int32, hostHi: Int32
    private let paramsLo: Int32, paramsHi: Int32, rangeLo: Int32, rangeHi: Int32
    private let branchLo: Int32, branchHi: Int32, receivedLo: Int32, receivedHi: Int32, rportLo: Int32, rportHi: Int32
    /// The port, -1 when the sent-by has none.
    private let portValue: Int32
    public var transportRange: Range<Int> { Int(transportLo)..<Int(transportHi) }
    public var hostRange: Range<Int> { Int(hostLo)..<Int(hostHi) }
    typealias ParamRange = (name: Range<Int>, value: Range<Int>?)
    /// Where the parameters lie (from the first ';' to the last parameter's end): checked when the Via was parsed, and
    /// read again when one is asked for, instead of an array of their ranges kept per message (an allocation, and a
    /// reference to retain with each copy of a Via).
    var paramsRange: Range<Int> { Int(paramsLo)..<Int(paramsHi) }
    /// The parameters every relay reads (the first of each name), found while the Via was parsed: their values, and a
    /// bit per name present (`Known`), so that looking one up scans nothing.
    var branchValue: Range<Int>? { branchLo < 0 ? nil : Int(branchLo)..<Int(branchHi) }
    var receivedValue: Range<Int>? { receivedLo < 0 ? nil : Int(receivedLo)..<Int(receivedHi) }
    var rportValue: Range<Int>? { rportLo < 0 ? nil : Int(rportLo)..<Int(rportHi) }
    let knownPresent: UInt8

    /// `branch`, `received`, `rport`: a value's bounds, (-1, -1) when absent or without a value; `port` -1 when none.
    init(bytes: [UInt8], transportRange: Range<Int>, hostRange: Range<Int>, paramsRange: Range<Int>,
         branch: (Int32, Int32), received: (Int32, Int32), rport: (Int32, Int32), knownPresent: UInt8,
         port: Int32, range: Range<Int>, isLastInField: Bool) {
        self.bytes = bytes
        transportLo = Int32(truncatingIfNeeded: transportRange.lowerBound)
        transportHi = Int32(truncatingIfNeeded: transportRange.upperBound)
        hostLo = Int32(truncatingIfNeeded: hostRange.lowerBound); hostHi = Int32(truncatingIfNeeded: hostRange.upperBound)
        paramsLo = Int32(truncatingIfNeeded: paramsRange.lowerBound)
        paramsHi = Int32(truncatingIfNeeded: paramsRange.upperBound)
        rangeLo = Int32(truncatingIfNeeded: range.lowerBound); rangeHi = Int32(truncatingIfNeeded: range.upperBound)
        (branchLo, branchHi) = branch
        (receivedLo, receivedHi) = received
        (rportLo, rportHi) = rport
        portValue = port
        self.knownPresent = knownPresent
        self.isLastInField = isLastInField
    }

    /// The parameter names kept at parse time, as bits of `knownPresent`.
    enum Known {
        static let branch: UInt8 = 1, received: UInt8 = 2, rport: UInt8 = 4

        /// The bit of a parameter name (ASCII case-insensitive, as parameters are compared), 0 for another name.
        @inline(__always)
        static func bit(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> UInt8 {
            switch r.count {
            case 6: return Byte.equalsIgnoringCase(b, r, "branch") ? branch : 0
            case 8: return Byte.equalsIgnoringCase(b, r, "received") ? received : 0
            case 5: return Byte.equalsIgnoringCase(b, r, "rport") ? rport : 0
            default: return 0
            }
        }

        static func bit(_ name: StaticString) -> UInt8 {
            // withUTF8Buffer, not utf8Start: a one-character literal may be stored as a scalar, without a pointer.
            name.withUTF8Buffer { bit($0, 0..<$0.count) }
        }
    }
    var paramRanges: [ParamRange] {
        bytes.withUnsafeBufferPointer { b in
            var out: [ParamRange] = []
            var i = paramsRange.lowerBound
            while let p = SIPVia.nextParam(b, &i, paramsRange.upperBound) { out.append(p) }
            return out
        }
    }
    public var port: Int? { portValue < 0 ? nil : Int(portValue) }
    /// The value's bytes in the message (for editing it in place).
    public var range: Range<Int> { Int(rangeLo)..<Int(rangeHi) }
    /// True when no other Via value follows in the same header field.
    public internal(set) var isLastInField: Bool

    @inline(__always) func text(_ r: Range<Int>) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[r]), as: UTF8.self) }
    }

    /// "UDP", "TCP"... upper-cased.
    public var transport: String { text(transportRange).uppercased() }
    /// The sent-by host as written (IPv6 with brackets).
    public var host: String { text(hostRange) }
    public var params: [(name: String, value: String?)] { paramRanges.map { (text($0.name), $0.value.map { text($0) }) } }

    /// A parameter: absent → nil; a flag parameter → .some(nil).
    public func param(_ name: StaticString) -> String?? {
        let bit = Known.bit(name)
        if bit != 0 {
            guard knownPresent & bit != 0 else { return .none }
            return .some(paramRange(name).map { text($0) })
        }
        return bytes.withUnsafeBufferPointer { b -> String?? in
            guard let p = SIPVia.findParam(b, paramsRange, name) else { return .none }
            return .some(p.value.map { String(decoding: UnsafeBufferPointer(rebasing: b[$0]), as: UTF8.self) })
        }
    }

    public var branch: String? { param("branch") ?? nil }

    /// True when the branch parameter starts with `prefix` (case-sensitive; no string is made).
    public func branchHasPrefix(_ prefix: StaticString) -> Bool {
        guard let r = branchValue else { return false }
        return SIPVia.hasPrefix(bytes, r, prefix)
    }

    /// True when the bytes `r` of `bytes` start with `prefix` (case-sensitive).
    public static func hasPrefix(_ bytes: [UInt8], _ r: Range<Int>, _ prefix: StaticString) -> Bool {
        let n = prefix.utf8CodeUnitCount
        guard r.count >= n else { return false }
        return bytes.withUnsafeBufferPointer { b in
            guard let base = b.baseAddress else { return n == 0 }
            return memcmp(base + r.lowerBound, prefix.utf8Start, n) == 0
        }
    }

    /// The values of branch, received= and rport= (nil: absent or without a value), as `paramRange` gives them.
    public var branchRange: Range<Int>? { branchValue }
    public var receivedRange: Range<Int>? { receivedValue }
    public var rportRange: Range<Int>? { rportValue }

    /// True when the transport is `t` (ASCII case-insensitive; no string is made).
    public func transportIs(_ t: StaticString) -> Bool {
        bytes.withUnsafeBufferPointer { Byte.equalsIgnoringCase($0, transportRange, t) }
    }

    /// Where a parameter's value lies in the message (nil: absent or without value).
    public func paramRange(_ name: StaticString) -> Range<Int>? {
        switch Known.bit(name) {
        case Known.branch: return branchValue
        case Known.received: return receivedValue
        case Known.rport: return rportValue
        default: return bytes.withUnsafeBufferPointer { b -> Range<Int>? in SIPVia.findParam(b, paramsRange, name)?.value }
        }
    }
    public var received: String? { param("received") ?? nil }
    /// rport: absent → nil; present without value → .some(nil).
    public var rport: String?? { param("rport") }
    public var hasRport: Bool { knownPresent & Known.rport != 0 }

    /// The first parameter named `name` (ASCII case-insensitive) in a parameter list the parse accepted.
    static func findParam(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ name: StaticString) -> ParamRange? {
        var i = r.lowerBound
        while let p = nextParam(b, &i, r.upperBound) {
            if Byte.equalsIgnoringCase(b, p.name, name) { return p }
        }
        return nil
    }

    /// The parameter at `i` (which is at its ';', else there is none: nil), moving `i` past it and the whitespace
    /// after it. Throws what parseOne reports for a malformed one; on a list parseOne accepted it never throws.
    @inline(__always)
    static func scanParam(_ b: UnsafeBufferPointer<UInt8>, _ index: inout Int, _ end: Int) throws(SIPParseError) -> ParamRange? {
        guard index < end, b[index] == Byte.semi else { return nil }
        // Scanned with a local index written back once: through the inout every byte's step was a store and a load.
        var i = index + 1
        defer { index = i }
        while i < end, Byte.isLWS(b[i]) { i += 1 }
        let ns = i
        while i < end, Byte.isToken(b[i]) { i += 1 }
        let pn = ns..<i
        guard !pn.isEmpty else { throw SIPParseError("bad Via parameter") }
        while i < end, Byte.isLWS(b[i]) { i += 1 }
        var pv: Range<Int>? = nil
        if i < end, b[i] == Byte.eq {
            i += 1
            while i < end, Byte.isLWS(b[i]) { i += 1 }
            let vs = i
            if i < end, b[i] == Byte.quote {
                i += 1
                while i < end, b[i] != Byte.quote { if b[i] == Byte.backslash { i += 1 }; i += 1 }
                guard i < end else { throw SIPParseError("unterminated quoted string in Via") }
                i += 1
            } else {
                while i < end, Byte.isViaValue(b[i]) { i += 1 }
            }
            pv = vs..<i
        }
        while i < end, Byte.isLWS(b[i]) { i += 1 }
        return (pn, pv)
    }

    /// `scanParam` on a list already checked.
    @inline(__always)
    static func nextParam(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ end: Int) -> ParamRange? {
        try? scanParam(b, &i, end)
    }

    /// True when the sent-by host is exactly `h` (ASCII case-insensitive).
    public func hostIs(_ h: [UInt8]) -> Bool {
        guard hostRange.count == h.count else { return false }
        return bytes.withUnsafeBufferPointer { b in
            h.withUnsafeBufferPointer { w in
                for i in 0..<w.count {
                    var c = b[hostRange.lowerBound + i]
                    if c >= 65 && c <= 90 { c += 32 }
                    var d = w[i]
                    if d >= 65 && d <= 90 { d += 32 }
                    if c != d { return false }
                }
                return true
            }
        }
    }

    /// Splits a Via field's body into values (commas outside quotes and comments) and parses each.
    /// The values get `params` filled in by the caller once every field is parsed (see SIPMessage.vias).
    static func parseAll(_ bytes: [UInt8], _ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>,
                         into out: inout [SIPVia]) throws(SIPParseError) {
        // Without a quote or a comment in the field (the usual case) the values are split at every comma, found with
        // memchr (a word at a time) instead of the byte-by-byte walk below; the values and errors are the same.
        if let base = b.baseAddress, !r.isEmpty, memchr(base + r.lowerBound, Int32(Byte.quote), r.count) == nil,
           memchr(base + r.lowerBound, Int32(UInt8(ascii: "(")), r.count) == nil {
            var start = r.lowerBound
            while true {
                let comma = memchr(base + start, Int32(Byte.comma), r.upperBound - start)
                    .map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) }
                let v = Byte.trim(b, start..<(comma ?? r.upperBound))
                guard !v.isEmpty else { throw SIPParseError("empty Via value") }
                out.append(try parseOne(bytes, b, v, last: comma == nil))
                guard let c = comma else { return }
                start = c + 1
            }
        }
        var start = r.lowerBound
        var i = r.lowerBound
        var inQuote = false
        var depth = 0
        while i <= r.upperBound {
            let atEnd = i == r.upperBound
            let c: UInt8 = atEnd ? 0 : b[i]
            if !atEnd && inQuote && c == Byte.backslash { i = min(i + 2, r.upperBound); continue }  // quoted-pair: skip the escaped byte
            if !atEnd && c == Byte.quote { inQuote.toggle() }
            if !atEnd && !inQuote && c == UInt8(ascii: "(") { depth += 1 }
            if !atEnd && !inQuote && c == UInt8(ascii: ")") && depth > 0 { depth -= 1 }
            if atEnd || (c == Byte.comma && !inQuote && depth == 0) {
                let v = Byte.trim(b, start..<i)
                guard !v.isEmpty else { throw SIPParseError("empty Via value") }
                out.append(try parseOne(bytes, b, v, last: atEnd))  // made in place: no copy
                start = i + 1
            }
            i += 1
        }
    }

    static func parseOne(_ bytes: [UInt8], _ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>,
                         last: Bool = true) throws(SIPParseError) -> SIPVia {
        var i = r.lowerBound
        let end = r.upperBound
        func skipWS() { while i < end, Byte.isLWS(b[i]) { i += 1 } }
        func token() -> Range<Int> {
            let s = i
            while i < end, Byte.isToken(b[i]) { i += 1 }
            return s..<i
        }
        // sent-protocol: name / version / transport, LWS allowed around the slashes. Nearly every Via starts with
        // "SIP/2.0/" (the letters in either case, the rest exactly): read as one word, it is what the token scans
        // below accept, with the transport next.
        if end - i >= 8, let base = b.baseAddress,
           UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) | 0x20_2020
               == 0x2f30_2e32_2f70_6973 {  // "sip/2.0/"
            i += 8
        } else {
            let name = token(); skipWS()
            guard !name.isEmpty, i < end, b[i] == Byte.slash else { throw SIPParseError("bad Via protocol") }
            i += 1; skipWS()
            let version = token(); skipWS()
            guard !version.isEmpty, i < end, b[i] == Byte.slash else { throw SIPParseError("bad Via protocol") }
            i += 1
        }
        skipWS()
        let transport = token()
        guard !transport.isEmpty else { throw SIPParseError("bad Via transport") }
        skipWS()
        // sent-by: host[:port]
        let hs = i
        if i < end, b[i] == UInt8(ascii: "[") {
            while i < end, b[i] != UInt8(ascii: "]") { i += 1 }
            guard i < end else { throw SIPParseError("bad IPv6 reference in Via") }
            i += 1
        } else {
            while i < end, Byte.isToken(b[i]) { i += 1 }
        }
        let host = hs..<i
        guard !host.isEmpty else { throw SIPParseError("Via without a host") }
        skipWS()
        var port: Int32 = -1
        if i < end, b[i] == Byte.colon {
            i += 1; skipWS()
            var n = 0, digits = 0
            while i < end, b[i] >= 48, b[i] <= 57, digits < 6 { n = n * 10 + Int(b[i] - 48); i += 1; digits += 1 }
            guard digits > 0, n <= 65535 else { throw SIPParseError("bad Via port") }
            port = Int32(n)
        }
        skipWS()
        let paramsStart = i
        var paramsEnd = i
        // Offsets fit in 32 bits: the parser refuses a message of 2 GiB or more.
        let none = (Int32(-1), Int32(-1))
        var branch = none, received = none, rport = none
        var present: UInt8 = 0
        while let p = try scanParam(b, &i, end) {
            paramsEnd = (p.value ?? p.name).upperBound
            let bit = Known.bit(b, p.name)
            if bit != 0 && present & bit == 0 {
                present |= bit
                let v = p.value.map { (Int32(truncatingIfNeeded: $0.lowerBound), Int32(truncatingIfNeeded: $0.upperBound)) } ?? none
                switch bit {
                case Known.branch: branch = v
                case Known.received: received = v
                default: rport = v
                }
            }
        }
        // A trailing comment "( ... )" is allowed by RFC 2543 peers; anything else is an error.
        if i < end, b[i] == UInt8(ascii: "(") { i = end }
        guard i == end else { throw SIPParseError("bad Via value") }
        return SIPVia(bytes: bytes, transportRange: transport, hostRange: host, paramsRange: paramsStart..<paramsEnd,
                      branch: branch, received: received, rport: rport, knownPresent: present, port: port, range: r, isLastInField: last)
    }
}
