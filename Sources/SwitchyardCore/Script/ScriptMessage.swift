import SwitchyardSIP

/// The message a route runs on. Event, timer and startup routes get OpenSIPS's dummy request,
/// whose request-URI can be changed, as the FreeSWITCH article does with $rU. SIP routes get the
/// parsed message, where it came from, and the changes the script made to what is sent on.
public struct ScriptMessage: @unchecked Sendable {
    // `sip` is confined to the worker that runs the route (see SIPMessage). `edits` may hold HeaderEdits' box, a
    // class that is not Sendable, and copies of the edits share it (the reply relay takes one; a SavedMessage keeps one for tm,
    // restored on another worker or freed on any thread): a shared box is never changed, since every change goes through
    // HeaderEdits.owned(), which copies the box unless isKnownUniquelyReferenced says this copy alone holds it, and
    // the retain and release of a shared box are atomic. The rest are values.
    /// The current (possibly rewritten) request-URI; nil when there is none. A received request's
    /// URI is parsed on first use (a script that only sets $du never pays for it).
    public var requestURI: SIPURI? {
        mutating get {
            if requestURIPending {
                requestURIPending = false
                // Pending without a message: the dummy request's URI (see reset()).
                storedRequestURI = sip.map { $0.requestURIText.flatMap { SIPURI($0) } } ?? ScriptMessage.dummyURI
            }
            return storedRequestURI
        }
        set {
            storedRequestURI = newValue
            requestURIPending = false
            requestURIChanged = true
        }
    }
    private var storedRequestURI: SIPURI?
    private var requestURIPending = false
    /// The destination URI ($du), nil when unset.
    public var destinationURI: String?
    /// True once the script or a module rewrote the request-URI (the request line is then rebuilt).
    public private(set) var requestURIChanged = false
    /// The received SIP message; nil on the dummy message.
    public var sip: SIPMessage?
    /// Where it came from: socket, connection and source address.
    var origin: SIPOrigin?
    /// The socket forward() sends from (`force_send_socket()`, `$fs`, drouting's gateway socket); nil: chosen by
    /// the destination.
    var forcedSocket: SIPSocket?
    /// Header changes applied to what forward()/relay sends.
    var edits = HeaderEdits()
    /// Set when something answered or forwarded the request (else it is discarded after the route).
    var handled = false
    /// Branches added with append_branch() / append_msg_branch() (parallel forking by tm); OpenSIPS's branch 1.. (the
    /// request-URI is branch 0).
    var branches: [MessageBranch] = []
    /// Branch flags of the request-URI branch (branch 0): setbflag(flag) without an index.
    var ruriBranchFlags: UInt64 = 0
    /// q value of the request-URI branch in thousandths, nil when unset (append_branch() moves it to a new branch).
    var ruriQ: Int?
    /// Per-message Via handling and advertised address (force_rport, add_local_rport, set_advertised_*).
    var via = ViaHandling()
    /// Blacklists selected by use_blacklist / unuse_blacklist for this message (nil: the lists used by default).
    var blacklistMask: UInt32?
    /// The addresses a destination name resolved to for this message: kept with it (and with tm's saved copies of
    /// it), so a DNS failover walks the list its first branch used, not a newer answer.
    var resolvedName: ResolvedName?

    public init(requestURI: SIPURI? = nil) {
        self.storedRequestURI = requestURI
    }

    /// OpenSIPS runs startup, timer and event routes on a static dummy request whose R-URI is
    /// `sip:user@dummy.com`; scripts rely on it (e.g. setting `$rU` before `do_routing`).
    public static let dummy = ScriptMessage(requestURI: dummyURI)
    static let dummyURI = SIPURI("sip:user@dummy.com")

    /// Turns this into `dummy` again, as `self = .dummy` would, but releasing only what a run set: a context is reset
    /// twice per SIP message, and a whole-struct assignment retains and releases every field. Every stored property
    /// gets its `dummy` value here (the R-URI is made on first read).
    mutating func reset() {
        if sip != nil { sip = nil }
        if origin != nil { origin = nil }
        if forcedSocket != nil { forcedSocket = nil }
        if destinationURI != nil { destinationURI = nil }
        // Pending means nothing was stored (see the getter): a large optional is destroyed only when it may hold a URI.
        if !requestURIPending { storedRequestURI = nil }
        requestURIPending = true
        requestURIChanged = false
        if !edits.isEmpty { edits = HeaderEdits() }
        if !branches.isEmpty { branches = [] }
        ruriBranchFlags = 0
        ruriQ = nil
        if !via.isDefault { via = ViaHandling() }
        if blacklistMask != nil { blacklistMask = nil }
        if resolvedName != nil { resolvedName = nil }
        handled = false
    }

    /// revert_uri(): back to the request-URI as received (the request line is sent unchanged).
    mutating func revertRequestURI() {
        storedRequestURI = nil
        requestURIPending = true
        requestURIChanged = false
    }

    /// A received SIP message on a reset message: what `self = ScriptMessage(sip:origin:)` gives.
    mutating func load(sip: SIPMessage, origin: SIPOrigin) {
        self.sip = sip
        self.origin = origin
        requestURIPending = sip.isRequest
    }

    /// A received SIP message as the route's message (no origin: a message a module kept, read by `$(<ctx>pv)`).
    init(sip: SIPMessage, origin: SIPOrigin?) {
        self.sip = sip
        self.origin = origin
        self.requestURIPending = sip.isRequest
    }
}
