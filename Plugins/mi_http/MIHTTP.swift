// The OpenSIPS `mi_http` module as a Switchyard plugin: the Management Interface as JSON-RPC 2.0 over HTTP POST
// (`opensips-cli` with `communication_type = http`, `url = http://127.0.0.1:8888/mi`).
//
//   modparam("mi_http", "root", "mi")              URL path: POST http://<ip>:<port>/<root>
//   modparam("mi_http", "ip", "127.0.0.1")         modparam("mi_http", "port", 8888)   (OpenSIPS: httpd's params)
//   modparam("mi_http", "children_count", 4)       worker threads
//   modparam("mi_http", "max_body_size", 1048576)  bigger requests get 413
//   modparam("mi_http", "read_timeout", 5000)      ms allowed to receive one whole request (else 408 and close)
//   modparam("mi_http", "keepalive_timeout", 15000) ms an idle keep-alive connection is kept
//
// Threads: one poller thread accepts connections and watches idle keep-alive connections; when one is readable it is
// handed to a worker (WorkQueue). A worker reads one request (with a deadline), dispatches it through the core's MI,
// answers, and gives the connection back to the poller (keep-alive) or closes it. So idle connections never hold a
// worker and a stalled client holds one for at most read_timeout. See README.md next to this file.
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
    guard let host = PluginHost(raw, module: MIHTTPModule.name) else { return nil } // another ABI major: refuse
    return MIHTTPModule(host: host).build().pointer // allocated once, never freed
}

struct HTTPConfig: Sendable {
    var ip = "127.0.0.1"
    var port = 8888
    var root = "mi"
    var children = 4
    var maxBody = 1 << 20
    var readTimeoutMs = 5000
    var keepAliveTimeoutMs = 15000
}

/// One client connection: its socket and the bytes read but not consumed yet (pipelined requests).
final class HTTPConnection: @unchecked Sendable { // owned by exactly one thread at a time (poller or one worker)
    let fd: Int32
    var buffer: [UInt8] = []
    var idleSince: UInt64 = 0
    init(fd: Int32) { self.fd = fd }
}

final class MIHTTPModule: Sendable {
    static let name = "mi_http"
    static let version = "1.0.0"
    static let maxHead = 16 * 1024
    static let pollMs: Int32 = 200
    static let maxIdle = 4096

    let host: PluginHost
    let config = Mutex(HTTPConfig())
    let stopping = Atomic<Bool>(false)
    let runtime = Mutex<Runtime?>(nil)
    /// Connections workers hand back for keep-alive; the poller adopts them.
    let returned = Mutex<[HTTPConnection]>([])
    let wakeFD = Atomic<Int32>(-1)

    struct Runtime: @unchecked Sendable { // joined once, in destroy
        var poller: PluginThread
        var workers: [PluginThread]
        var queue: WorkQueue<HTTPConnection>
        var listener: Int32
        var wake: Int32
    }

    init(host: PluginHost) { self.host = host }

    func build() -> ModuleExports {
        var m = ModuleExportsBuilder(host: host, name: Self.name, version: Self.version,
                                     description: "Management Interface: JSON-RPC 2.0 over HTTP POST")
        for name in ["root", "mi_http_root"] {
            m.param(name, .str) { [self] v in
                guard let s = v.stringValue else { throw PluginError("must be a URL path such as \"mi\"") }
                let trimmed = String(s.trimmingCharacters("/"))
                guard !trimmed.contains(where: { $0 == "?" || $0 == "#" || $0 == " " }) else { throw PluginError("'\(s)' is not a URL path") }
                config.withLock { $0.root = trimmed }
            }
        }
        m.param("ip", .str) { [self] v in
            guard let s = v.stringValue, !s.isEmpty else { throw PluginError("must be an IP address") }
            let ip = s.hasPrefix("[") && s.hasSuffix("]") ? String(s.dropFirst().dropLast()) : s
            var a4 = in_addr(), a6 = in6_addr()
            guard inet_pton(AF_INET, ip, &a4) == 1 || inet_pton(AF_INET6, ip, &a6) == 1 else { throw PluginError("'\(s)' is not an IP address") }
            config.withLock { $0.ip = ip }
        }
        m.param("port", .int) { [self] v in
            guard let i = v.intValue, (1...65535).contains(i) else { throw PluginError("must be 1..65535") }
            config.withLock { $0.port = Int(i) }
        }
        m.param("children_count", .int) { [self] v in
            guard let i = v.intValue, (1...64).contains(i) else { throw PluginError("must be 1..64") }
            config.withLock { $0.children = Int(i) }
        }
        m.param("max_body_size", .int) { [self] v in
            guard let i = v.intValue, (1...(256 << 20)).contains(i) else { throw PluginError("must be 1..268435456 bytes") }
            config.withLock { $0.maxBody = Int(i) }
        }
        m.param("read_timeout", .int) { [self] v in
            guard let i = v.intValue, (1...3_600_000).contains(i) else { throw PluginError("must be milliseconds, 1..3600000") }
            config.withLock { $0.readTimeoutMs = Int(i) }
        }
        m.param("keepalive_timeout", .int) { [self] v in
            guard let i = v.intValue, (0...3_600_000).contains(i) else { throw PluginError("must be milliseconds, 0..3600000") }
            config.withLock { $0.keepAliveTimeoutMs = Int(i) }
        }
        m.onInit { [self] in try start() }
        m.onDestroy { [self] in stop() }
        return m.build()
    }

