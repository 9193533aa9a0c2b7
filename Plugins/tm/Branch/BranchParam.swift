// tm's Via branch parameter: "z9hG4bK" + reversed-hex hash.label.branch (TM.withBranchID writes it). Read on every
// reply from downstream, in place and without per-byte bounds checks, so it is a library of its own that tmTests
// calls directly with malformed values.

public enum BranchParam {
    /// The three numbers of the `len` bytes at `b` (hash, label, branch), or nil unless they are exactly the magic
    /// cookie and three numbers of 1 to 8 hex digits (either case, least significant first) separated by single dots.
    /// Every read is at an index below `len`.
    @inlinable
    public static func parse(_ b: UnsafePointer<UInt8>, _ len: Int) -> (hash: UInt32, label: UInt32, branch: UInt32)? {
        // The shortest value is the cookie and "0.0.0" (12 bytes); 10 and 11 fail below, never reading past len.
        guard len > 9 else { return nil }
        // "z9hG4bK" as one 4-byte and one 3-byte comparison; the 4 bytes read as little-endian whatever the host.
        guard UInt32(littleEndian: UnsafeRawPointer(b).loadUnaligned(as: UInt32.self)) == 0x4768_397a,  // "z9hG"
              b[4] == 52, b[5] == 98, b[6] == 75 else { return nil }  // "4bK"
        var i = 7
        @inline(__always) func number() -> UInt32? {
            var v: UInt32 = 0, shift: UInt32 = 0
            let start = i
            while i < len {
                let c = b[i]
                let d: UInt32
                if c &- 48 < 10 { d = UInt32(c &- 48) }
                else if (c | 0x20) &- 97 < 6 { d = UInt32((c | 0x20) &- 87) }
                else { break }
                guard shift < 32 else { return nil }  // a ninth digit
                v |= d << shift
                shift += 4
                i += 1
            }
            return i > start ? v : nil
        }
        guard let h = number(), i < len, b[i] == 46 else { return nil }
        i += 1
        guard let l = number(), i < len, b[i] == 46 else { return nil }
        i += 1
        guard let br = number(), i == len else { return nil }
        return (h, l, br)
    }
}
