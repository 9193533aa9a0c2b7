import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardSIP

/// A SIP transport a module exports (`proto_udp` → "udp").
struct SIPProto: @unchecked Sendable {
    // The export is static storage of a plugin that is never unloaded.
    let name: String
    let module: String
    let export: sy_proto_export
    var isStream: Bool { export.flags & UInt32(SY_PROTO_STREAM.rawValue) != 0 }
    var defaultPort: Int { export.default_port == 0 ? 5060 : Int(export.default_port) }
}

/// One listening socket: its transport, bound address and the address it puts in Via and Record-Route.
final class SIPSocket: @unchecked Sendable {
    // Set up at startup; read-only while serving.
    let proto: SIPProto
    let spec: SocketSpec
    let address: SocketAddress
    let listener: UnsafeMutableRawPointer
    /// Host and port advertised in Via / Record-Route (the `as` address, or the bound one).
    let viaHost: String
    let viaPort: Int
    let workers: Int
    /// "UDP", "TCP" as in a Via's sent-protocol.
    let viaTransport: String
    /// `udp:127.0.0.1:5060` as OpenSIPS prints sockets.
    let name: String
    /// "SIP/2.0/UDP host:port;branch=" — our Via up to the branch value.
    let viaPrefix: String
    /// Host texts (lower-cased bytes) a Via or URI may use to name this socket.
    let localNames: [[UInt8]]
    /// forward() was asked to send from this socket to a transport or family it cannot reach (warned once).
    let mismatchWarned = Atomic<Bool>(false)

    init(proto: SIPProto, spec: SocketSpec, address: SocketAddress, listener: UnsafeMutableRawPointer, workers: Int) {
        self.proto = proto
        self.spec = spec
        self.address = address
        self.listener = listener
        self.workers = workers
        var host = spec.advertisedHost ?? address.uriHost
        if spec.advertisedHost == nil && address.isAny { host = SIPSocket.primaryIPv4() ?? "127.0.0.1" }
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }
        viaHost = host
        viaPort = spec.advertisedPort ?? address.port
        viaTransport = proto.name.uppercased()
        name = "\(proto.name):\(address.text)"
        viaPrefix = "SIP/2.0/\(viaTransport) \(viaHost):\(viaPort);branch="
        var names = [viaHost, address.uriHost, address.ip]
        if address.isAny { names += ["127.0.0.1", SIPSocket.primaryIPv4()].compactMap { $0 } }
        localNames = names.map { Array($0.lowercased().utf8) }
    }

    /// Sends one message; false if the transport refused it.
    func send(conn: UInt64, to dst: SocketAddress, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { send(conn: conn, to: dst, $0) }
    }

    /// `send` of bytes lent for the call (a message built in the thread's output buffer).
    func send(conn: UInt64, to dst: SocketAddress, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let send = proto.export.send else { return false }
        return dst.withSockaddr { sa, len in
            b.withMemoryRebound(to: CChar.self) { send(listener, conn, sa, len, $0.baseAddress, $0.count, proto.export.user) == 0 }
        }
    }

    /// True if a Via's sent-by names this socket (no string is made).
    func matches(_ via: SIPVia) -> Bool {
        let p = via.port ?? 5060
        guard p == viaPort || p == address.port else { return false }
        return localNames.contains { via.hostIs($0) }
    }

    /// The first non-loopback IPv4 address of the machine (for sockets bound to `*`).
    static func primaryIPv4() -> String? {
        var ifap: UnsafeMutablePointer<ifaddrs>? = nil
        guard getifaddrs(&ifap) == 0, let first = ifap else { return nil }
        defer { freeifaddrs(ifap) }
        var p: UnsafeMutablePointer<ifaddrs>? = first
        while let cur = p {
            if let sa = cur.pointee.ifa_addr, Int32(sa.pointee.sa_family) == AF_INET {
                let a = SocketAddress(sa, socklen_t(MemoryLayout<sockaddr_in>.size))
                if !a.ip.hasPrefix("127.") { return a.ip }
            }
            p = cur.pointee.ifa_next
        }
        return nil
    }
}

/// Where a received message came from.
struct SIPOrigin {
    let socket: SIPSocket
    let conn: UInt64
    let source: SocketAddress
}