    // MARK: Lifecycle

    func start() throws {
        guard host.providesMIDispatch else { throw PluginError("the core is too old for MI transports (needs ABI 1.3)") }
        let cfg = config.withLock { $0 }
        let listener = try openListener(cfg)
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else { let e = errorText(); close(listener); throw PluginError("pipe(): \(e)") }
        for fd in pipeFDs {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        let wake = pipeFDs[0]
        wakeFD.store(pipeFDs[1], ordering: .releasing)
        let queue = WorkQueue<HTTPConnection>()

        var workers: [PluginThread] = []
        func abandon(_ what: String) -> PluginError {
            stopping.store(true, ordering: .releasing)
            queue.close()
            workers.forEach { $0.join() }
            close(listener); close(pipeFDs[0]); close(pipeFDs[1])
            return PluginError("cannot start the \(what) thread")
        }
        for i in 0..<cfg.children {
            guard let t = PluginThread.start(name: "mi_http\(i)", { [self] in work(queue, cfg) }) else { throw abandon("worker") }
            workers.append(t)
        }
        guard let poller = PluginThread.start(name: "mi_http_poll", { [self] in poll(listener: listener, wake: wake, queue: queue, cfg) }) else {
            throw abandon("poller")
        }
        runtime.withLock { $0 = Runtime(poller: poller, workers: workers, queue: queue, listener: listener, wake: wake) }
        host.log(.info, "listening on http://\(cfg.ip.contains(":") ? "[\(cfg.ip)]" : cfg.ip):\(cfg.port)/\(cfg.root) with \(cfg.children) worker(s)")
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        guard let rt = runtime.withLock({ r -> Runtime? in defer { r = nil }; return r }) else { return }
        var one: UInt8 = 1
        _ = write(wakeFD.load(ordering: .acquiring), &one, 1)
        rt.poller.join()            // closes the listener's backlog handling and every idle connection
        rt.queue.close()
        rt.workers.forEach { $0.join() } // each notices `stopping` within pollMs
        while let c = rt.queue.take() { close(c.fd) } // handed over but never served
        for c in returned.withLock({ r -> [HTTPConnection] in defer { r = [] }; return r }) { close(c.fd) }
        close(rt.listener)
        close(rt.wake)
        close(wakeFD.exchange(-1, ordering: .acquiringAndReleasing))
    }

    private func openListener(_ cfg: HTTPConfig) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
        var res: UnsafeMutablePointer<addrinfo>? = nil
        guard getaddrinfo(cfg.ip, String(cfg.port), &hints, &res) == 0, let ai = res else {
            throw PluginError("'\(cfg.ip)' is not an IP address")
        }
        defer { freeaddrinfo(res) }
        let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw PluginError("socket(): \(errorText())") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            let e = errorText(); close(fd); throw PluginError("bind \(cfg.ip):\(cfg.port): \(e)")
        }
        guard listen(fd, 4096) == 0 else { let e = errorText(); close(fd); throw PluginError("listen: \(e)") }
        return fd
    }

    // MARK: Poller: accepts, and watches idle keep-alive connections

    func poll(listener: Int32, wake: Int32, queue: WorkQueue<HTTPConnection>, _ cfg: HTTPConfig) {
        var idle: [HTTPConnection] = []
        var fds: [pollfd] = []
        defer { idle.forEach { close($0.fd) } }
        while !stopping.load(ordering: .acquiring) {
            idle += returned.withLock { r -> [HTTPConnection] in defer { r.removeAll(keepingCapacity: true) }; return r }
            // Expire idle connections (and the oldest beyond maxIdle).
            let now = nowMs()
            idle.removeAll { c in
                if now &- c.idleSince >= UInt64(cfg.keepAliveTimeoutMs) { close(c.fd); return true }
                return false
            }
            if idle.count > Self.maxIdle {
                for c in idle.prefix(idle.count - Self.maxIdle) { close(c.fd) }
                idle.removeFirst(idle.count - Self.maxIdle)
            }
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: listener, events: Int16(POLLIN), revents: 0))
            fds.append(pollfd(fd: wake, events: Int16(POLLIN), revents: 0))
            for c in idle { fds.append(pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)) }
            let n = Glibc.poll(&fds, nfds_t(fds.count), Self.pollMs)
            if n <= 0 { continue }
            if fds[1].revents != 0 { var drain = [UInt8](repeating: 0, count: 256); _ = read(wake, &drain, drain.count) }
            if fds[0].revents != 0 { acceptAll(listener, queue, cfg) }
            if idle.isEmpty { continue }
            var keep: [HTTPConnection] = []
            keep.reserveCapacity(idle.count)
            for (i, c) in idle.enumerated() {
                if fds[i + 2].revents != 0 { // data, EOF or error: a worker reads it and finds out
                    if !queue.put(c) { close(c.fd) }
                } else {
                    keep.append(c)
                }
            }
            idle = keep
        }
    }

    private func acceptAll(_ listener: Int32, _ queue: WorkQueue<HTTPConnection>, _ cfg: HTTPConfig) {
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                if errno != EAGAIN && errno != EWOULDBLOCK { host.log(.err, "accept: \(errorText())"); usleep(10_000) }
                return
            }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            // A client that stops reading its reply cannot hold a worker longer than read_timeout.
            var snd = timeval(tv_sec: cfg.readTimeoutMs / 1000, tv_usec: (cfg.readTimeoutMs % 1000) * 1000)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &snd, socklen_t(MemoryLayout<timeval>.size))
            if !queue.put(HTTPConnection(fd: fd)) { close(fd); return }
        }
    }

    private func giveBack(_ c: HTTPConnection) {
        c.idleSince = nowMs()
        returned.withLock { $0.append(c) }
        var one: UInt8 = 1
        _ = write(wakeFD.load(ordering: .acquiring), &one, 1)
    }

    // MARK: Workers

    func work(_ queue: WorkQueue<HTTPConnection>, _ cfg: HTTPConfig) {
        var scratch = [UInt8](repeating: 0, count: 64 * 1024)
        while let c = queue.take() {
            if stopping.load(ordering: .acquiring) { close(c.fd); continue }
            serve(c, cfg, &scratch)
        }
    }

    private enum ReadResult { case ok, eof, timeout, stopped, error }

    /// Reads more bytes into `c.buffer`, waiting until `deadline` (ms, monotonic).
    private func readMore(_ c: HTTPConnection, deadline: UInt64, _ scratch: inout [UInt8]) -> ReadResult {
        while true {
            if stopping.load(ordering: .acquiring) { return .stopped }
            let now = nowMs()
            if now >= deadline { return .timeout }
            var pfd = pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)
            let r = Glibc.poll(&pfd, 1, Int32(min(UInt64(Self.pollMs), deadline - now)))
            if r < 0 && errno != EINTR { return .error }
            if r <= 0 { continue }
            let n = scratch.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { c.buffer += scratch[0..<n]; return .ok }
            if n == 0 { return .eof }
            if errno == EINTR || errno == EAGAIN { continue }
            return .error
        }
    }

    private func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// Serves requests on `c` until the connection should go back to the poller (keep-alive, nothing buffered) or close.
    private func serve(_ c: HTTPConnection, _ cfg: HTTPConfig, _ scratch: inout [UInt8]) {
        while true {
            switch serveOne(c, cfg, &scratch) {
            case .close:
                close(c.fd)
                return
            case .keepAlive:
                if c.buffer.isEmpty { giveBack(c); return }
                // pipelined: the next request is (partly) here already
            }
        }
    }

    private enum Outcome { case keepAlive, close }

    /// After an error answer with the request body unread: half-close and discard what the client still sends for a
    /// moment, so closing with unread data does not reset the connection and destroy the answer before it is read.
    private func lingeringClose(_ c: HTTPConnection, _ scratch: inout [UInt8]) {
        shutdown(c.fd, Int32(SHUT_WR))
        let deadline = nowMs() + 500
        c.buffer.removeAll()
        while readMore(c, deadline: deadline, &scratch) == .ok { c.buffer.removeAll(keepingCapacity: true) }
    }

    private func serveOne(_ c: HTTPConnection, _ cfg: HTTPConfig, _ scratch: inout [UInt8]) -> Outcome {
        let deadline = nowMs() + UInt64(cfg.readTimeoutMs)
        // 1. The head.
        var searched = 0
        var end: (headEnd: Int, bodyStart: Int)? = nil
        while true {
            end = HTTPRequestHead.findEnd(c.buffer, from: max(0, searched - 3))
            if end != nil { break }
            searched = c.buffer.count
            if c.buffer.count > Self.maxHead {
                _ = send(c.fd, HTTPResponse.error(431, "request head larger than \(Self.maxHead) bytes", keepAlive: false, http10: false))
                return .close
            }
            switch readMore(c, deadline: deadline, &scratch) {
            case .ok: continue
            case .timeout:
                if !c.buffer.isEmpty { // a half-sent request: tell the client; a silent idle one just closes
                    _ = send(c.fd, HTTPResponse.error(408, "request not received within \(cfg.readTimeoutMs) ms", keepAlive: false, http10: false))
                }
                return .close
            case .eof, .stopped, .error: return .close
            }
        }
        guard let (headEnd, bodyStart) = end else { return .close }
        guard var head = HTTPRequestHead.parse(c.buffer[0..<headEnd]) else {
            _ = send(c.fd, HTTPResponse.error(400, "malformed HTTP request", keepAlive: false, http10: false))
            return .close
        }
        let http10 = head.minorVersion == 0
        if head.minorVersion > 1 { head.keepAlive = false }
        func fail(_ status: Int, _ text: String, extra: [String] = []) -> Outcome {
            _ = send(c.fd, HTTPResponse.error(status, text, keepAlive: false, http10: http10, extraHeaders: extra))
            lingeringClose(c, &scratch)
            return .close
        }

        // 2. Framing: Content-Length only.
        if head.hasTransferEncoding { return fail(411, "chunked or other transfer codings are not supported: send Content-Length") }
        let length = head.contentLength ?? 0
        if length > cfg.maxBody { return fail(413, "request body of \(length) bytes exceeds max_body_size (\(cfg.maxBody))") }

        // 3. Routing before the body is read: a wrong request does not make us swallow a big body.
        let wantRoot = cfg.root.isEmpty ? "/" : "/" + cfg.root
        let pathOK = head.path == wantRoot || head.path == wantRoot + "/" || (wantRoot == "/" && head.path == "/")
        let status: Int? = !pathOK ? 404 : head.method != "POST" ? 405 : head.contentLength == nil ? 411 : length == 0 ? 400 : nil
        if let status {
            let text: String
            switch status {
            case 404: text = "no MI here: POST JSON-RPC requests to \(wantRoot)"
            case 405: text = "only POST is allowed"
            case 411: text = "a POST needs Content-Length"
            default: text = "empty body: expected one JSON-RPC request"
            }
            let extra = status == 405 ? ["Allow: POST"] : []
            // Keep the connection only if there is no body to skip (the head is consumed).
            let canKeep = head.keepAlive && length == 0 && head.method != "HEAD"
            c.buffer.removeFirst(bodyStart)
            let body: [UInt8]? = head.method == "HEAD" ? nil : Array("\(status) \(HTTPResponse.reason(status)): \(text)\n".utf8)
            let resp = HTTPResponse.build(status: status, contentType: "text/plain; charset=utf-8", body: body,
                                          keepAlive: canKeep, http10: http10, extraHeaders: extra)
            guard send(c.fd, resp), canKeep else { return .close }
            return .keepAlive
        }

        // 4. The body.
        if head.expectContinue && c.buffer.count - bodyStart < length {
            guard send(c.fd, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) else { return .close }
        }
        while c.buffer.count - bodyStart < length {
            switch readMore(c, deadline: deadline, &scratch) {
            case .ok: continue
            case .timeout: return fail(408, "request body not received within \(cfg.readTimeoutMs) ms")
            case .eof, .stopped, .error: return .close
            }
        }
        let reply = c.buffer.withUnsafeBytes { all in
            host.miDispatch(UnsafeRawBufferPointer(rebasing: all[bodyStart..<(bodyStart + length)]))
        }
        c.buffer.removeFirst(bodyStart + length)

        // 5. The answer.
        let response: [UInt8]
        switch reply {
        case nil:
            response = HTTPResponse.build(status: 202, contentType: nil, body: nil, keepAlive: head.keepAlive, http10: http10)
        case let r? where r.isEmpty:
            response = HTTPResponse.error(500, "the MI engine gave no answer", keepAlive: head.keepAlive, http10: http10)
        case let r?:
            response = HTTPResponse.build(status: 200, contentType: "application/json", body: r, keepAlive: head.keepAlive, http10: http10)
        }
        guard send(c.fd, response), head.keepAlive, !stopping.load(ordering: .acquiring) else { return .close }
        return .keepAlive
    }
}

func nowMs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
}

func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

extension String {
    func trimmingCharacters(_ c: Character) -> Substring {
        let s = self[...]
        guard let first = s.firstIndex(where: { $0 != c }) else { return s[s.endIndex...] }
        return s[first...s.lastIndex(where: { $0 != c })!]
    }
}
