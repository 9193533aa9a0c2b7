// SYValue: the script value model (null | int | string) on the Swift side, with copies to and from the C `sy_value`.
import SwitchyardABI

/// A script value, as OpenSIPS models it: NULL, an integer or a string.
///
/// Converting from C (`init(_:)`) copies the bytes, so the result outlives the C value. Converting to C is only possible
/// inside a closure (`withCValue`), because the C value borrows the Swift string's bytes for exactly that long.
public enum SYValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case int(Int64)
    case string(String)

    /// Copies a C value. An unknown `type` reads as `.null`.
    public init(_ raw: sy_value) {
        switch raw.type {
        case Int32(SY_VAL_INT.rawValue): self = .int(raw.i)
        case Int32(SY_VAL_STR.rawValue): self = .string(raw.s.string)
        default: self = .null
        }
    }

    /// Copies a C value behind a pointer; NULL reads as `.null`.
    public init(copying raw: UnsafePointer<sy_value>?) {
        guard let raw else { self = .null; return }
        self.init(raw.pointee)
    }

    /// The integer, if this is `.int`.
    public var intValue: Int64? { if case .int(let i) = self { return i } else { return nil } }
    /// The string, if this is `.string`.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
    /// True for `.null`.
    public var isNull: Bool { if case .null = self { return true } else { return false } }

    /// The value as a script would print it: `<null>`, the decimal integer, or the string.
    public var description: String {
        switch self {
        case .null: return "<null>"
        case .int(let i): return String(i)
        case .string(let s): return s
        }
    }

    /// Calls `body` with a C view of this value. A string's bytes are borrowed: the pointer (and `s.s` inside it) is
    /// valid only during `body` — the host functions that take a `const sy_value *` copy what they keep.
    public func withCValue<R>(_ body: (UnsafePointer<sy_value>) throws -> R) rethrows -> R {
        var raw = sy_value()
        switch self {
        case .null:
            raw.type = Int32(SY_VAL_NULL.rawValue)
            return try body(&raw)
        case .int(let i):
            raw.type = Int32(SY_VAL_INT.rawValue)
            raw.i = i
            return try body(&raw)
        case .string(let s):
            return try sy_str.with(s) { str in
                raw.type = Int32(SY_VAL_STR.rawValue)
                raw.s = str
                return try body(&raw)
            }
        }
    }

    /// Writes this value into `out` for a getter that must hand out a C value whose string outlives the call
    /// (a pseudo-variable getter): the string bytes are copied into the buffer `scratch` returns, which the caller
    /// keeps alive. Returns false (and writes NULL) if `scratch` cannot provide the bytes.
    func write(to out: UnsafeMutablePointer<sy_value>, scratch: (Int) -> UnsafeMutablePointer<UInt8>?) -> Bool {
        out.pointee = sy_value()
        switch self {
        case .null:
            out.pointee.type = Int32(SY_VAL_NULL.rawValue)
            return true
        case .int(let i):
            out.pointee.type = Int32(SY_VAL_INT.rawValue)
            out.pointee.i = i
            return true
        case .string(var s):
            return s.withUTF8 { bytes in
                guard let dst = scratch(bytes.count) else {
                    out.pointee.type = Int32(SY_VAL_NULL.rawValue)
                    return false
                }
                if let base = bytes.baseAddress, bytes.count > 0 {
                    dst.update(from: base, count: bytes.count)
                }
                out.pointee.type = Int32(SY_VAL_STR.rawValue)
                out.pointee.s = sy_str(s: UnsafeRawPointer(dst).assumingMemoryBound(to: CChar.self), len: bytes.count)
                return true
            }
        }
    }
}

extension SYValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral, ExpressibleByNilLiteral {
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(nilLiteral: ()) { self = .null }
}

extension sy_str {
    /// A copy of the bytes as a Swift string (invalid UTF-8 is repaired with U+FFFD).
    public var string: String {
        guard let s, len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: s, count: len), as: UTF8.self)
    }

    /// The bytes, borrowed (valid as long as the C owner says).
    public var bytes: UnsafeRawBufferPointer {
        guard let s, len > 0 else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: s, count: len)
    }

    /// Calls `body` with a `sy_str` borrowing `string`'s UTF-8 bytes for the duration of the call.
    public static func with<R>(_ string: String, _ body: (sy_str) throws -> R) rethrows -> R {
        var copy = string
        return try copy.withUTF8 { utf8 in
            try body(sy_str(s: UnsafeRawPointer(utf8.baseAddress).map { $0.assumingMemoryBound(to: CChar.self) },
                            len: utf8.count))
        }
    }
}
