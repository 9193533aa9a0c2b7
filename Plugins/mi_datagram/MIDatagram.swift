// The OpenSIPS `mi_datagram` module as a Switchyard plugin: the Management Interface over a UNIX datagram socket or
// UDP. One JSON-RPC request per datagram; the reply goes back to the sender's address in one datagram.
//
//   modparam("mi_datagram", "socket_name", "/tmp/opensips.sock" | "udp:127.0.0.1:8080")   (required)
//   modparam("mi_datagram", "children_count", 1)      reader threads
//   modparam("mi_datagram", "unix_socket_mode", 0660) modparam("mi_datagram", "unix_socket_user"/"unix_socket_group", ...)
//   modparam("mi_datagram", "socket_timeout", 2000)   ms allowed for sending a reply
//
// See README.md next to this file. No global state: everything hangs off the MIDatagramModule object reached from the
// C exports through the kit's boxes.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SwitchyardABI
import SwitchyardJSON
import SwitchyardPluginKit
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: MIDatagramModule.name) else { return nil } // another ABI major: refuse
    return MIDatagramModule(host: host).build().pointer // allocated once, never freed
}

struct DatagramConfig: Sendable {
    var socketName: String? = nil
    var children = 1
    var mode: mode_t = 0o660
    var user: Owner? = nil
    var group: Owner? = nil
    var timeoutMs = 2000

    enum Owner: Sendable { case id(UInt32), name(String) }
}

/// Where the module listens.
enum DatagramAddress: Equatable, Sendable {
    case unix(String)
    case udp(host: String, port: UInt16)

    /// `udp:IP:port` (IPv4, or IPv6 in brackets or bare), `unix:/path`, or a plain path.
    static func parse(_ text: String) throws -> DatagramAddress {
        if text.hasPrefix("udp:") {
            let rest = text.dropFirst(4)
            guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]), port > 0 else {
                throw PluginError("'\(text)': expected udp:IP:port")
            }
            var host = String(rest[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw PluginError("'\(text)': expected udp:IP:port") }
            return .udp(host: host, port: port)
        }
        let path = text.hasPrefix("unix:") ? String(text.dropFirst(5)) : text
        guard !path.isEmpty else { throw PluginError("empty socket path") }
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw PluginError("socket path '\(path)' is too long")
        }
        return .unix(path)
    }
}

final class MIDatagramModule: Sendable {
    static let name = "mi_datagram"
    static let version = "1.0.0"
    /// Largest datagram received or sent (a UDP/IPv4 payload's maximum).
    static let maxDatagram = 65507
    /// How often reader threads look at the stop flag.
    static let pollMs: Int32 = 200

    let host: PluginHost
    let config = Mutex(DatagramConfig())
    let stopping = Atomic<Bool>(false)
    let runtime = Mutex<Runtime?>(nil)
    /// The socket while it is open: replies given later are sent under this lock.
    let openFD = Mutex<Int32?>(nil)

    struct Runtime: @unchecked Sendable { // joined once, in destroy
        var threads: [PluginThread]
        var fd: Int32
        var unixPath: String?
    }

