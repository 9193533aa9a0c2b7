/// Why a JSON text was rejected, and where (byte offset from the start of the buffer).
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The text is not JSON.
        case syntax
        /// The text is a valid beginning of a JSON value but stops early. A stream transport
        /// (FIFO, TCP) can read more bytes and retry instead of failing.
        case unexpectedEnd
        /// Containers are nested deeper than the parser's `maxDepth`.
        case tooDeep
    }

    public let kind: Kind
    public let message: String
    public let offset: Int

    public init(kind: Kind, message: String, offset: Int) {
        self.kind = kind
        self.message = message
        self.offset = offset
    }

    public var description: String { "\(message) at byte \(offset)" }
}
