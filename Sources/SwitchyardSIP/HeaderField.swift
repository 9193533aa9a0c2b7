/// One header line of a message, as byte ranges into the message buffer.
///
/// The ranges are stored as 32-bit offsets (a message is at most a few MiB: a datagram is under 64 KiB, a stream
/// message's body at most SIPParser.maxBody): a field takes 28 bytes instead of 56, and a transaction keeps its request's
/// fields for as long as it lives.
public struct HeaderField: Sendable {
    public let kind: HeaderKind
    private let nameLo: Int32, nameHi: Int32
    private let valueLo: Int32, valueHi: Int32
    private let lineLo: Int32, lineHi: Int32

    init(kind: HeaderKind, name: Range<Int>, value: Range<Int>, line: Range<Int>) {
        self.kind = kind
        nameLo = Int32(name.lowerBound); nameHi = Int32(name.upperBound)
        valueLo = Int32(value.lowerBound); valueHi = Int32(value.upperBound)
        lineLo = Int32(line.lowerBound); lineHi = Int32(line.upperBound)
    }

    /// The same from the parser, whose offsets are known to fit (it refuses a message of 2 GiB or more): no overflow
    /// check per bound (six per header line).
    init(parsed kind: HeaderKind, name: Range<Int>, value: Range<Int>, line: Range<Int>) {
        self.kind = kind
        nameLo = Int32(truncatingIfNeeded: name.lowerBound); nameHi = Int32(truncatingIfNeeded: name.upperBound)
        valueLo = Int32(truncatingIfNeeded: value.lowerBound); valueHi = Int32(truncatingIfNeeded: value.upperBound)
        lineLo = Int32(truncatingIfNeeded: line.lowerBound); lineHi = Int32(truncatingIfNeeded: line.upperBound)
    }

    /// The name as written.
    public var name: Range<Int> { Int(nameLo)..<Int(nameHi) }
    /// The body without surrounding whitespace; may contain folding (CRLF + SP/HT) inside.
    public var value: Range<Int> { Int(valueLo)..<Int(valueHi) }
    /// The whole line(s), from the name to the end of the line ending (continuation lines included).
    public var line: Range<Int> { Int(lineLo)..<Int(lineHi) }
}
