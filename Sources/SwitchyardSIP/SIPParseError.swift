/// Why a SIP message could not be parsed. A server answers a request that fails this way with 400
/// (when it can still find where to send the answer) and drops anything else with a log line.
public struct SIPParseError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    /// Where the header line that failed starts in the message, when one header is to blame: the salvaged request
    /// an error_route sees ends before it, as OpenSIPS's header list does.
    public var offset: Int?
    public init(_ reason: String, at offset: Int? = nil) {
        self.reason = reason
        self.offset = offset
    }
    public var description: String { reason }
}
