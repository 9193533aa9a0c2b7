/// A validating pass over a JSON text that builds nothing: it accepts exactly the texts `JSONReader` accepts (same
/// grammar, nesting limit, escapes, UTF-8 and number range rules) and, when the root is an object, records where each
/// of its members' key and value lie. `parseNode` uses it to keep a document as text and decode members only when
/// they are read; on any error the caller re-runs `JSONReader`, which reports the error itself.
struct JSONScanner {
    private let buf: UnsafeBufferPointer<UInt8>
    private let maxDepth: Int
    private(set) var pos = 0
    /// Per root-object member, four numbers: key start, key end (inside the quotes; `escapedKey` set in the end when
    /// the key holds an escape), value start, value end (`escapedKey` set when the value is a string holding an
    /// escape). Filled only when the root is an object.
    private(set) var table: [UInt32] = []
    static let escapedKey: UInt32 = 1 << 31
    /// Whether the last string scanned held an escape.
    private var sawEscape = false
    /// Whether `table` is filled (false: a validity check only, no allocation).
    private let recordMembers: Bool

    init(buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int, recordMembers: Bool = true) {
        self.buf = buffer
        self.maxDepth = maxDepth
        self.recordMembers = recordMembers
    }

    /// Scans one complete value and the whitespace after it; true when that reaches the end of the buffer.
    mutating func scanDocument() -> Bool {
        // Offsets are kept in 31 bits; a larger text is left to JSONReader.
        guard buf.count < Int(Self.escapedKey), let base = buf.baseAddress else { return false }
        skipWhitespace()
        guard pos < buf.count else { return false }
        if base[pos] == UInt8(ascii: "{") {
            guard maxDepth > 0, scanRootObject(base) else { return false }
        } else {
            guard scanValue(base, startDepth: 0) else { return false }
        }
        skipWhitespace()
        return pos == buf.count
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while pos < buf.count {
            switch buf[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    /// Open containers: one bit each (1 = object), the first 64 in a word, deeper ones in an array.
    private struct Kinds {
        var low: UInt64 = 0
        var high: [Bool] = []
        mutating func set(_ depth: Int, object: Bool) {
            if depth < 64 {
                if object { low |= 1 << UInt64(depth) } else { low &= ~(1 << UInt64(depth)) }
            } else {
                if high.count <= depth - 64 { high.append(contentsOf: repeatElement(false, count: depth - 64 - high.count + 1)) }
                high[depth - 64] = object
            }
        }
        func isObject(_ depth: Int) -> Bool { depth < 64 ? low & (1 << UInt64(depth)) != 0 : high[depth - 64] }
    }

    /// The root object (at `pos`), recording each member in `table`. Its own loop, not scanValue's: a FreeSWITCH event
    /// is ~90 members of string values, and the per-member work (a key, a colon, a string, a comma) is most of the
    /// scan; a string value's end carries `escapedKey` when it holds an escape, so a read of one without escapes
    /// takes its bytes as they are.
    private mutating func scanRootObject(_ base: UnsafePointer<UInt8>) -> Bool {
        // The position in a local (not `pos`, a stored property written back around every call): `pos` is set only
        // around the general scanners, for strings with escapes or non-ASCII bytes and for non-string values.
        let n = buf.count
        var p = pos + 1
        Self.skipWhitespace(base, n, &p)
        guard p < n else { return false }
        if base[p] == UInt8(ascii: "}") {
            pos = p + 1
            return true
        }
        var t: [UInt32] = []
        // A member takes at least 5 bytes ("":1,) and 4 entries: room for what the text can hold, bounded.
        if recordMembers { t.reserveCapacity(min(n / 5 * 4 + 4, 4096)) }
        while true {
            guard p < n, base[p] == UInt8(ascii: "\"") else { return false }
            let keyFrom = p + 1
            var keyEscaped = false
            if let e = Self.plainStringEnd(base, n, p) {
                p = e
            } else {
                pos = p
                guard scanString(base) else { return false }
                p = pos
                keyEscaped = sawEscape
            }
            let keyTo = UInt32(p - 1) | (keyEscaped ? Self.escapedKey : 0)
            Self.skipWhitespace(base, n, &p)
            guard p < n, base[p] == UInt8(ascii: ":") else { return false }
            p += 1
            Self.skipWhitespace(base, n, &p)
            guard p < n else { return false }
            let valueFrom = p
            var valueTo: UInt32
            if base[p] == UInt8(ascii: "\""), let e = Self.plainStringEnd(base, n, p) {
                p = e
                valueTo = UInt32(p)
            } else {
                pos = p
                let isString = base[p] == UInt8(ascii: "\"")
                guard isString ? scanString(base) : scanValue(base, startDepth: 1) else { return false }
                p = pos
                valueTo = UInt32(p) | (isString && sawEscape ? Self.escapedKey : 0)
            }
            if recordMembers {
                t.append(UInt32(keyFrom))
                t.append(keyTo)
                t.append(UInt32(valueFrom))
                t.append(valueTo)
            }
            Self.skipWhitespace(base, n, &p)
            guard p < n else { return false }
            let c = base[p]
            p += 1
            if c == UInt8(ascii: "}") {
                pos = p
                table = t
                return true
            }
            guard c == UInt8(ascii: ",") else { return false }
            Self.skipWhitespace(base, n, &p)
        }
    }

    @inline(__always)
    private static func skipWhitespace(_ base: UnsafePointer<UInt8>, _ n: Int, _ p: inout Int) {
        while p < n {
            switch base[p] {
            case 0x20, 0x09, 0x0A, 0x0D: p += 1
            default: return
            }
        }
    }

    /// Just after the closing quote of the string opening at `open`, when it is plain ASCII with no escape and no
    /// control character (then valid as it is); nil at anything else, which scanString checks in full.
    @inline(__always)
    private static func plainStringEnd(_ base: UnsafePointer<UInt8>, _ n: Int, _ open: Int) -> Int? {
        var p = open + 1
        let raw = UnsafeRawPointer(base)
        while p + 8 <= n {
            let m = specialMask(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
            if m == 0 {
                p += 8
                continue
            }
            p += m.trailingZeroBitCount >> 3
            return base[p] == UInt8(ascii: "\"") ? p + 1 : nil
        }
        while p < n {
            let b = base[p]
            if b == UInt8(ascii: "\"") { return p + 1 }
            if b == UInt8(ascii: "\\") || b < 0x20 || b >= 0x80 { return nil }
            p += 1
        }
        return nil
    }

    /// One complete value at `pos`, inside `startDepth` open containers (for the nesting limit); records nothing.
    private mutating func scanValue(_ base: UnsafePointer<UInt8>, startDepth: Int) -> Bool {
        var depth = startDepth  // open non-empty containers
        var kinds = Kinds()

        nextValue: while true {
            skipWhitespace()
            guard pos < buf.count else { return false }
            let c = buf[pos]
            switch c {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = c == UInt8(ascii: "{")
                guard depth < maxDepth else { return false }
                pos += 1
                skipWhitespace()
                guard pos < buf.count else { return false }
                if buf[pos] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    pos += 1
                } else {
                    kinds.set(depth, object: isObject)
                    depth += 1
                    if isObject {
                        guard scanKey(base) else { return false }
                    }
                    continue nextValue
                }
            case UInt8(ascii: "\""):
                guard scanString(base) else { return false }
            case UInt8(ascii: "t"):
                guard literal("true") else { return false }
            case UInt8(ascii: "f"):
                guard literal("false") else { return false }
            case UInt8(ascii: "n"):
                guard literal("null") else { return false }
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                guard scanNumber() else { return false }
            default:
                return false
            }

            // A value is complete: close as many containers as end here.
            while depth > startDepth {
                let isObject = kinds.isObject(depth - 1)
                skipWhitespace()
                guard pos < buf.count else { return false }
                let c = buf[pos]
                if c == UInt8(ascii: ",") {
                    pos += 1
                    if isObject {
                        guard scanKey(base) else { return false }
                    }
                    continue nextValue
                }
                guard c == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else { return false }
                pos += 1
                depth -= 1
            }
            return true
        }
    }

    private mutating func scanKey(_ base: UnsafePointer<UInt8>) -> Bool {
        skipWhitespace()
        guard pos < buf.count, buf[pos] == UInt8(ascii: "\"") else { return false }
        guard scanString(base) else { return false }
        skipWhitespace()
        guard pos < buf.count, buf[pos] == UInt8(ascii: ":") else { return false }
        pos += 1
        return true
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard buf.count - pos >= n else { return false }
        for i in 0..<n where buf[pos + i] != word.utf8Start[i] { return false }
        pos += n
        return true
    }

    @inline(__always)
    private static func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

    private mutating func digits() -> Bool {
        guard pos < buf.count, Self.isDigit(buf[pos]) else { return false }
        while pos < buf.count && Self.isDigit(buf[pos]) { pos += 1 }
        return true
    }

    /// The number grammar, then JSONReader's range rule: an integer that fits Int64 is kept, anything else must be a
    /// finite Double.
    private mutating func scanNumber() -> Bool {
        let start = pos
        let negative = buf[pos] == UInt8(ascii: "-")
        if negative { pos += 1 }
        guard pos < buf.count else { return false }
        if buf[pos] == UInt8(ascii: "0") {
            pos += 1
            if pos < buf.count && Self.isDigit(buf[pos]) { return false }
        } else {
            guard digits() else { return false }
        }
        let integerDigits = pos - (negative ? start + 1 : start)
        var isInteger = true
        if pos < buf.count && buf[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard digits() else { return false }
        }
        if pos < buf.count && (buf[pos] == UInt8(ascii: "e") || buf[pos] == UInt8(ascii: "E")) {
            isInteger = false
            pos += 1
            if pos < buf.count && (buf[pos] == UInt8(ascii: "+") || buf[pos] == UInt8(ascii: "-")) { pos += 1 }
            guard digits() else { return false }
        }
        if isInteger && integerDigits <= 18 { return true }  // always an Int64
        if isInteger && Int64(String(decoding: UnsafeBufferPointer(rebasing: buf[start..<pos]), as: UTF8.self)) != nil {
            return true
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<pos]), as: UTF8.self)
        guard let d = Double(text), d.isFinite else { return false }
        return true
    }

    /// Which of these 8 bytes end the fast path (a quote, a backslash, a control character or a non-ASCII byte): the
    /// high bit of each such byte is set. Borrows only carry upwards, so the lowest bit set is exact (the bytes above
    /// it may be flagged wrongly, and are looked at one by one).
    @inline(__always)
    private static func specialMask(_ x: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let q = x ^ (ones &* 0x22)
        let b = x ^ (ones &* 0x5C)
        let zeroInQ = (q &- ones) & ~q
        let zeroInB = (b &- ones) & ~b
        let below20 = (x &- ones &* 0x20) & ~x
        return (zeroInQ | zeroInB | below20 | x) & highs
    }

    /// From an opening quote to just after the closing one; escapes and UTF-8 checked as JSONReader checks them.
    /// Plain ASCII is skipped 8 bytes at a time, in a local position (the stored one only around escapes).
    private mutating func scanString(_ base: UnsafePointer<UInt8>) -> Bool {
        var p = pos + 1
        let n = buf.count
        sawEscape = false
        let raw = UnsafeRawPointer(base)
        while true {
            while p + 8 <= n {
                let m = Self.specialMask(UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
                if m == 0 { p += 8; continue }
                p += m.trailingZeroBitCount >> 3 // bytes in memory order: the first special byte
                break
            }
            guard p < n else { pos = p; return false }
            let b = base[p]
            if b == UInt8(ascii: "\"") {
                pos = p + 1
                return true
            }
            if b == UInt8(ascii: "\\") {
                sawEscape = true
                pos = p
                guard escape() else { return false }
                p = pos
            } else if b < 0x20 {
                pos = p
                return false
            } else if b >= 0x80 {
                pos = p
                guard utf8Sequence(b) else { return false }
                p = pos
            } else {
                p += 1
            }
        }
    }

    private mutating func escape() -> Bool {
        pos += 1
        guard pos < buf.count else { return false }
        let e = buf[pos]
        pos += 1
        switch e {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return true
        case UInt8(ascii: "u"):
            guard let first = hex4() else { return false }
            if (0xD800...0xDBFF).contains(first) {
                guard pos + 1 < buf.count, buf[pos] == UInt8(ascii: "\\"), buf[pos + 1] == UInt8(ascii: "u") else { return false }
                pos += 2
                guard let second = hex4(), (0xDC00...0xDFFF).contains(second) else { return false }
                return true
            }
            return !(0xDC00...0xDFFF).contains(first)
        default:
            return false
        }
    }

    private mutating func hex4() -> UInt16? {
        guard buf.count - pos >= 4 else { return nil }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let b = buf[pos]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt16(digit)
            pos += 1
        }
        return value
    }

    /// One well-formed UTF-8 sequence starting with `lead` (no overlong form, no surrogate, nothing past U+10FFFF):
    /// what String(validating:) accepts.
    private mutating func utf8Sequence(_ lead: UInt8) -> Bool {
        func byte(_ i: Int, _ range: ClosedRange<UInt8>) -> Bool { pos + i < buf.count && range.contains(buf[pos + i]) }
        let tail: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF:
            guard byte(1, tail) else { return false }
            pos += 2
        case 0xE0:
            guard byte(1, 0xA0...0xBF), byte(2, tail) else { return false }
            pos += 3
        case 0xE1...0xEC, 0xEE...0xEF:
            guard byte(1, tail), byte(2, tail) else { return false }
            pos += 3
        case 0xED:
            guard byte(1, 0x80...0x9F), byte(2, tail) else { return false }
            pos += 3
        case 0xF0:
            guard byte(1, 0x90...0xBF), byte(2, tail), byte(3, tail) else { return false }
            pos += 4
        case 0xF1...0xF3:
            guard byte(1, tail), byte(2, tail), byte(3, tail) else { return false }
            pos += 4
        case 0xF4:
            guard byte(1, 0x80...0x8F), byte(2, tail), byte(3, tail) else { return false }
            pos += 4
        default:
            return false
        }
        return true
    }
}
