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
        for (name, kind) in HeaderKind.table where name.count == n {
            var i = 0
            while i < n, lower(i) == name[i] { i += 1 }
            if i == n { return kind }
        }
        return .other
    }

    /// Lower-case names; the match above ORs 0x20 into each byte, which maps '-' (0x2d) to itself.
    static let table: [([UInt8], HeaderKind)] = ([
        ("via", .via), ("from", .from), ("to", .to), ("call-id", .callID), ("cseq", .cseq),
        ("content-length", .contentLength), ("content-type", .contentType), ("contact", .contact),
        ("max-forwards", .maxForwards), ("route", .route), ("record-route", .recordRoute),
        ("user-agent", .userAgent), ("server", .server), ("supported", .supported), ("require", .require),
        ("expires", .expires), ("event", .event), ("subject", .subject),
    ] as [(String, HeaderKind)]).map { (Array($0.0.utf8), $0.1) }

    /// Compact forms of headers kept as `.other`, both ways.
    static let otherForms: [String: String] = {
        let pairs = [("e", "content-encoding"), ("r", "refer-to"), ("b", "referred-by"), ("u", "allow-events"),
                     ("x", "session-expires"), ("y", "identity"), ("a", "accept-contact"), ("j", "reject-contact"),
                     ("d", "request-disposition")]
        var m: [String: String] = [:]
        for (c, full) in pairs { m[c] = full; m[full] = c }
        return m
    }()

    /// The kind for a name written in a script or by a module ("Via", "v", "X-Foo").
    public static func named(_ name: String) -> HeaderKind {
        var n = name
        return n.withUTF8 { classify($0, 0..<$0.count) }
    }
}
