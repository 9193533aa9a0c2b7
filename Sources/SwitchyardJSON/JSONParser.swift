/// A strict RFC 8259 JSON parser working directly on UTF-8 bytes.
///
/// It is iterative (an explicit container stack, never recursion), so hostile input such as
/// 10,000 nested `[` ends in a `.tooDeep` error instead of a stack overflow: MI transports accept
/// text from any local user. Integer literals that fit in `Int64` become `.int`; everything else
/// numeric becomes `.double`. Duplicate object keys: the last value wins (see `JSONObject`).
public struct JSONParser: Sendable {
    /// Maximum nesting of arrays/objects; deeper input is rejected with `.tooDeep`.
    public var maxDepth: Int

    public init(maxDepth: Int = 512) {
        self.maxDepth = maxDepth
    }

    // MARK: Whole-document parsing (only whitespace may follow the value)

    public func parse(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var reader = JSONReader(buffer: buffer, maxDepth: maxDepth, builder: ValueTreeBuilder())
        let value = try reader.readValue()
        reader.skipWhitespace()
        if reader.pos != buffer.count {
            throw JSONParseError(kind: .syntax, message: "unexpected data after the JSON value", offset: reader.pos)
        }
        return value
    }

    public func parse(_ buffer: UnsafeRawBufferPointer) throws(JSONParseError) -> JSONValue {
        try parse(buffer.bindMemory(to: UInt8.self))
    }

    public func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var text = text
        return try text.withUTF8 { buf in catching { () throws(JSONParseError) in try parse(buf) } }.get()
    }

    public func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        try withContiguous(bytes) { buf throws(JSONParseError) in try parse(buf) }
    }

    // MARK: Validation only

    /// Whether `buffer` is one complete JSON text that `parse` accepts (same grammar, escapes, UTF-8, number range
    /// and depth rules), checked without building anything or allocating: for a reader that passes the text on as
    /// it is and must not pass on what cannot be parsed.
    public func isValid(_ buffer: UnsafeBufferPointer<UInt8>) -> Bool {
        // The scanner keeps offsets in 31 bits: a larger text is checked by the parser itself.
        guard buffer.count < Int(JSONScanner.escapedKey) else { return (try? parse(buffer)) != nil }
        var scanner = JSONScanner(buffer: buffer, maxDepth: maxDepth, recordMembers: false)
        return scanner.scanDocument()
    }

    // MARK: Prefix parsing (stream transports: several documents back to back)

    /// Parses one value at the start of `buffer` (leading whitespace allowed) and returns it with
    /// the number of bytes consumed up to the value's last byte. Trailing bytes are not examined,
    /// except that a number running into the end of the buffer is taken as complete.
    public func parsePrefix(_ buffer: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> (value: JSONValue, consumed: Int) {
        var reader = JSONReader(buffer: buffer, maxDepth: maxDepth, builder: ValueTreeBuilder())
        let value = try reader.readValue()
        return (value, reader.pos)
    }

    public func parsePrefix(_ buffer: UnsafeRawBufferPointer) throws(JSONParseError) -> (value: JSONValue, consumed: Int) {
        try parsePrefix(buffer.bindMemory(to: UInt8.self))
    }

    public func parsePrefix(_ text: String) throws(JSONParseError) -> (value: JSONValue, consumed: Int) {
        var text = text
        return try text.withUTF8 { buf in catching { () throws(JSONParseError) in try parsePrefix(buf) } }.get()
    }

    public func parsePrefix(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> (value: JSONValue, consumed: Int) {
        try withContiguous(bytes) { buf throws(JSONParseError) in try parsePrefix(buf) }
    }
}

extension JSONValue {
    /// Parses a complete JSON text with the default depth limit.
    public init(parsing text: String) throws(JSONParseError) {
        self = try JSONParser().parse(text)
    }

    public init(parsing bytes: some Collection<UInt8>) throws(JSONParseError) {
        self = try JSONParser().parse(bytes)
    }
}

// The standard library's `with...` helpers are `rethrows`, which erases typed errors; carry the
// result out as a `Result` instead.
@inline(__always)
private func catching<T>(_ body: () throws(JSONParseError) -> T) -> Result<T, JSONParseError> {
    Result(catching: body)
}

private func withContiguous<T>(
    _ bytes: some Collection<UInt8>,
    _ body: (UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> T
) throws(JSONParseError) -> T {
    if let result = bytes.withContiguousStorageIfAvailable({ buf in catching { () throws(JSONParseError) in try body(buf) } }) {
        return try result.get()
    }
    return try Array(bytes).withUnsafeBufferPointer { buf in catching { () throws(JSONParseError) in try body(buf) } }.get()
}
