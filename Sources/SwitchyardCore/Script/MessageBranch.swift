/// One branch of the message's destination set besides the request-URI (OpenSIPS's "message branch"): what tm turns
/// into a transaction branch at t_relay.
struct MessageBranch {
    var uri: String
    /// Destination URI ($du of the branch), nil when unset.
    var dst: String?
    /// q value in thousandths (0...1000), nil when not given.
    var q: Int?
    /// Branch flags (setbflag(flag, idx)).
    var flags: UInt64 = 0
    /// The socket the branch is sent from (force_send_socket at the time of append_branch()), nil: chosen by address.
    var socket: SIPSocket?
}

/// What the script asked of the Via handling of one message: force_rport(), add_local_rport(),
/// set_advertised_address(), set_advertised_port().
struct ViaHandling {
    /// force_rport(): the received top Via gets `rport=<source port>` (and `received=`) as if the sender had asked.
    var forceRport = false
    /// add_local_rport(): our own Via gets an empty `;rport`.
    var addLocalRport = false
    /// set_advertised_address() / set_advertised_port(): what our Via and Record-Route advertise for this message.
    var advertisedAddress: String?
    var advertisedPort: String?

    var isDefault: Bool { !forceRport && !addLocalRport && advertisedAddress == nil && advertisedPort == nil }
}
