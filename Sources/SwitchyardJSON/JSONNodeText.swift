/// JSON text of a `JSONNode` in json-c's three output styles, byte for byte what OpenSIPS prints for
/// `$json`, `$json_compact` and `$json_pretty` (json-c's `json_object_to_json_string_ext` with
/// `JSON_C_TO_STRING_SPACED`, `_PLAIN` and `_PRETTY`).
///
/// | style | `{"a":1,"b":[1,2]}` | empty object / array |
/// |---|---|---|
/// | `.plain`  | `{"a":1,"b":[1,2]}` | `{}` / `[]` |
/// | `.spaced` | `{ "a": 1, "b": [ 1, 2 ] }` | `{ }` / `[ ]` |
/// | `.pretty` | `{` NL `  "a":1,` NL `  "b":[` NL `    1,` NL `    2` NL `  ]` NL `}` | `{` NL `}` |
///
/// Strings are escaped as json-c does: `\"` `\\` `\b` `\f` `\n` `\r` `\t`, other control characters
/// as `\u00xx`, **`/` as `\/`** (unless `escapeSlash` is false), everything else (UTF-8) raw.
/// Numbers: integers in decimal; other numbers as the text they were parsed from.
extension JSONNode {
    public enum TextStyle: Sendable {
        /// No whitespace at all (`JSON_C_TO_STRING_PLAIN`).
        case plain
        /// One line, a space after `{`/`[`, `,` and `:` and before `}`/`]` (`JSON_C_TO_STRING_SPACED`).
        case spaced
        /// One member per line, two-space indent, `"key":value` with no space (`JSON_C_TO_STRING_PRETTY`).
        case pretty
    }

    /// The JSON text in `style`. The tree must have no cycle.
    public func text(_ style: TextStyle = .plain, escapeSlash: Bool = true) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        write(into: &out, style: style, escapeSlash: escapeSlash)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the JSON text in `style` to `out`. Recursion depth is the tree's depth (bounded by
    /// the parser's `maxDepth` for parsed trees; callers that link trees bound it too).
    public func write(into out: inout [UInt8], style: TextStyle = .plain, escapeSlash: Bool = true) {
        var writer = NodeTextWriter(style: style, escapeSlash: escapeSlash)
        swap(&writer.out, &out)
        writer.write(self, level: 0)
        swap(&writer.out, &out)
    }
}

private struct NodeTextWriter {
    var out: [UInt8] = []
    let spaced: Bool
    let pretty: Bool
    let escapeSlash: Bool

    init(style: JSONNode.TextStyle, escapeSlash: Bool) {
        spaced = style == .spaced
        pretty = style == .pretty
        self.escapeSlash = escapeSlash
    }

    mutating func append(_ s: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    mutating func indent(_ level: Int) {
        guard pretty else { return }
        for _ in 0..<(level * 2) { out.append(0x20) }
    }

    // json-c's json_object_{array,object}_to_json_string, minus the tab and no-zero flags.
    mutating func write(_ node: JSONNode, level: Int) {
        switch node {
        case .null: append("null")
        case .bool(let b): b ? append("true") : append("false")
        case .int(let i): out.append(contentsOf: String(i).utf8)
        case .double(_, let text): out.append(contentsOf: text.utf8)
        case .string(let s): writeString(s)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            if pretty { out.append(0x0A) }
            for (i, item) in a.items.enumerated() {
                if i > 0 {
                    out.append(UInt8(ascii: ","))
                    if pretty { out.append(0x0A) }
                }
                if spaced { out.append(0x20) }
                indent(level + 1)
                write(item, level: level + 1)
            }
            close(UInt8(ascii: "]"), hadChildren: !a.items.isEmpty, level: level)
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            if pretty { out.append(0x0A) }
            for (i, member) in o.members.enumerated() {
                if i > 0 {
                    out.append(UInt8(ascii: ","))
                    if pretty { out.append(0x0A) }
                }
                if spaced { out.append(0x20) }
                indent(level + 1)
                writeString(member.key)
                out.append(UInt8(ascii: ":"))
                if spaced { out.append(0x20) }
                write(member.value, level: level + 1)
            }
            close(UInt8(ascii: "}"), hadChildren: !o.isEmpty, level: level)
        }
    }

    mutating func close(_ bracket: UInt8, hadChildren: Bool, level: Int) {
        if pretty {
            if hadChildren { out.append(0x0A) }
            indent(level)
        }
        if spaced { out.append(0x20) }
        out.append(bracket)
    }

    mutating func writeString(_ s: String) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var start = 0
            for (i, b) in bytes.enumerated() {
                let escape: StaticString?
                switch b {
                case UInt8(ascii: "\""): escape = "\\\""
                case UInt8(ascii: "\\"): escape = "\\\\"
                case UInt8(ascii: "/"): escape = escapeSlash ? "\\/" : nil
                case 0x08: escape = "\\b"
                case 0x0C: escape = "\\f"
                case 0x0A: escape = "\\n"
                case 0x0D: escape = "\\r"
                case 0x09: escape = "\\t"
                case 0..<0x20: escape = ""
                default: continue
                }
                guard let escape else { continue }
                if start < i { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i])) }
                start = i + 1
                if escape.utf8CodeUnitCount > 0 {
                    append(escape)
                } else {
                    append("\\u00")
                    out.append(Self.hex[Int(b >> 4)])
                    out.append(Self.hex[Int(b & 0xF)])
                }
            }
            if start < bytes.count { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...])) }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)
}
