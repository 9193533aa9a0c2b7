/// What `JSONReader` builds values with: `JSONValue` trees (`ValueTreeBuilder`) or `JSONNode`
/// trees (`NodeTreeBuilder`). The reader is generic so each tree is built directly, with no
/// intermediate copy; both builders live in this module, so the reader is specialised for each.
protocol JSONTreeBuilder {
    associatedtype Node
    func null() -> Node
    func bool(_ value: Bool) -> Node
    func int(_ value: Int64) -> Node
    /// A number that is not an `Int64` literal; `text` is the literal as written.
    func double(_ value: Double, text: String) -> Node
    func string(_ value: String) -> Node
    func emptyArray() -> Node
    func emptyObject() -> Node
    func array(_ items: ArraySlice<Node>) -> Node
    /// Members in document order; a repeated key keeps its first position and its last value.
    func object(keys: ArraySlice<String>, values: ArraySlice<Node>) -> Node
}

struct ValueTreeBuilder: JSONTreeBuilder {
    func null() -> JSONValue { .null }
    func bool(_ value: Bool) -> JSONValue { .bool(value) }
    func int(_ value: Int64) -> JSONValue { .int(value) }
    func double(_ value: Double, text: String) -> JSONValue { .double(value) }
    func string(_ value: String) -> JSONValue { .string(value) }
    func emptyArray() -> JSONValue { .array([]) }
    func emptyObject() -> JSONValue { .object(JSONObject()) }
    func array(_ items: ArraySlice<JSONValue>) -> JSONValue { .array(Array(items)) }
    func object(keys: ArraySlice<String>, values: ArraySlice<JSONValue>) -> JSONValue {
        .object(JSONObject(keys: keys, values: values))
    }
}

/// The byte-level state machine behind `JSONParser`.
///
/// Open containers live on explicit stacks: `frames` (one per open `[`/`{`), and the pending
/// `values`/`keys` of all open containers in one flat array each, so closing a container is one
/// slice copy and appending never copies a container that is still being built.
struct JSONReader<Builder: JSONTreeBuilder> {
    typealias Node = Builder.Node
    private let buf: UnsafeBufferPointer<UInt8>
    private let maxDepth: Int
    private let builder: Builder
    private(set) var pos = 0

    private struct Frame {
        let isObject: Bool
        let valueStart: Int
        let keyStart: Int
    }

    init(buffer: UnsafeBufferPointer<UInt8>, maxDepth: Int, builder: Builder) {
        self.buf = buffer
        self.maxDepth = maxDepth
        self.builder = builder
    }

    // MARK: Errors

    private func syntax(_ message: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(kind: .syntax, message: message, offset: offset ?? pos)
    }

    private func truncated(_ message: String) -> JSONParseError {
        JSONParseError(kind: .unexpectedEnd, message: message, offset: pos)
    }

    // MARK: Driver

