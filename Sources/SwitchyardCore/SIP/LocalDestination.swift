/// Where a request made here (t_uac, sip_request: no received message) goes: its destination resolved as a relayed
/// request's (NAPTR, SRV, A: SIPResolver), the first address a socket can send to.
extension SIPCore {
    /// `transport` nil when the URI names none (then `forced`'s transport, else NAPTR/SRV choose); `port` nil when it
    /// has none. Errors are the ABI's: -3 the forced socket cannot reach it, -4 unresolvable, -6 no socket.
    func localDestination(host: String, port: Int?, transport: String?, secure: Bool, forced: SIPSocket?)
        -> Result<(SIPSocket, SocketAddress), BuildError> {
        if let f = forced {
            // A forced socket of another transport than the URI's (or than TLS for sips) cannot be used.
            if let transport, f.proto.name != transport { return .failure(.init(code: -3)) }
            if transport == nil, secure, f.proto.name != "tls" { return .failure(.init(code: -3)) }
        }
        let list = names.resolveSIP(host, port: port, proto: transport ?? forced?.proto.name, secure: secure)
        guard !list.isEmpty else { return .failure(.init(code: -4)) }
        for r in list {
            if let f = forced {
                if f.proto.name == r.proto, f.address.family == r.address.family || f.address.isAny { return .success((f, r.address)) }
            } else if let s = socket(proto: r.proto, family: r.address.family, prefer: nil) {
                return .success((s, r.address))
            }
        }
        return .failure(.init(code: forced == nil ? -6 : -3))
    }
}
