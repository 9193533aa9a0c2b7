/// Why a SIP message could not be parsed. A server answers a request that fails this way with 400
/// (when it can still find where to send the answer) and drops anything else with a log line.
public struct SIPParseError: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
