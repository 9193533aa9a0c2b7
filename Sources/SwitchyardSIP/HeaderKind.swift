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
        // By length first: one comparison for most names. The match ORs 0x20 into each byte, which maps '-' to
        // itself. Raw values stay below 32: the parser keeps one bit per kind seen.
        @inline(__always) func eq(_ lit: StaticString) -> Bool { Byte.equalsIgnoringCase(b, r, lit) }
        switch n {
        case 2: return eq("to") ? .to : .other
        case 3: return eq("via") ? .via : .other
        case 4: return eq("from") ? .from : eq("cseq") ? .cseq : .other
        case 5: return eq("route") ? .route : eq("event") ? .event : .other
        case 6: return eq("server") ? .server : .other
        case 7:
            switch lower(0) {
            case UInt8(ascii: "c"): return eq("call-id") ? .callID : eq("contact") ? .contact : .other
            case UInt8(ascii: "e"): return eq("expires") ? .expires : .other
            case UInt8(ascii: "r"): return eq("require") ? .require : .other
            case UInt8(ascii: "s"): return eq("subject") ? .subject : .other
            default: return .other
            }
        case 9: return eq("supported") ? .supported : .other
        case 10: return eq("user-agent") ? .userAgent : .other
        case 12:
            switch lower(0) {
            case UInt8(ascii: "c"): return eq("content-type") ? .contentType : .other
            case UInt8(ascii: "m"): return eq("max-forwards") ? .maxForwards : .other
            case UInt8(ascii: "r"): return eq("record-route") ? .recordRoute : .other
            default: return .other
            }
        case 14: return eq("content-length") ? .contentLength : .other
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
