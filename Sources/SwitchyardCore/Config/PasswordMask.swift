import Foundation

/// Hides the password of every `scheme://user:password@host` URL in a text (a config line quoted in a diagnostic, a
/// message naming a URL): the password becomes `***`.
enum PasswordMask {
    /// The masked text, and where a column of the original (1-based) lands in it.
    static func mask(_ text: String) -> (text: String, column: (Int) -> Int) {
        // Most texts hold no URL: nothing to mask, nothing to copy (every diagnostic masks two).
        guard hasSchemeSeparator(text) else { return (text, { $0 }) }
        // Over the UTF-8 bytes, from one "://" to the next (found by memchr): every byte the scan stops at is ASCII, so
        // the pieces copied are whole characters. (It went through an array of Characters, byte by byte: grapheme
        // breaking of the whole line was most of the cost of a diagnostic quoting a line with a URL.) Columns count
        // scalars, as the scanner does.
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        // (scalar index where a password started, its length in scalars): columns after it move by 3 - length.
        var cuts: [(start: Int, length: Int)] = []
        var copied = 0         // bytes before this are in `out`
        var scalarsCopied = 0  // scalars in them
        // When the userinfo after a "://" holds no password, none after a later "://" of the same URL does either (its
        // first ':' comes no earlier, its last '@' no later): the scan resumes past that URL, so a line of "://"s costs
        // its length, not its square.
        var noPasswordBefore = 0
        var searchFrom = 0
        while let separator = schemeSeparator(in: bytes, from: searchFrom) {
            searchFrom = separator + 1
            let schemeEnd = separator + 3
            // A "://" inside a password already masked, or inside a URL without one, starts nothing.
            guard schemeEnd >= copied, schemeEnd >= noPasswordBefore else { continue }
            switch passwordSpan(bytes, schemeEndAt: schemeEnd) {
            case .password(_, let colon, let at):
                if out.isEmpty { out.reserveCapacity(bytes.count) }
                out.append(contentsOf: bytes[copied...colon])
                out.append(contentsOf: "***".utf8)
                out.append(UInt8(ascii: "@"))
                let passwordStart = scalarsCopied + scalarCount(bytes[copied...colon])
                let passwordLength = scalarCount(bytes[(colon + 1)..<at])
                cuts.append((passwordStart, passwordLength))
                scalarsCopied = passwordStart + passwordLength + 1
                copied = at + 1
            case .noPassword(let urlEnd):
                noPasswordBefore = urlEnd
            case .notAURL:
                break
            }
        }
        // No password: the text as it was, not a copy.
        guard !cuts.isEmpty else { return (text, { $0 }) }
        out.append(contentsOf: bytes[copied...])
        let shifted: (Int) -> Int = { column in
            var c = column
            for cut in cuts where column - 1 >= cut.start {
                // Inside the password: the caret goes under the mask's start; after it: moved by the difference.
                c += column - 1 < cut.start + cut.length ? -(column - 1 - cut.start) : 3 - cut.length
            }
            return c
        }
        return (String(decoding: out, as: UTF8.self), shifted)
    }

    private static func scalarCount(_ bytes: ArraySlice<UInt8>) -> Int {
        var n = 0
        for b in bytes where b & 0xC0 != 0x80 { n += 1 }
        return n
    }

    /// The index of the ':' of the first "://" at or after `from`, found by memchr.
    static func schemeSeparator(in bytes: [UInt8], from: Int) -> Int? {
        bytes.withUnsafeBufferPointer { buf in
            guard let base = buf.baseAddress else { return nil }
            var i = from
            while i + 2 < buf.count, let hit = memchr(base + i, Int32(UInt8(ascii: ":")), buf.count - i - 2) {
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if buf[at + 1] == UInt8(ascii: "/"), buf[at + 2] == UInt8(ascii: "/") { return at }
                i = at + 1
            }
            return nil
        }
    }

    /// True when the text holds "://" (the only place a password is looked for); found by memchr, not a byte loop
    /// (this runs for the quoted line of every diagnostic).
    static func hasSchemeSeparator(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { buf in
            guard let base = buf.baseAddress else { return false }
            var i = 0
            while i + 2 < buf.count, let hit = memchr(base + i, Int32(UInt8(ascii: ":")), buf.count - i - 2) {
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if buf[at + 1] == UInt8(ascii: "/"), buf[at + 2] == UInt8(ascii: "/") { return true }
                i = at + 1
            }
            return false
        }
    }

    enum Span {
        /// (index after "://", index of the ':' before the password, index of the '@').
        case password(Int, Int, Int)
        /// A URL without a password, ending before this index.
        case noPassword(urlEnd: Int)
        case notAURL
    }

    /// When `i` is just past a "://", the userinfo's span, or where the URL without a password ends (byte indices).
    private static func passwordSpan(_ c: [UInt8], schemeEndAt i: Int) -> Span {
        guard i >= 3, c[i - 1] == UInt8(ascii: "/"), c[i - 2] == UInt8(ascii: "/"), c[i - 3] == UInt8(ascii: ":") else {
            return .notAURL
        }
        var colon = -1, at = -1
        var j = i
        // A password may hold '/', ',', ')' or '?' (OpenSIPS ends it at the first '@' only): the credentials run to the
        // last '@' before the URL's end, which only whitespace or a quote marks in a text. Masking too much beats
        // showing a password.
        while j < c.count {
            let b = c[j]
            if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") || isWhitespace(c, at: j) { break }
            if b == UInt8(ascii: ":") && colon < 0 { colon = j }
            if b == UInt8(ascii: "@") { at = j }  // the last '@' ends the userinfo
            j += 1
        }
        guard colon >= 0, at > colon else { return .noPassword(urlEnd: j) }
        return .password(i, colon, at)
    }

    /// True when the character starting at byte `j` has the Unicode White_Space property (what `Character.isWhitespace`
    /// tests): ASCII tab to carriage return and space, U+0085, U+00A0, U+1680, U+2000...U+200A, U+2028, U+2029,
    /// U+202F, U+205F, U+3000.
    static func isWhitespace(_ c: [UInt8], at j: Int) -> Bool {
        let b = c[j]
        if b < 0x80 { return b == 0x20 || (b &- 0x09) < 5 }
        func at(_ k: Int) -> UInt8 { j + k < c.count ? c[j + k] : 0 }
        switch b {
        case 0xC2: return at(1) == 0x85 || at(1) == 0xA0
        case 0xE1: return at(1) == 0x9A && at(2) == 0x80
        case 0xE2:
            if at(1) == 0x80 { let t = at(2); return (t >= 0x80 && t <= 0x8A) || t == 0xA8 || t == 0xA9 || t == 0xAF }
            return at(1) == 0x81 && at(2) == 0x9F
        case 0xE3: return at(1) == 0x80 && at(2) == 0x80
        default: return false
        }
    }
}
