import SwitchyardSIP
#if canImport(Glibc)
import Glibc
#endif

/// is_myself(): whether a host (and port; 0 any) names one of the listening sockets.
extension SIPCore {
    func isListening(host: String, port: Int) -> Bool {
        let h = Array(host.utf8)
        let bracketed = Array("[\(host)]".utf8)
        return sockets.contains { s in
            (port == 0 || port == s.address.port || port == s.viaPort)
                && (s.localNames.contains(h) || s.localNames.contains(bracketed) || s.address.hasIP(host))
        }
    }
}

/// Our Via up to the branch for one message: the socket's, unless the script changed the advertised address or port
/// (set_advertised_address / set_advertised_port).
extension SIPCore {
    func viaPrefix(_ socket: SIPSocket, _ via: ViaHandling) -> String {
        if via.advertisedAddress == nil && via.advertisedPort == nil { return socket.viaPrefix }
        var host = via.advertisedAddress ?? socket.viaHost
        // Brackets only for an IPv6 address ("1.2.3.4:5080" or a name stays as given, as OpenSIPS writes it).
        if host.contains(":") && !host.hasPrefix("["), let a = SocketAddress(ip: host, port: 0), a.family == AF_INET6 {
            host = "[\(host)]"
        }
        let port = via.advertisedPort ?? String(socket.viaPort)
        return "SIP/2.0/\(socket.viaTransport) \(host):\(port);branch="
    }
}

extension SIPCore {
    /// A Via naming one of the `alias=` hosts (as OpenSIPS's check_self, a reply whose top Via an alias names is ours:
    /// set_advertised_address with an alias). No alias: false at once (the per-reply path).
    func isAlias(_ via: SIPVia) -> Bool {
        guard !engine.aliases.isEmpty else { return false }
        let host = MiscFunctions.normalizedHost(via.host), port = via.port ?? 5060
        return engine.aliases.contains { MiscFunctions.normalizedHost($0.host) == host && ($0.port == nil || $0.port == port) }
    }
}
