/// Writes `JSONValue` trees as JSON text.
///
/// Compact mode never emits a newline (control characters inside strings are escaped), because the
/// FIFO client reads exactly one line of reply. Non-ASCII text is kept as raw UTF-8. Doubles use
/// Swift's shortest round-trip form (`1.5`, `12.0`, `1e-05`), so a double stays a double when read
/// back; NaN and infinities, which JSON cannot express, are written as `null` (as cJSON does).
public enum JSONSerializer {
    public enum Style: Sendable {
        /// One line, no spaces.
        case compact
        /// Members on their own lines, indented with one tab per level (like cJSON's pretty output).
        case pretty
    }

    public static func serialize(_ value: JSONValue, style: Style = .compact) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(value, style: style, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the JSON text of `value` to `out` (UTF-8).
    public static func write(_ value: JSONValue, style: Style = .compact, into out: inout [UInt8]) {
        var writer = Writer(pretty: style == .pretty)
        swap(&writer.out, &out)
        writer.write(value, depth: 0)
        swap(&writer.out, &out)
    }

    /// The JSON string literal for `text`, quotes included.
    public static func quoted(_ text: String) -> String {
        var writer = Writer(pretty: false)
        writer.writeString(text)
        return String(decoding: writer.out, as: UTF8.self)
    }
}

// Recursion depth equals the tree's depth; trees produced by `JSONParser` are bounded by its
// `maxDepth`, and handler-built trees are shallow.
private struct Writer {
    var out: [UInt8] = []
    let pretty: Bool

    init(pretty: Bool) { self.pretty = pretty }

    mutating func append(_ s: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func newline(depth: Int) {
        guard pretty else { return }
        out.append(0x0A)
        for _ in 0..<depth { out.append(0x09) }
    }

    mutating func write(_ value: JSONValue, depth: Int) {
        switch value {
        case .null: append("null")
        case .bool(let b): b ? append("true") : append("false")
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(let d):
            if d.isFinite { out.append(contentsOf: d.description.utf8) } else { append("null") }
        case .string(let s): writeString(s)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth: depth + 1)
                write(element, depth: depth + 1)
            }
            if !elements.isEmpty { newline(depth: depth) }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (i, member) in object.members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(depth: depth + 1)
                writeString(member.key)
                out.append(UInt8(ascii: ":"))
                if pretty { out.append(0x20) }
                write(member.value, depth: depth + 1)
            }
            if !object.isEmpty { newline(depth: depth) }
            out.append(UInt8(ascii: "}"))
        }
    }

    mutating func writeString(_ s: String) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 0x0A: append("\\n")
            case 0x0D: append("\\r")
            case 0x09: append("\\t")
            case 0x08: append("\\b")
            case 0x0C: append("\\f")
            case 0..<0x20:
                append("\\u00")
                out.append(Self.hex[Int(b >> 4)])
                out.append(Self.hex[Int(b & 0xF)])
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
}
