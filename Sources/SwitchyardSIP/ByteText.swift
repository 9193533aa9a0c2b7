/// Small byte-level helpers shared by the parsers (no Foundation: this target is also the fuzz target).
enum Byte {
    static let cr: UInt8 = 13, lf: UInt8 = 10, sp: UInt8 = 32, ht: UInt8 = 9
    static let colon = UInt8(ascii: ":"), semi = UInt8(ascii: ";"), comma = UInt8(ascii: ",")
    static let quote = UInt8(ascii: "\""), lt = UInt8(ascii: "<"), gt = UInt8(ascii: ">")
    static let eq = UInt8(ascii: "="), backslash = UInt8(ascii: "\\"), slash = UInt8(ascii: "/")

    @inline(__always) static func isWS(_ c: UInt8) -> Bool { c == sp || c == ht }
    @inline(__always) static func isLWS(_ c: UInt8) -> Bool { c == sp || c == ht || c == cr || c == lf }

    /// RFC 3261 `token` characters: digits, letters and - . ! % * _ + ` ' ~.
    @inline(__always) static func isToken(_ c: UInt8) -> Bool { c < 128 && classes.utf8Start[Int(c)] & 1 != 0 }

    /// `token` characters and ':' '[' ']' (an unquoted Via parameter value: an IPv6 received= included).
    @inline(__always) static func isViaValue(_ c: UInt8) -> Bool { c < 128 && classes.utf8Start[Int(c)] & 2 != 0 }

    /// How many of the eight bytes of `w` (little-endian: the first byte lowest), from the first, are ASCII letters or
    /// '-': the header-name scan skips a word of them at a time (every one is a `token` byte) and goes on byte by
    /// byte from the first other byte. Exact per byte: no sum below carries into the next byte.
    @inline(__always) static func lettersOrDashes(_ w: UInt64) -> Int {
        let ones: UInt64 = 0x0101_0101_0101_0101, high: UInt64 = 0x8080_8080_8080_8080
        let v = w & ~high                        // the low seven bits of each byte
        let folded = v | 0x2020_2020_2020_2020   // 'A'...'Z' become 'a'...'z'; nothing else lands there
        let atLeastA = (folded &+ (0x80 - 0x61) &* ones) & high
        let pastZ = (folded &+ (0x80 - 0x7b) &* ones) & high
        let t = v ^ (0x2d &* ones)               // zero where the byte is '-'
        let nonDash = (t &+ 0x7f &* ones) & high
        let good = ((atLeastA & ~pastZ) | (~nonDash & high)) & ~(w & high)
        let bad = ~good & high
        return bad == 0 ? 8 : bad.trailingZeroBitCount >> 3
    }

    /// The two sets above as masks for `inSet` (what the table below is checked against).
    static let tokenMasks: (lo: UInt64, hi: UInt64) = (0x03ff_6ca2_0000_0000, 0x47ff_ffff_87ff_fffe)
    static let viaValueMasks: (lo: UInt64, hi: UInt64) = (0x07ff_6ca2_0000_0000, 0x47ff_ffff_afff_fffe)

    /// The class of each ASCII byte, the character at index c for byte c: bit 0 `token`, bit 1 Via value ('@' none,
    /// 'C' both, 'B' ':' '[' ']'). One load per byte in the parsers' name and value loops, where the masks took a
    /// select, a sign test and a bit test (the header-name scan was a quarter of the parse).
    @inline(__always) static var classes: StaticString {
        "@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@C@@@C@C@@CC@CC@CCCCCCCCCCB@@@@@@CCCCCCCCCCCCCCCCCCCCCCCCCCB@B@CCCCCCCCCCCCCCCCCCCCCCCCCCCC@@@C@"
    }

    /// Membership in a set of ASCII bytes given as two 64-bit masks (bit c of `lo` for c < 64, bit c - 64 of `hi`):
    /// a shift and a test instead of a chain of range comparisons, in the parsers' per-byte loops.
    @inline(__always) static func inSet(_ c: UInt8, _ lo: UInt64, _ hi: UInt64) -> Bool {
        let word = c < 64 ? lo : hi
        return c < 128 && (word >> UInt64(c & 63)) & 1 != 0
    }

    /// True when a byte of `r` is SP, HT, CR or LF. Eight bytes at a time: a word with no byte below 0x21 has none
    /// (the test for a byte below n, exact for n <= 128); a word with one is checked byte by byte.
    static func containsLWS(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        guard let base = b.baseAddress else { return false }
        var i = r.lowerBound
        while i + 8 <= r.upperBound {
            let w = UInt64(littleEndian: UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self))
            if (w &- 0x2121_2121_2121_2121) & ~w & 0x8080_8080_8080_8080 != 0 {
                for k in i..<(i + 8) where isLWS(b[k]) { return true }
            }
            i += 8
        }
        while i < r.upperBound { if isLWS(b[i]) { return true }; i += 1 }
        return false
    }

    /// Text of a byte range with folding (CR/LF followed by whitespace) collapsed to one space.
    static func unfolded(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> String {
        var hasBreak = false
        for i in r where b[i] == cr || b[i] == lf { hasBreak = true; break }
        if !hasBreak { return String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(r.count)
        var i = r.lowerBound
        while i < r.upperBound {
            let c = b[i]
            if c == cr || c == lf {
                // Drop the line break and the whitespace around it, keep one space.
                while let last = out.last, isWS(last) { out.removeLast() }
                while i < r.upperBound, isLWS(b[i]) { i += 1 }
                out.append(sp)
                continue
            }
            out.append(c)
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    @inline(__always)  // once per header line and Via value: the call cost a third of its work
    static func trim(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound, hi = r.upperBound
        while lo < hi, isLWS(b[lo]) { lo += 1 }
        while hi > lo, isLWS(b[hi - 1]) { hi -= 1 }
        return lo..<hi
    }

    static func equalsIgnoringCase(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, _ lit: StaticString) -> Bool {
        guard r.count == lit.utf8CodeUnitCount else { return false }
        let p = lit.utf8Start
        var i = 0
        // Eight bytes at a time ("SIP/2.0 " on every reply): 0x20 ORed into each byte of both words is the byte test.
        if let base = b.baseAddress {
            while i + 8 <= r.count {
                let x = UInt64(littleEndian: UnsafeRawPointer(base + r.lowerBound + i).loadUnaligned(as: UInt64.self))
                let y = UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
                if x | 0x2020_2020_2020_2020 != y | 0x2020_2020_2020_2020 { return false }
                i += 8
            }
        }
        while i < r.count {
            if (b[r.lowerBound + i] | 0x20) != (p[i] | 0x20) { return false }
            i += 1
        }
        return true
    }
}

extension Array where Element == UInt8 {
    /// Appends the UTF-8 bytes of a string.
    @inlinable public mutating func append(text: String) {
        var s = text
        s.withUTF8 { append(contentsOf: $0) }
    }
}
