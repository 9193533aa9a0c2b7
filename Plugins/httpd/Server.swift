// The HTTP server: one libmicrohttpd daemon with its own threads (internal polling threads, each with an epoll set),
// so a slow or silent connection costs a file descriptor and a timer, never a thread: other clients are served
// while it waits, and libmicrohttpd closes it after conn_timeout seconds.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CMicroHTTPD
import SwitchyardABI
import SwitchyardPluginKit
import Synchronization

final class HTTPDServer: Sendable {
    let host: PluginHost
    let config: HTTPDConfig
    let roots = Mutex(HTTPRootTable())
    /// The daemon and its logger; set once in start, cleared in stop.
    private let daemon = Mutex<DaemonBox?>(nil)
    /// Refused requests (413/431) are logged at most once a second: (the second of the last line, lines skipped since).
    private let refusals = Mutex<(second: Int, skipped: Int)>((-1, 0))
    /// Requests whose connection is suspended until their answer comes (API 1.1), answered at stop.
    private let suspended = Mutex<[ObjectIdentifier: HTTPRequest]>([:])

    /// Resumed requests whose answer libmicrohttpd has not finished with (its completion callback not yet run): stop
    /// waits for them, since MHD_resume_connection only flags the connection and stopping the daemon at once would
    /// close it unanswered.
    let resumed = ResumedRequests()

    /// The answer of a suspended request came (its phase is now `resumed`, and it is listed in `resumed`, both done
    /// under its phase lock so a stop running meanwhile waits for it): the connection goes on.
    func resume(_ r: HTTPRequest) {
        _ = suspended.withLock { $0.removeValue(forKey: ObjectIdentifier(r)) }
        MHD_resume_connection(r.connection)
    }

    /// libmicrohttpd is done with the request (sent, timed out or reset).
    func completed(_ r: HTTPRequest) { resumed.remove(r) }

    /// One warning for a refused request, unless one was logged this second (a flood of them is counted instead).
    func logRefusal(_ text: @autoclosure () -> String) {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let second = Int(now.tv_sec)
        let skipped: Int? = refusals.withLock { r in
            if r.second == second { r.skipped += 1; return nil }
            defer { r = (second, 0) }
            return r.skipped
        }
        guard let skipped else { return }
        host.log(.warn, text() + (skipped > 0 ? " (\(skipped) more refused request(s) not logged)" : ""))
    }

    struct DaemonBox: @unchecked Sendable { // the daemon pointer is only passed to MHD_stop_daemon, once
        let daemon: OpaquePointer
        let logger: UnsafeMutablePointer<sy_mhd_logger>
    }

    init(host: PluginHost, config: HTTPDConfig) {
        self.host = host
        self.config = config
    }

    var handle: OpaquePointer { OpaquePointer(Unmanaged.passUnretained(self).toOpaque()) }

    static func from(_ p: OpaquePointer?) -> HTTPDServer? {
        guard let p else { return nil }
        return Unmanaged<HTTPDServer>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }

    func start() throws(PluginError) {
        guard case (var storage, let family)? = config.socketAddress() else { throw PluginError("'\(config.ip)' is not an IP address") }
        var flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue | MHD_USE_ERROR_LOG.rawValue
            | MHD_ALLOW_SUSPEND_RESUME.rawValue
        if family == AF_INET6 { flags |= MHD_USE_IPv6.rawValue }
        let logger = UnsafeMutablePointer<sy_mhd_logger>.allocate(capacity: 1)
        logger.initialize(to: sy_mhd_logger(fn: { cls, line in
            guard let server = HTTPDServer.from(OpaquePointer(cls)), let line else { return }
            server.host.log(.err, "libmicrohttpd: \(String(cString: line).trimmingTrailingNewlines)")
        }, cls: UnsafeMutableRawPointer(handle)))
        let cls = UnsafeMutableRawPointer(handle)
        let d = withUnsafePointer(to: &storage) { sa in
            sa.withMemoryRebound(to: sockaddr.self, capacity: 1) { sap in
                sy_mhd_start(UInt32(flags), sap, accessHandler, cls, completedHandler, cls,
                             UInt32(config.threads), UInt32(config.connTimeout), UInt32(config.maxConnections),
                             config.receiveBufSize, logger)
            }
        }
        guard let d else {
            logger.deallocate()
            throw PluginError("cannot listen on \(config.endpoint) (address in use, or not an address of this machine)")
        }
        daemon.withLock { $0 = DaemonBox(daemon: d, logger: logger) }
        host.log(.info, "listening on http://\(config.endpoint) with \(config.threads) thread(s), idle connections closed after \(config.connTimeout) s")
    }

