// Small text helpers plugins kept writing for themselves (no Foundation in the kit).

extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (SIP/ESL header values).
    public func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

extension StringProtocol {
    /// `%XX` → byte, for the parts of a URL; nil on a malformed escape, a NUL byte (a C string would end there) or a
    /// result that is not UTF-8.
    public func percentDecoded() -> String? {
        guard contains("%") else { return String(self) }
        var out: [UInt8] = []
        var it = utf8.makeIterator()
        while let b = it.next() {
            guard b == UInt8(ascii: "%") else { out.append(b); continue }
            guard let h = it.next().flatMap(hexDigit), let l = it.next().flatMap(hexDigit) else { return nil }
            out.append(h << 4 | l)
        }
        if out.contains(0) { return nil }
        return String(validating: out, as: UTF8.self)
    }
}

private func hexDigit(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}