    mutating func skipWhitespace() {
        while pos < buf.count {
            switch buf[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    /// Reads one complete value (skipping leading whitespace); `pos` ends just after it.
    mutating func readValue() throws(JSONParseError) -> Node {
        var frames: [Frame] = []
        var values: [Node] = []
        var keys: [String] = []

        nextValue: while true {
            skipWhitespace()
            guard pos < buf.count else { throw truncated("expected a JSON value") }
            var current: Node
            switch buf[pos] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                let isObject = buf[pos] == UInt8(ascii: "{")
                guard frames.count < maxDepth else {
                    throw JSONParseError(kind: .tooDeep, message: "nesting deeper than \(maxDepth) levels", offset: pos)
                }
                pos += 1
                skipWhitespace()
                guard pos < buf.count else { throw truncated(isObject ? "unterminated object" : "unterminated array") }
                if buf[pos] == UInt8(ascii: isObject ? "}" : "]") {
                    pos += 1
                    current = isObject ? builder.emptyObject() : builder.emptyArray()
                } else {
                    frames.append(Frame(isObject: isObject, valueStart: values.count, keyStart: keys.count))
                    if isObject { keys.append(try readKey()) }
                    continue nextValue
                }
            case UInt8(ascii: "\""):
                current = builder.string(try readString())
            case UInt8(ascii: "t"):
                try expectLiteral("true")
                current = builder.bool(true)
            case UInt8(ascii: "f"):
                try expectLiteral("false")
                current = builder.bool(false)
            case UInt8(ascii: "n"):
                try expectLiteral("null")
                current = builder.null()
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                current = try readNumber()
            default:
                throw syntax("unexpected character '\(printable(buf[pos]))'")
            }

            // A value is complete: hand it to the enclosing containers, closing as many as end here.
            while let frame = frames.last {
                values.append(current)
                skipWhitespace()
                guard pos < buf.count else { throw truncated(frame.isObject ? "unterminated object" : "unterminated array") }
                let c = buf[pos]
                if c == UInt8(ascii: ",") {
                    pos += 1
                    if frame.isObject { keys.append(try readKey()) }
                    continue nextValue
                }
                if frame.isObject && c == UInt8(ascii: "}") {
                    current = builder.object(keys: keys[frame.keyStart...], values: values[frame.valueStart...])
                    keys.removeSubrange(frame.keyStart...)
                } else if !frame.isObject && c == UInt8(ascii: "]") {
                    current = builder.array(values[frame.valueStart...])
                } else {
                    throw syntax(frame.isObject ? "expected ',' or '}'" : "expected ',' or ']'")
                }
                pos += 1
                values.removeSubrange(frame.valueStart...)
                frames.removeLast()
            }
            return current
        }
    }

    // MARK: Tokens

    private mutating func readKey() throws(JSONParseError) -> String {
        skipWhitespace()
        guard pos < buf.count else { throw truncated("expected an object key") }
        guard buf[pos] == UInt8(ascii: "\"") else { throw syntax("expected a string as object key") }
        let key = try readString()
        skipWhitespace()
        guard pos < buf.count else { throw truncated("expected ':'") }
        guard buf[pos] == UInt8(ascii: ":") else { throw syntax("expected ':' after object key") }
        pos += 1
        return key
    }

    private mutating func expectLiteral(_ word: StaticString) throws(JSONParseError) {
        let start = pos
        let bytes = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for b in bytes {
            guard pos < buf.count else { throw truncated("truncated literal") }
            guard buf[pos] == b else { throw syntax("invalid literal", at: start) }
            pos += 1
        }
    }

    private static func isDigit(_ b: UInt8) -> Bool { b &- UInt8(ascii: "0") < 10 }

    private mutating func readDigits() throws(JSONParseError) {
        guard pos < buf.count else { throw truncated("truncated number") }
        guard Self.isDigit(buf[pos]) else { throw syntax("expected a digit") }
        while pos < buf.count && Self.isDigit(buf[pos]) { pos += 1 }
    }

    private mutating func readNumber() throws(JSONParseError) -> Node {
        let start = pos
        let negative = buf[pos] == UInt8(ascii: "-")
        if negative { pos += 1 }
        guard pos < buf.count else { throw truncated("truncated number") }
        if buf[pos] == UInt8(ascii: "0") {
            pos += 1
            if pos < buf.count && Self.isDigit(buf[pos]) { throw syntax("leading zero in number") }
        } else {
            try readDigits()
        }
        let integerEnd = pos
        var isInteger = true
        if pos < buf.count && buf[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            try readDigits()
        }
        if pos < buf.count && (buf[pos] == UInt8(ascii: "e") || buf[pos] == UInt8(ascii: "E")) {
            isInteger = false
            pos += 1
            if pos < buf.count && (buf[pos] == UInt8(ascii: "+") || buf[pos] == UInt8(ascii: "-")) { pos += 1 }
            try readDigits()
        }
        if isInteger, let value = integerValue(from: negative ? start + 1 : start, to: integerEnd, negative: negative) {
            return builder.int(value)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<pos]), as: UTF8.self)
        guard let d = Double(text), d.isFinite else { throw syntax("number out of range", at: start) }
        return builder.double(d, text: text)
    }

    /// Accumulates toward the sign so that Int64.min parses; nil on overflow.
    private func integerValue(from: Int, to: Int, negative: Bool) -> Int64? {
        var value: Int64 = 0
        for i in from..<to {
            let digit = Int64(buf[i] &- UInt8(ascii: "0"))
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = next
        }
        return value
    }

