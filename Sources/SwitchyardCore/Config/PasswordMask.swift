/// Hides the password of every `scheme://user:password@host` URL in a text (a config line quoted in a diagnostic, a
/// message naming a URL): the password becomes `***`.
enum PasswordMask {
    /// The masked text, and where a column of the original (1-based) lands in it.
    static func mask(_ text: String) -> (text: String, column: (Int) -> Int) {
        // Most texts hold no URL: nothing to mask, and no array of Characters to build (every diagnostic masks two).
        guard hasSchemeSeparator(text) else { return (text, { $0 }) }
        let chars = Array(text)
        var out: [Character] = []
        out.reserveCapacity(chars.count)
        // (original index where a password started, its length): columns after it move by 3 - length.
        var cuts: [(start: Int, length: Int)] = []
        var i = 0
        // When the userinfo after a "://" holds no password, none after a later "://" of the same URL does either (its
        // first ':' comes no earlier, its last '@' no later): the scan resumes past that URL, so a line of "://"s costs
        // its length, not its square.
        var noPasswordBefore = 0
        while i < chars.count {
            if i >= noPasswordBefore {
                switch passwordSpan(chars, schemeEndAt: i) {
                case .password(let userStart, let colon, let at):
                    out.append(contentsOf: chars[i..<userStart])
                    out.append(contentsOf: chars[userStart...colon])
                    out.append(contentsOf: "***")
                    cuts.append((colon + 1, at - colon - 1))
                    out.append("@")
                    i = at + 1
                    continue
                case .noPassword(let urlEnd):
                    noPasswordBefore = urlEnd
                case .notAURL:
                    break
                }
            }
            out.append(chars[i])
            i += 1
        }
        let shifted: (Int) -> Int = { column in
            var c = column
            for cut in cuts where column - 1 >= cut.start {
                // Inside the password: the caret goes under the mask's start; after it: moved by the difference.
                c += column - 1 < cut.start + cut.length ? -(column - 1 - cut.start) : 3 - cut.length
            }
            return c
        }
        return (String(out), shifted)
    }

    /// True when the text holds "://" (the only place a password is looked for).
    static func hasSchemeSeparator(_ text: String) -> Bool {
        var matched = 0
        for b in text.utf8 {
            if b == UInt8(ascii: ":") { matched = 1 } else if b == UInt8(ascii: "/"), matched > 0 {
                if matched == 2 { return true }
                matched = 2
            } else { matched = 0 }
        }
        return false
    }

    enum Span {
        /// (index after "://", index of the ':' before the password, index of the '@').
        case password(Int, Int, Int)
        /// A URL without a password, ending before this index.
        case noPassword(urlEnd: Int)
        case notAURL
    }

    /// When `i` is just past a "://", the userinfo's span, or where the URL without a password ends.
    private static func passwordSpan(_ c: [Character], schemeEndAt i: Int) -> Span {
        guard i >= 3, c[i - 1] == "/", c[i - 2] == "/", c[i - 3] == ":" else { return .notAURL }
        var colon = -1, at = -1
        var j = i
        // A password may hold '/', ',', ')' or '?' (OpenSIPS ends it at the first '@' only): the credentials run to the
        // last '@' before the URL's end, which only whitespace or a quote marks in a text. Masking too much beats
        // showing a password.
        while j < c.count {
            let ch = c[j]
            if ch == "\"" || ch == "'" || ch.isWhitespace { break }
            if ch == ":" && colon < 0 { colon = j }
            if ch == "@" { at = j }  // the last '@' ends the userinfo
            j += 1
        }
        guard colon >= 0, at > colon else { return .noPassword(urlEnd: j) }
        return .password(i, colon, at)
    }
}
