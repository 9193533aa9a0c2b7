// The OpenSIPS `proto_tcp` module as a Switchyard plugin: SIP over TCP. Connections (accepted or opened to send) are
// watched by one epoll set that the socket's worker threads share; a worker that is woken for a connection reads it,
// frames messages by Content-Length and hands each to the core, so one connection is never read by two threads.
//
//   socket = tcp:127.0.0.1:5060
//   modparam("proto_tcp", "tcp_connect_timeout", 100)    ms to open an outgoing connection
//   modparam("proto_tcp", "tcp_connection_lifetime", 120) s an idle connection is kept
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit
import SwitchyardSIP
import CEpoll
import Synchronization

@_cdecl("switchyard_plugin_entry")
public func switchyardPluginEntry(_ raw: UnsafePointer<sy_host_api>?) -> UnsafePointer<sy_module_exports>? {
    guard let host = PluginHost(raw, module: "proto_tcp") else { return nil }
    guard host.provides(\.sip_receive) else {
        host.log(.err, "this core has no SIP support (needs ABI 1.4)")
        return nil
    }
    return ProtoTCPModule(host: host).build().pointer // allocated once, never freed
}

struct TCPSettings: Sendable {
    var connectTimeoutMs = 100
    var lifetimeSeconds = 120
}

final class ProtoTCPModule: Sendable {
    let host: PluginHost
    let settings = Mutex(TCPSettings())
    init(host: PluginHost) { self.host = host }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: "proto_tcp", version: "1.0.0", description: "SIP over TCP")
        m.param("tcp_connect_timeout", .int) { [self] v in
            guard let n = v.intValue, n > 0 else { throw PluginError("tcp_connect_timeout must be a positive number of ms") }
            settings.withLock { $0.connectTimeoutMs = Int(n) }
        }
        m.param("tcp_connection_lifetime", .int) { [self] v in
            guard let n = v.intValue, n > 0 else { throw PluginError("tcp_connection_lifetime must be a positive number of seconds") }
            settings.withLock { $0.lifetimeSeconds = Int(n) }
        }
        m.transport("tcp", defaultPort: 5060, stream: true) { [self] sa, len in
            try TCPListener(host: host, address: sa, length: len, settings: settings.withLock { $0 })
        }
        return m.build()
    }
}

/// One TCP connection: its fd, the bytes read but not yet framed, and a write lock.
final class TCPConnection: @unchecked Sendable {
    // `buffer` is touched only by the one worker the epoll one-shot woke; writes take `writeLock`.
    let id: UInt64
    let fd: Int32
    let peer: sockaddr_storage
    let peerLength: socklen_t
    var buffer: [UInt8] = []
    let writeLock = Mutex<Void>(())
    let lastUse = Atomic<Int>(0)

    init(id: UInt64, fd: Int32, peer: sockaddr_storage, peerLength: socklen_t) {
        self.id = id
        self.fd = fd
        self.peer = peer
        self.peerLength = peerLength
    }

    /// The descriptor is closed only when nobody holds the connection any more: a reader or writer that still has it
    /// can never reach another connection that reused the number.
    deinit { close(fd) }
}

final class TCPListener: SIPListener, @unchecked Sendable {
    // The connection table is behind a mutex; fds are set up once.
    let host: PluginHost
    let listenFD: Int32
    let epollFD: Int32
    let settings: TCPSettings
    let stopping = Atomic<Bool>(false)
    let nextID = Atomic<UInt64>(1)
    let conns = Mutex<[UInt64: TCPConnection]>([:])
    static let maxBuffered = 1 << 20
    /// epoll data value that marks the listening socket.
    static let listenTag: UInt64 = 0

    init(host: PluginHost, address: UnsafePointer<sockaddr>, length: socklen_t, settings: TCPSettings) throws {
        self.host = host
        self.settings = settings
        let s = socket(Int32(address.pointee.sa_family), Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { throw PluginError("socket(): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(s, address, length) == 0, listen(s, 1024) == 0 else {
            let e = String(cString: strerror(errno))
            close(s)
            throw PluginError("bind/listen: \(e)")
        }
        _ = fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK)
        listenFD = s
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        var ev = epoll_event()
        ev.events = EPOLLIN.rawValue
        ev.data.u64 = TCPListener.listenTag
        epoll_ctl(epollFD, EPOLL_CTL_ADD, s, &ev)
    }

    /// The listening socket and the epoll set go with the listener: once no serving thread holds it, nothing uses
    /// them (a stopped core frees its port and descriptors, and a test process running many cores does not run out).
    deinit {
        close(epollFD)
        close(listenFD)
    }

    static func now() -> Int { Int(time(nil)) }

    func add(fd: Int32, peer: sockaddr_storage, length: socklen_t) -> TCPConnection {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let c = TCPConnection(id: nextID.add(1, ordering: .relaxed).newValue, fd: fd, peer: peer, peerLength: length)
        c.lastUse.store(TCPListener.now(), ordering: .relaxed)
        conns.withLock { $0[c.id] = c }
        var ev = epoll_event()
        ev.events = EPOLLIN.rawValue | EPOLLONESHOT.rawValue | EPOLLRDHUP.rawValue
        ev.data.u64 = c.id
        epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &ev)
        return c
    }

    /// Forgets a connection: no new lookup finds it, epoll stops watching it, the peer sees it closed. The
    /// descriptor itself is closed when the last thread using the connection lets go of it (TCPConnection.deinit).
    func drop(_ c: TCPConnection) {
        guard conns.withLock({ $0.removeValue(forKey: c.id) }) != nil else { return }
        epoll_ctl(epollFD, EPOLL_CTL_DEL, c.fd, nil)
        shutdown(c.fd, Int32(SHUT_RDWR))
    }

