#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// URL encoding as FreeSWITCH does it for plain/XML event header values, and libesl's decoding.
public enum ESLURL {
    /// Bytes that FreeSWITCH's switch_url_encode escapes (besides controls and non-ASCII).
    static let unsafe: [Bool] = {
        var t = [Bool](repeating: false, count: 256)
        for i in 0..<0x20 { t[i] = true }
        for i in 0x7F..<0x100 { t[i] = true }
        for c in "\r\n #%&+:;<=>?@[\\]^`{|}\"".utf8 { t[Int(c)] = true }
        return t
    }()
    static let hex: [UInt8] = Array("0123456789ABCDEF".utf8)

    @inline(__always) static func isUpperHex(_ b: UInt8) -> Bool { (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) }
    @inline(__always) static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// FreeSWITCH's encoding: uppercase `%XX`; a `%` already followed by two uppercase hex digits is kept;
    /// an empty result is `_undef_`.
    public static func encode(_ s: String) -> String {
        var out: [UInt8] = []
        appendEncoded(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    static func appendEncoded(_ s: String, to out: inout [UInt8]) {
        let b = Array(s.utf8)
        if b.isEmpty { out.append(contentsOf: Array("_undef_".utf8)); return }
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == 0x25 && i + 2 < b.count && isUpperHex(b[i + 1]) && isUpperHex(b[i + 2]) {
                out.append(c)
            } else if unsafe[Int(c)] {
                out.append(0x25); out.append(hex[Int(c >> 4)]); out.append(hex[Int(c & 15)])
            } else {
                out.append(c)
            }
            i += 1
        }
    }

    /// libesl's decoding: `%XX` (any-case hex) → byte; `+` stays `+`; malformed `%` sequences kept.
    public static func decode(_ s: String) -> String { decode(Array(s.utf8)[...]) }

    public static func decode(_ raw: ArraySlice<UInt8>) -> String {
        // Most values hold no escape (every frame's Content-Type, Content-Length, Reply-Text): their bytes as they are,
        // found with memchr on the slice's storage.
        let plain = raw.withUnsafeBufferPointer { b -> String? in
            guard let base = b.baseAddress else { return "" }
            return memchr(base, 0x25, b.count) == nil ? String(decoding: b, as: UTF8.self) : nil
        }
        if let plain { return plain }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = raw.startIndex
        while i < raw.endIndex {
            let c = raw[i]
            if c == 0x25, i + 2 < raw.endIndex, let h = hexValue(raw[i + 1]), let l = hexValue(raw[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(c)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
