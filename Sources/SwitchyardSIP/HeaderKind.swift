/// The headers the core looks at, recognised once when the message is split into header fields
/// (full and compact names, case-insensitive). Everything else is `.other` and found by name.
public enum HeaderKind: UInt8, Sendable {
    case other, via, from, to, callID, cseq, contentLength, contentType, contact, maxForwards
    case route, recordRoute, userAgent, server, supported, require, expires, event, subject

    /// Classifies a header name given as bytes.
    static func classify(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> HeaderKind {
        let n = r.count
        @inline(__always) func lower(_ i: Int) -> UInt8 { b[r.lowerBound + i] | 0x20 }
        if n == 1 {
            switch lower(0) {
            case UInt8(ascii: "v"): return .via
            case UInt8(ascii: "f"): return .from
            case UInt8(ascii: "t"): return .to
            case UInt8(ascii: "i"): return .callID
            case UInt8(ascii: "l"): return .contentLength
            case UInt8(ascii: "c"): return .contentType
            case UInt8(ascii: "m"): return .contact
            case UInt8(ascii: "k"): return .supported
            case UInt8(ascii: "s"): return .subject
            case UInt8(ascii: "o"): return .event
            default: return .other
            }
        }
        // By length first, then the name as one or two 64-bit words (the first 8 bytes, and the last 8 when longer)
        // with 0x20 ORed into each byte, compared with the lower-case name's words: the byte-by-byte comparison it
        // replaces ORed 0x20 the same way (which maps '-' to itself), so the same names match. Raw values stay below
        // 32: the parser keeps one bit per kind seen.
        guard n >= 2, n <= 14, let base = b.baseAddress else { return .other }
        let p = base + r.lowerBound
        let w0: UInt64, w1: UInt64
        if n >= 8 {
            w0 = UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)) | 0x2020_2020_2020_2020
            w1 = UInt64(littleEndian: UnsafeRawPointer(p + (n - 8)).loadUnaligned(as: UInt64.self)) | 0x2020_2020_2020_2020
        } else {
            // Two overlapping loads (the first and the last 4 or 2 bytes) give the n bytes; the overlap ORs equal bytes.
            let raw = UnsafeRawPointer(p)
            let head: UInt64, tail: UInt64
            if n >= 4 {
                head = UInt64(UInt32(littleEndian: raw.loadUnaligned(as: UInt32.self)))
                tail = UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))) << UInt64(8 * (n - 4))
            } else {
                head = UInt64(UInt16(littleEndian: raw.loadUnaligned(as: UInt16.self)))
                tail = UInt64(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: n - 2, as: UInt16.self))) << UInt64(8 * (n - 2))
            }
            w0 = head | tail | (0x2020_2020_2020_2020 >> UInt64(8 * (8 - n)))
            w1 = 0
        }
        switch n {
        case 2: return w0 == 0x6f74 ? .to : .other                                    // "to"
        case 3: return w0 == 0x61_6976 ? .via : .other                                // "via"
        case 4: return w0 == 0x6d6f_7266 ? .from : w0 == 0x7165_7363 ? .cseq : .other  // "from", "cseq"
        case 5: return w0 == 0x65_7475_6f72 ? .route : w0 == 0x74_6e65_7665 ? .event : .other  // "route", "event"
        case 6: return w0 == 0x7265_7672_6573 ? .server : .other                      // "server"
        case 7:
            switch w0 {
            case 0x64_692d_6c6c_6163: return .callID     // "call-id"
            case 0x74_6361_746e_6f63: return .contact    // "contact"
            case 0x73_6572_6970_7865: return .expires    // "expires"
            case 0x65_7269_7571_6572: return .require    // "require"
            case 0x74_6365_6a62_7573: return .subject    // "subject"
            default: return .other
            }
        case 9: return w0 == 0x6574_726f_7070_7573 && w1 == 0x6465_7472_6f70_7075 ? .supported : .other  // "supported"
        case 10: return w0 == 0x6567_612d_7265_7375 && w1 == 0x746e_6567_612d_7265 ? .userAgent : .other  // "user-agent"
        case 12:
            switch (w0, w1) {
            case (0x2d74_6e65_746e_6f63, 0x6570_7974_2d74_6e65): return .contentType   // "content-type"
            case (0x7772_6f66_2d78_616d, 0x7364_7261_7772_6f66): return .maxForwards   // "max-forwards"
            case (0x722d_6472_6f63_6572, 0x6574_756f_722d_6472): return .recordRoute   // "record-route"
            default: return .other
            }
        case 14: return w0 == 0x2d74_6e65_746e_6f63 && w1 == 0x6874_676e_656c_2d74 ? .contentLength : .other  // "content-length"
        default: return .other
        }
    }

    /// Compact forms of headers kept as `.other`, both ways.
    static let otherForms: [String: String] = {
        let pairs = [("e", "content-encoding"), ("r", "refer-to"), ("b", "referred-by"), ("u", "allow-events"),
                     ("x", "session-expires"), ("y", "identity"), ("a", "accept-contact"), ("j", "reject-contact"),
                     ("d", "request-disposition")]
        var m: [String: String] = [:]
        for (c, full) in pairs { m[c] = full; m[full] = c }
        return m
    }()

    /// `named` for a name given as bytes (a module's header name through the ABI).
    public static func named(bytes: UnsafeBufferPointer<UInt8>) -> HeaderKind {
        classify(bytes, 0..<bytes.count)
    }

    /// The kind for a name written in a script or by a module ("Via", "v", "X-Foo").
    public static func named(_ name: String) -> HeaderKind {
        var n = name
        return n.withUTF8 { classify($0, 0..<$0.count) }
    }
}