    /// How long stop waits for the resumed requests' answers to be sent.
    static let stopWaitMs = 500

    func stop() {
        // Requests still waiting for a later answer (API 1.1) are answered now: libmicrohttpd stops only with every
        // connection resumed.
        for r in suspended.withLock({ s -> [HTTPRequest] in defer { s.removeAll() }; return Array(s.values) }) {
            let resume: Bool = r.phase.withLock { phase in
                guard phase == .suspended else { return false }
                if !r.answered {
                    r.status = 503
                    r.contentType = "text/plain; charset=utf-8"
                    r.answerBody = Array("503 Service Unavailable: server stopping\n".utf8)
                }
                phase = .resumed
                resumed.add(r)
                return true
            }
            if resume { MHD_resume_connection(r.connection) }
        }
        guard let box = daemon.withLock({ d -> DaemonBox? in defer { d = nil }; return d }) else { return }
        // No new connection, then the resumed answers (these 503s, and answers given just before) go out before the
        // daemon closes every connection; bounded, so a client that does not read cannot hold the stop.
        let listener = MHD_quiesce_daemon(box.daemon)
        if !resumed.waitEmpty(ms: Self.stopWaitMs) {
            host.log(.warn, "stopping with \(resumed.count) answer(s) not yet sent")
        }
        MHD_stop_daemon(box.daemon) // joins every libmicrohttpd thread; no handler runs after this
        if listener >= 0 { close(listener) } // quiesce handed the listening socket over
        box.logger.deallocate()
    }

    // MARK: The request path

