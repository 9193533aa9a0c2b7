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
