/// One header line of a message, as byte ranges into the message buffer.
public struct HeaderField: Sendable {
    public let kind: HeaderKind
    /// The name as written.
    public let name: Range<Int>
    /// The body without surrounding whitespace; may contain folding (CRLF + SP/HT) inside.
    public let value: Range<Int>
    /// The whole line(s), from the name to the end of the line ending (continuation lines included).
    public let line: Range<Int>
}