    init(host: PluginHost) { self.host = host }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "Management Interface over UNIX datagram or UDP sockets")
        m.param("socket_name", .str) { [self] v in
            guard let s = v.stringValue, !s.isEmpty else { throw PluginError("must be a socket path or udp:IP:port") }
            _ = try DatagramAddress.parse(s)
            config.withLock { $0.socketName = s }
        }
        m.param("children_count", .int) { [self] v in
            guard let i = v.intValue, (1...64).contains(i) else { throw PluginError("must be 1..64") }
            config.withLock { $0.children = Int(i) }
        }
        m.param("unix_socket_mode", .int) { [self] v in
            guard let i = v.intValue, (0...0o7777).contains(i) else { throw PluginError("must be a file mode such as 0660") }
            config.withLock { $0.mode = mode_t(i) }
        }
        m.param("socket_timeout", .int) { [self] v in
            guard let i = v.intValue, (0...3_600_000).contains(i) else { throw PluginError("must be milliseconds, 0..3600000") }
            config.withLock { $0.timeoutMs = Int(i) }
        }
        for (param, isUser) in [("unix_socket_user", true), ("unix_socket_group", false)] {
            m.param(param, .int) { [self] v in
                guard let i = v.intValue, i >= 0, i <= Int64(UInt32.max) else { throw PluginError("must be a non-negative id") }
                config.withLock { if isUser { $0.user = .id(UInt32(i)) } else { $0.group = .id(UInt32(i)) } }
            }
            m.param(param, .str) { [self] v in
                guard let s = v.stringValue, !s.isEmpty else { throw PluginError("must be a non-empty name or an id") }
                let owner: DatagramConfig.Owner = UInt32(s).map { .id($0) } ?? .name(s)
                config.withLock { if isUser { $0.user = owner } else { $0.group = owner } }
            }
        }
        m.onInit { [self] in try start() }
        m.onDestroy { [self] in stop() }
        return m.build()
    }

    // MARK: Lifecycle

    func start() throws {
        guard host.providesMIDispatch else { throw PluginError("the core is too old for MI transports (needs ABI 1.3)") }
        let cfg = config.withLock { $0 }
        guard let name = cfg.socketName else { throw PluginError("modparam socket_name is required") }
        let address = try DatagramAddress.parse(name)
        let fd = try openSocket(address, cfg)
        var unixPath: String? = nil
        if case .unix(let p) = address { unixPath = p }

        var threads: [PluginThread] = []
        for i in 0..<cfg.children {
            guard let t = PluginThread.start(name: "mi_datagram\(i)", { [self] in serve(fd: fd) }) else {
                stopping.store(true, ordering: .releasing)
                threads.forEach { $0.join() }
                close(fd)
                throw PluginError("cannot start a reader thread")
            }
            threads.append(t)
        }
        openFD.withLock { $0 = fd }
        runtime.withLock { $0 = Runtime(threads: threads, fd: fd, unixPath: unixPath) }
        host.log(.info, "listening on \(name) with \(cfg.children) thread(s)")
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        guard let rt = runtime.withLock({ r -> Runtime? in defer { r = nil }; return r }) else { return }
        rt.threads.forEach { $0.join() }
        openFD.withLock { $0 = nil }
        close(rt.fd)
        if let p = rt.unixPath { unlink(p) }
    }

    private func openSocket(_ address: DatagramAddress, _ cfg: DatagramConfig) throws -> Int32 {
        let fd: Int32
        switch address {
        case .unix(let path):
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw PluginError("socket(): \(errorText())") }
            var st = stat()
            if lstat(path, &st) == 0 {
                guard (st.st_mode & S_IFMT) == S_IFSOCK, unlink(path) == 0 else {
                    close(fd); throw PluginError("cannot replace '\(path)': not a socket or not removable")
                }
            }
            var sa = sockaddr_un()
            sa.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &sa.sun_path) { dst in
                let bytes = Array(path.utf8)
                dst.copyBytes(from: bytes)
                dst[bytes.count] = 0
            }
            let rc = withUnsafePointer(to: &sa) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            guard rc == 0 else { let e = errorText(); close(fd); throw PluginError("bind \(path): \(e)") }
            let uid = try resolve(cfg.user, user: true), gid = try resolve(cfg.group, user: false)
            guard chmod(path, cfg.mode) == 0 else { let e = errorText(); close(fd); throw PluginError("chmod \(path): \(e)") }
            if uid != nil || gid != nil, chown(path, uid ?? UInt32.max, gid ?? UInt32.max) != 0 {
                let e = errorText(); close(fd); throw PluginError("chown \(path): \(e)")
            }
        case .udp(let host, let port):
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
            hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
            var res: UnsafeMutablePointer<addrinfo>? = nil
            guard getaddrinfo(host, String(port), &hints, &res) == 0, let ai = res else {
                throw PluginError("'\(host)' is not an IP address")
            }
            defer { freeaddrinfo(res) }
            fd = socket(ai.pointee.ai_family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw PluginError("socket(): \(errorText())") }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
                let e = errorText(); close(fd); throw PluginError("bind udp:\(host):\(port): \(e)")
            }
        }
        // Reads wake up every pollMs to notice destroy; a reply send may block at most socket_timeout.
        var rcv = timeval(tv_sec: 0, tv_usec: Int(Self.pollMs) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, socklen_t(MemoryLayout<timeval>.size))
        var snd = timeval(tv_sec: cfg.timeoutMs / 1000, tv_usec: (cfg.timeoutMs % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, socklen_t(MemoryLayout<timeval>.size))
        var bufSize: Int32 = 4 * 65536
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufSize, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufSize, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    private func resolve(_ owner: DatagramConfig.Owner?, user: Bool) throws -> UInt32? {
        switch owner {
        case nil: return nil
        case .id(let i): return i
        case .name(let n):
            if user {
                guard let pw = getpwnam(n) else { throw PluginError("unknown unix_socket_user '\(n)'") }
                return pw.pointee.pw_uid
            }
            guard let gr = getgrnam(n) else { throw PluginError("unknown unix_socket_group '\(n)'") }
            return gr.pointee.gr_gid
        }
    }

    // MARK: Reader threads

    func serve(fd: Int32) {
        var buffer = [UInt8](repeating: 0, count: Self.maxDatagram + 1)
        while !stopping.load(ordering: .acquiring) {
            var from = sockaddr_storage()
            var fromLen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buffer.withUnsafeMutableBytes { buf in
                withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, buf.baseAddress, buf.count, Int32(MSG_TRUNC), $0, &fromLen)
                    }
                }
            }
            if n < 0 { continue } // EAGAIN (poll interval), EINTR
            if fromLen == 0 || (from.ss_family == sa_family_t(AF_UNIX) && Int(fromLen) <= MemoryLayout<sa_family_t>.size) {
                host.log(.warn, "request from an unbound (unnamed) socket: no way to answer, dropped")
                continue
            }
            let size = min(n, Self.maxDatagram)
            if n <= Self.maxDatagram {
                // A command that answers later (t_uac_dlg waiting for its final reply) holds no reader thread: its
                // answer is sent from the thread that gives it.
                let peer = Peer(address: from, length: fromLen)
                let outcome = buffer.withUnsafeBytes { buf in
                    host.miDispatchAsync(UnsafeRawBufferPointer(rebasing: buf[0..<size])) { [self] reply in
                        send(DatagramExchange.fit(reply, limit: Self.maxDatagram), to: peer)
                    }
                }
                guard case .unsupported = outcome else { continue }
            }
            let answer = buffer.withUnsafeBytes { buf in
                DatagramExchange.answer(request: UnsafeRawBufferPointer(rebasing: buf[0..<size]), received: n,
                                        limit: Self.maxDatagram) { host.miDispatch($0) }
            }
            send(answer, to: Peer(address: from, length: fromLen))
        }
    }

    /// Where a request came from: its reply goes back there.
    struct Peer: @unchecked Sendable { // plain bytes of a socket address
        var address: sockaddr_storage
        var length: socklen_t
    }

    /// Sends one exchange's reply (any thread). The socket is used under its lock, so stop() never closes it under a
    /// send; a reply given after stop is dropped.
    func send(_ answer: DatagramExchange, to peer: Peer) {
        if let size = answer.oversizedReply {
            host.log(.err, "reply of \(size) bytes does not fit in one datagram: error sent instead")
        }
        guard let reply = answer.reply else { return } // notification
        var to = peer.address
        let sent: Int = openFD.withLock { fd in
            guard let fd else { return 0 }
            return reply.withUnsafeBytes { r in
                withUnsafePointer(to: &to) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, r.baseAddress, r.count, 0, $0, peer.length) }
                }
            }
        }
        if sent < 0 { host.log(.err, "cannot send the reply: \(errorText())") }
    }
}

func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
