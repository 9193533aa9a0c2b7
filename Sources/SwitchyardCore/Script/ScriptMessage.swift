/// The message a route runs on. Event, timer and startup routes get an empty one (OpenSIPS's
/// dummy message) whose request-URI can still be set, as the FreeSWITCH article does with $rU.
public struct ScriptMessage: Sendable {
    /// The current (possibly rewritten) request-URI; nil when there is none.
    public var requestURI: SIPURI?
    /// The destination URI ($du), nil when unset.
    public var destinationURI: String?

    public init(requestURI: SIPURI? = nil) {
        self.requestURI = requestURI
    }
}