    /// libmicrohttpd calls this once when the head is in, then once per body chunk, then once with no data.
    func access(_ connection: OpaquePointer, url: UnsafePointer<CChar>, method: UnsafePointer<CChar>,
                upload: UnsafePointer<CChar>?, uploadSize: UnsafeMutablePointer<Int>,
                state: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> MHD_Result {
        guard let raw = state.pointee else { return begin(connection, url: url, method: method, state: state) }
        let req = Unmanaged<HTTPRequest>.fromOpaque(raw).takeUnretainedValue()
        if uploadSize.pointee > 0 {
            let limit = req.root?.maxBody ?? 0
            if !req.tooLarge, UInt64(req.body.count + uploadSize.pointee) > limit {
                req.tooLarge = true
                req.body = []
            }
            if !req.tooLarge, let upload {
                req.body.append(contentsOf: UnsafeRawBufferPointer(start: upload, count: uploadSize.pointee))
            }
            uploadSize.pointee = 0
            return SY_MHD_YES
        }
        guard let root = req.root else { return SY_MHD_NO }
        if req.tooLarge {
            logRefusal("\(String(cString: method)) \(HeadCheck.shown(String(cString: url))): body larger than \(root.maxBody) bytes refused (413)")
            return queueError(connection, 413, "request body larger than \(root.maxBody) bytes")
        }
        if req.phase.withLock({ $0 == .resumed }) {
            // Resumed: the later answer is in.
            return queueAnswer(connection, status: req.status, contentType: req.contentType, body: req.answerBody, headers: req.headers)
        }
        root.handler(root.user, req.opaque)
        let waits: Bool = req.phase.withLock { phase in
            guard phase == .suspendAsked, !req.answered else {
                phase = .handed
                return false
            }
            phase = .suspended
            suspended.withLock { $0[ObjectIdentifier(req)] = req }
            MHD_suspend_connection(connection)
            return true
        }
        if waits { return SY_MHD_YES }
        if !req.answered {
            host.log(.err, "the handler of /\(root.root) (module \(root.module)) gave no answer to \(String(cString: method)) \(String(cString: url))")
            return queueError(connection, 500, "no answer from module \(root.module)")
        }
        return queueAnswer(connection, status: req.status, contentType: req.contentType, body: req.answerBody, headers: req.headers)
    }

    /// The first call: the head is complete. Errors that need no body are answered now.
    private func begin(_ connection: OpaquePointer, url: UnsafePointer<CChar>, method: UnsafePointer<CChar>,
                       state: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> MHD_Result {
        let head = headSize(connection, url: url, method: method)
        let contentLength = MHD_lookup_connection_value(connection, SY_MHD_HEADER_KIND, "Content-Length").map { String(cString: $0) }
        let check = roots.withLock {
            HeadCheck.decide(method: String(cString: method), path: String(cString: url), headSize: head,
                             contentLength: contentLength, roots: $0)
        }
        let root: HTTPRoot
        switch check {
        case .refuse(let status, let text, let log):
            if let log { logRefusal(log) }
            return queueError(connection, status, text)
        case .serve(let r):
            root = r
        }
        let req = HTTPRequest(server: self, connection: connection, method: method, path: url, root: root, reserve: config.postBufSize)
        state.pointee = Unmanaged.passRetained(req).toOpaque() // released in completedHandler
        return SY_MHD_YES
    }

    /// Bytes of the request line and header lines, as they came on the wire (give or take whitespace).
    private func headSize(_ connection: OpaquePointer, url: UnsafePointer<CChar>, method: UnsafePointer<CChar>) -> Int {
        var total = strlen(method) + strlen(url) + 12 // " " + " HTTP/1.1\r\n"
        _ = withUnsafeMutablePointer(to: &total) { t in
            MHD_get_connection_values(connection, SY_MHD_HEADER_KIND, { cls, kind, key, value in
                let t = cls!.assumingMemoryBound(to: Int.self)
                t.pointee += (key.map { strlen($0) } ?? 0) + (value.map { strlen($0) } ?? 0) + 4 // ": " + CRLF
                return SY_MHD_YES
            }, t)
        }
        // Arguments of the query string are counted too: they were part of the request line.
        _ = withUnsafeMutablePointer(to: &total) { t in
            MHD_get_connection_values(connection, SY_MHD_GET_ARGUMENT_KIND, { cls, kind, key, value in
                let t = cls!.assumingMemoryBound(to: Int.self)
                t.pointee += (key.map { strlen($0) } ?? 0) + (value.map { strlen($0) } ?? 0) + 2 // "?" or "&", "="
                return SY_MHD_YES
            }, t)
        }
        return total
    }
}

/// libmicrohttpd's access handler: cls is the HTTPDServer.
private let accessHandler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, upload, uploadSize, state in
    guard let server = HTTPDServer.from(OpaquePointer(cls)), let connection, let url, let method, let uploadSize, let state else {
        return SY_MHD_NO
    }
    return server.access(connection, url: url, method: method, upload: upload, uploadSize: uploadSize, state: state)
}

/// Called once per request that got a state, whatever its fate (answered, timed out, reset): releases it.
private let completedHandler: MHD_RequestCompletedCallback = { _, _, state, _ in
    guard let state, let raw = state.pointee else { return }
    let req = Unmanaged<HTTPRequest>.fromOpaque(raw)
    let r = req.takeUnretainedValue()
    if r.phase.withLock({ $0 == .resumed }) { r.server.completed(r) } // only resumed ones are listed
    req.release()
    state.pointee = nil
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while s.hasSuffix("\n") || s.hasSuffix("\r") { s = s.dropLast() }
        return String(s)
    }
}
