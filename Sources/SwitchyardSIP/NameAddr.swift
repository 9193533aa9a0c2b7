#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A From/To/Contact style value: `"Display" <uri>;params` or `uri;params`.
public struct NameAddr: Sendable, Equatable {
    /// The display name without its quotes (escapes left as written).
    public var display: String
    public var uri: String
    /// Header parameters after the URI (`tag=...`), without the leading ';'.
    public var params: String
    /// The display name as written: a quoted one keeps its quotes (`"Alice"`, `""`), as OpenSIPS's parse_to
    /// stores it and `$fn`/`$tn` return it; an unquoted one is its trimmed tokens. Empty when there is none.
    public var rawDisplay: String = ""

    public init(display: String, uri: String, params: String, rawDisplay: String = "") {
        self.display = display
        self.uri = uri
        self.params = params
        self.rawDisplay = rawDisplay
    }

    public func param(_ name: String) -> String? {
        for p in params.split(separator: ";") {
            let kv = p.split(separator: "=", maxSplits: 1)
            guard let k = kv.first else { continue }
            if k.trimmingWS().lowercased() == name { return kv.count > 1 ? String(kv[1].trimmingWS()) : "" }
        }
        return nil
    }

    /// The checks of `parse`, on bytes and without building anything (run on every message's From and To).
    static func isValid(_ u: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        var i = r.lowerBound
        let end = r.upperBound
        while i < end, Byte.isLWS(u[i]) { i += 1 }
        var quoted = false
        if i < end, u[i] == Byte.quote {
            i += 1
            while i < end, u[i] != Byte.quote { if u[i] == Byte.backslash { i += 1 }; i += 1 }
            guard i < end else { return false }
            i += 1
            quoted = true
        }
        // The display name (tokens and whitespace, or only whitespace after a quoted one) runs up to the first '<'.
        var lt = i
        if quoted {
            while lt < end, u[lt] != Byte.lt { lt += 1 }
            if lt < end { for k in i..<lt where !Byte.isLWS(u[k]) { return false } }
        } else {
            while lt < end, Byte.inSet(u[lt], tokenOrLWSLow, tokenHigh) { lt += 1 }
            if lt < end, u[lt] != Byte.lt {
                // Another byte first: with a '<' later the display name is bad; without one this is an addr-spec.
                var k = lt
                while k < end, u[k] != Byte.lt { k += 1 }
                if k < end { return false }
                lt = end
            }
        }
        if lt < end {
            // A '>' closes it, with no whitespace inside <...>.
            guard lt + 1 < end, let base = u.baseAddress,
                  let p = memchr(base + lt + 1, Int32(Byte.gt), end - lt - 1) else { return false }
            return !Byte.containsLWS(u, (lt + 1)..<base.distance(to: p.assumingMemoryBound(to: UInt8.self)))
        }
        guard !quoted else { return false }
        var semi = i
        while semi < end, u[semi] != Byte.semi { semi += 1 }
        var k = i
        while k < semi, Byte.isLWS(u[k]) { k += 1 }
        return k < semi
    }

    /// `Byte.inSet` masks: token bytes and SP, HT, CR, LF (with `Byte.isToken`'s high mask).
    static let tokenOrLWSLow: UInt64 = 0x03ff_6ca3_0000_2600
    static let tokenHigh: UInt64 = 0x47ff_ffff_87ff_fffe

    public static func parse(_ text: String) -> NameAddr? {
        let u = Array(text.utf8)
        var i = 0
        func s(_ r: Range<Int>) -> String { String(decoding: u[r], as: UTF8.self) }
        while i < u.count, Byte.isLWS(u[i]) { i += 1 }
        var display = ""
        var raw = ""
        var quoted = false
        // Quoted display name (may contain '<', ';', ',').
        if i < u.count, u[i] == Byte.quote {
            let ds = i + 1
            i += 1
            while i < u.count, u[i] != Byte.quote { if u[i] == Byte.backslash { i += 1 }; i += 1 }
            guard i < u.count else { return nil }
            display = s(ds..<i)
            raw = s((ds - 1)..<(i + 1))
            quoted = true
            i += 1
        }
        if let lt = u[i...].firstIndex(of: Byte.lt) {
            if !quoted {
                // An unquoted display name is tokens and whitespace only.
                for c in u[i..<lt] where !(Byte.isToken(c) || Byte.isLWS(c)) { return nil }
                display = s(i..<lt).trimmingWS()
                raw = display
            } else {
                for c in u[i..<lt] where !Byte.isLWS(c) { return nil }
            }
            guard let gt = u[lt...].firstIndex(of: Byte.gt) else { return nil }
            // No whitespace inside <...>.
            for c in u[(lt + 1)..<gt] where Byte.isLWS(c) { return nil }
            let uri = s((lt + 1)..<gt)
            var rest = gt + 1
            while rest < u.count, Byte.isLWS(u[rest]) { rest += 1 }
            var params = ""
            if rest < u.count, u[rest] == Byte.semi { params = s((rest + 1)..<u.count) }
            return NameAddr(display: display, uri: uri.trimmingWS(), params: params, rawDisplay: raw)
        }
        guard !quoted else { return nil }
        // addr-spec form: parameters after ';' belong to the header.
        let semi = u[i...].firstIndex(of: Byte.semi) ?? u.count
        let uri = s(i..<semi).trimmingWS()
        guard !uri.isEmpty else { return nil }
        return NameAddr(display: "", uri: uri, params: semi < u.count ? s((semi + 1)..<u.count) : "")
    }
}

extension StringProtocol {
    func trimmingWS() -> String {
        var u = Substring(self)
        while let f = u.first, f == " " || f == "\t" { u = u.dropFirst() }
        while let l = u.last, l == " " || l == "\t" { u = u.dropLast() }
        return String(u)
    }
}