    func serve(worker: OpaquePointer) {
        var events = [epoll_event](repeating: epoll_event(), count: 16)
        var lastSweep = TCPListener.now()
        while !stopping.load(ordering: .relaxed) {
            let n = epoll_wait(epollFD, &events, Int32(events.count), 200)
            if n < 0 { if errno == EINTR { continue }; break }
            for i in 0..<Int(n) {
                let tag = events[i].data.u64
                if tag == TCPListener.listenTag { acceptAll(); continue }
                guard let c = conns.withLock({ $0[tag] }) else { continue }
                if readAndDispatch(c, worker: worker) {
                    var ev = epoll_event()
                    ev.events = EPOLLIN.rawValue | EPOLLONESHOT.rawValue | EPOLLRDHUP.rawValue
                    ev.data.u64 = c.id
                    epoll_ctl(epollFD, EPOLL_CTL_MOD, c.fd, &ev)
                } else {
                    drop(c)
                }
            }
            let now = TCPListener.now()
            if now - lastSweep >= 5 {
                lastSweep = now
                let idle = conns.withLock { $0.values.filter { now - $0.lastUse.load(ordering: .relaxed) > settings.lifetimeSeconds } }
                for c in idle { drop(c) }
            }
        }
    }

    func acceptAll() {
        while true {
            var peer = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &peer) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listenFD, $0, &len) }
            }
            if fd < 0 {
                // Out of descriptors: the listening socket stays readable, so pause instead of spinning on it.
                if errno == EMFILE || errno == ENFILE {
                    host.log(.err, "accept: \(String(cString: strerror(errno)))")
                    usleep(100_000)
                }
                return
            }
            _ = add(fd: fd, peer: peer, length: len)
        }
    }

    /// Reads what is there and hands every complete message to the core. False: close the connection.
    func readAndDispatch(_ c: TCPConnection, worker: OpaquePointer) -> Bool {
        c.lastUse.store(TCPListener.now(), ordering: .relaxed)  // not idle while being read (the sweep skips it)
        var chunk = [UInt8](repeating: 0, count: 65536)
        var peerClosed = false
        while true {
            let n = read(c.fd, &chunk, chunk.count)
            if n == 0 { peerClosed = true; break }  // dispatch what came before the close first
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                if errno == EINTR { continue }
                return false
            }
            c.buffer.append(contentsOf: chunk[0..<n])
            if c.buffer.count > TCPListener.maxBuffered {
                host.log(.warn, "connection \(c.id): more than \(TCPListener.maxBuffered) bytes without a complete message; closed")
                return false
            }
        }
        c.lastUse.store(TCPListener.now(), ordering: .relaxed)
        while !c.buffer.isEmpty {
            let length: Int?
            do {
                length = try c.buffer.withUnsafeBufferPointer { (b) throws(SIPParseError) in try SIPFraming.messageLength(b) }
            } catch {
                host.log(.info, "connection \(c.id): \(error.reason); closed")
                return false
            }
            guard let len = length else { break }
            var peer = c.peer
            c.buffer.withUnsafeBytes { b in
                withUnsafePointer(to: &peer) { p in
                    p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                        _ = host.sipReceive(worker: worker, conn: c.id, source: sa, sourceLength: c.peerLength,
                                            bytes: UnsafeRawBufferPointer(rebasing: b[0..<len]))
                    }
                }
            }
            c.buffer.removeFirst(len)
        }
        return !peerClosed
    }

    func send(conn: UInt64, to address: UnsafePointer<sockaddr>, length: socklen_t, bytes: UnsafeRawBufferPointer) -> Bool {
        var c = conn != 0 ? conns.withLock { $0[conn] } : nil
        if c == nil { c = find(address, length) ?? open(address, length) }
        guard let c else { return false }
        let ok = c.writeLock.withLock { _ in writeAll(c.fd, bytes) }
        if !ok { drop(c) } else { c.lastUse.store(TCPListener.now(), ordering: .relaxed) }
        return ok
    }

    func find(_ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> TCPConnection? {
        conns.withLock { all in
            all.values.first { c in
                c.peerLength == length && withUnsafeBytes(of: c.peer) { memcmp($0.baseAddress!, address, Int(length)) == 0 }
            }
        }
    }

    func open(_ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> TCPConnection? {
        let fd = socket(Int32(address.pointee.sa_family), Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        if connect(fd, address, length) != 0 {
            guard errno == EINPROGRESS else { close(fd); return nil }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var err: Int32 = 0
            var errLen = socklen_t(MemoryLayout<Int32>.size)
            guard poll(&p, 1, Int32(settings.connectTimeoutMs)) == 1,
                  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errLen) == 0, err == 0 else {
                host.log(.err, "cannot connect: \(String(cString: strerror(err != 0 ? err : ETIMEDOUT)))")
                close(fd)
                return nil
            }
        }
        var peer = sockaddr_storage()
        withUnsafeMutableBytes(of: &peer) { $0.copyMemory(from: UnsafeRawBufferPointer(start: address, count: Int(length))) }
        return add(fd: fd, peer: peer, length: length)
    }

    func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n > 0 { off += n; continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                if poll(&p, 1, 2000) <= 0 { return false }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            return false
        }
        return true
    }

    func stop() {
        stopping.store(true, ordering: .relaxed)
    }
}