    private mutating func readString() throws(JSONParseError) -> String {
        pos += 1  // opening quote
        let start = pos
        // Fast path: no escapes, the bytes are the string.
        var high: UInt8 = 0  // any byte >= 0x80 sets the top bit: UTF-8 to validate
        while pos < buf.count {
            let b = buf[pos]
            high |= b
            if b == UInt8(ascii: "\"") {
                let s = try makeString(UnsafeBufferPointer(rebasing: buf[start..<pos]), at: start, ascii: high < 0x80)
                pos += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw syntax("unescaped control character in string") }
            pos += 1
        }
        guard pos < buf.count else { throw truncated("unterminated string") }

        var bytes = Array(buf[start..<pos])
        while true {
            guard pos < buf.count else { throw truncated("unterminated string") }
            let b = buf[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                return try bytes.withUnsafeBufferPointer { b in
                    Result { () throws(JSONParseError) in try makeString(b, at: start, ascii: high < 0x80) }
                }.get()
            }
            if b < 0x20 { throw syntax("unescaped control character in string") }
            guard b == UInt8(ascii: "\\") else {
                high |= b
                bytes.append(b)
                pos += 1
                continue
            }
            let escapeStart = pos
            pos += 1
            guard pos < buf.count else { throw truncated("unterminated string") }
            let e = buf[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): bytes.append(e)
            case UInt8(ascii: "b"): bytes.append(0x08)
            case UInt8(ascii: "f"): bytes.append(0x0C)
            case UInt8(ascii: "n"): bytes.append(0x0A)
            case UInt8(ascii: "r"): bytes.append(0x0D)
            case UInt8(ascii: "t"): bytes.append(0x09)
            case UInt8(ascii: "u"):
                let scalar = try readUnicodeEscape(escapeStart: escapeStart)
                UTF8.encode(scalar) { bytes.append($0) }
            default:
                throw syntax("invalid escape sequence", at: escapeStart)
            }
        }
    }

    /// After `\u`: four hex digits, combining a surrogate pair; lone surrogates are errors.
    private mutating func readUnicodeEscape(escapeStart: Int) throws(JSONParseError) -> Unicode.Scalar {
        let first = try readHex4()
        var code = UInt32(first)
        if (0xD800...0xDBFF).contains(first) {
            for (offset, expected) in [UInt8(ascii: "\\"), UInt8(ascii: "u")].enumerated() {
                guard pos + offset < buf.count else { throw truncated("truncated surrogate pair") }
                guard buf[pos + offset] == expected else { throw syntax("unpaired high surrogate", at: escapeStart) }
            }
            pos += 2
            let second = try readHex4()
            guard (0xDC00...0xDFFF).contains(second) else { throw syntax("invalid low surrogate", at: escapeStart) }
            code = 0x10000 + ((UInt32(first) - 0xD800) << 10) + (UInt32(second) - 0xDC00)
        } else if (0xDC00...0xDFFF).contains(first) {
            throw syntax("unpaired low surrogate", at: escapeStart)
        }
        // Cannot fail: surrogates were handled above and the range is at most 0x10FFFF.
        return Unicode.Scalar(code)!
    }

    private mutating func readHex4() throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard pos < buf.count else { throw truncated("truncated \\u escape") }
            let b = buf[pos]
            let digit: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
            default: throw syntax("invalid hex digit in \\u escape")
            }
            value = value << 4 | UInt16(digit)
            pos += 1
        }
        return value
    }

    private func makeString(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int, ascii: Bool) throws(JSONParseError) -> String {
        // Raw ASCII (plus what escapes encoded, always valid) is valid UTF-8: skip the validation, which is costly
        // (String(validating:) is generic and not specialised for us).
        if ascii { return String(decoding: bytes, as: UTF8.self) }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw syntax("invalid UTF-8 in string", at: offset)
        }
        return s
    }

    private func printable(_ b: UInt8) -> String {
        (0x21...0x7E).contains(b) ? String(UnicodeScalar(b)) : "\\x" + String(b, radix: 16)
    }
}
