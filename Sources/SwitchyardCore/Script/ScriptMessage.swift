/// The message a route runs on. Event, timer and startup routes get OpenSIPS's dummy request,
/// whose request-URI can be changed, as the FreeSWITCH article does with $rU.
public struct ScriptMessage: Sendable {
    /// The current (possibly rewritten) request-URI; nil when there is none.
    public var requestURI: SIPURI?
    /// The destination URI ($du), nil when unset.
    public var destinationURI: String?

    public init(requestURI: SIPURI? = nil) {
        self.requestURI = requestURI
    }

    /// OpenSIPS runs startup, timer and event routes on a static dummy request whose R-URI is
    /// `sip:user@dummy.com`; scripts rely on it (e.g. setting `$rU` before `do_routing`).
    public static let dummy = ScriptMessage(requestURI: SIPURI("sip:user@dummy.com"))
}
