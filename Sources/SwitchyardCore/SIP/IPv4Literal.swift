import SwitchyardSIP

/// A dotted-quad IPv4 address read from its bytes, for the per-message address checks (the sender's Via host, a
/// reply's next hop): no C string, no `inet_pton` call.
enum IPv4Literal {
    /// The address in network byte order, when `text` is four decimal numbers 0-255 separated by dots, without
    /// leading zeros or anything else: only forms `inet_pton(AF_INET)` accepts, with the value it gives. Any other
    /// text gives nil and the caller asks `inet_pton` as before, so what is accepted and refused does not change.
    static func parse(_ text: String) -> UInt32? {
        var s = text
        return s.withUTF8 { parse($0) }
    }

    static func parse(_ b: UnsafeBufferPointer<UInt8>) -> UInt32? {
        guard b.count >= 7, b.count <= 15 else { return nil }
        var value: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var dots = 0
        for c in b {
            if c == UInt8(ascii: ".") {
                guard digits > 0, dots < 3 else { return nil }
                value = value << 8 | octet
                octet = 0; digits = 0; dots += 1
            } else if c >= 48, c <= 57 {
                // A leading zero ("01") is refused by inet_pton: left to it.
                guard !(digits == 1 && octet == 0) else { return nil }
                octet = octet * 10 + UInt32(c - 48)
                digits += 1
                guard octet <= 255 else { return nil }
            } else {
                return nil
            }
        }
        guard digits > 0, dots == 3 else { return nil }
        return (value << 8 | octet).bigEndian
    }
}

extension SIPMessage {
    /// `IPv4Literal.parse` of a byte range of the message (a Via's host or received=), without making its text.
    func ipv4(_ r: Range<Int>) -> UInt32? {
        bytes.withUnsafeBufferPointer { IPv4Literal.parse(UnsafeBufferPointer(rebasing: $0[r])) }
    }
}
