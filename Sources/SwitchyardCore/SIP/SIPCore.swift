import Foundation
import Synchronization
import SwitchyardABI
import SwitchyardSIP

/// The SIP side of the core: the listening sockets (opened through transport modules), their
/// worker threads, and what happens to each received message — the request route, or the
/// stateless relay of a reply by its Via.
public final class SIPCore: @unchecked Sendable {
    // Sockets and workers are set up on the startup thread; afterwards they are read-only.
    let engine: ScriptEngine
    let log: CoreLog
    private(set) var sockets: [SIPSocket] = []
    private var workers: [SIPWorker] = []
    /// SIP workers started (their ranks follow the script workers').
    var workerCount: Int { workers.count }
    private var threads: [Thread] = []
    private let finished = DispatchGroup()
    /// Makes our stateless branches unguessable and stable for retransmissions.
    let secret = UInt64.random(in: 1...UInt64.max)
    /// `Server:` header line of locally generated replies (server_header / server_signature).
    var serverHeader: String?
    let local: LocalRequests
    /// Destination names resolved for forward(), reply relaying and probes.
    let names: NameCache
    let counters = SIPCounters()
    /// Each worker thread's buffer for the messages it forwards and relays.
    let output = OutputBuffers()
    /// The transaction layer's hooks (ABI 1.7), registered by one module at startup; read-only afterwards.
    var hooks: sy_sip_hooks? { engine.sipHooks }
    /// findSocket answers by text (a miss cached too).
    struct SocketName: @unchecked Sendable { let socket: SIPSocket? } // SIPSocket is read-only after start
    private let socketsByText = Mutex<[String: SocketName]>([:])

    init(engine: ScriptEngine, log: CoreLog) {
        self.engine = engine
        self.log = log
        self.local = LocalRequests(log: log)
        self.names = NameCache(settings: engine.dns, hosts: engine.dnsHosts, log: { log.write(LogLevels.warn, module: "core", $0) })
    }

    public var socketNames: [String] { sockets.map(\.name) }

    // MARK: startup

    /// Opens every `socket=` line through its transport module. Errors name the line.
    func open(_ lines: [(text: String, location: SourceLocation?)], modules: [LoadedModule], defaultWorkers: Int,
              diagnostics: DiagnosticBag) {
        var protos: [String: SIPProto] = [:]
        for m in modules {
            for p in m.protos {
                guard let n = p.name.map({ String(cString: $0).lowercased() }) else { continue }
                protos[n] = SIPProto(name: n, module: m.name, export: p)
            }
        }
        for line in lines {
            do throws(SIPConfigError) {
                let spec = try SocketSpec.parse(line.text)
                guard let proto = protos[spec.proto] else {
                    throw SIPConfigError("socket '\(line.text)': no transport module for '\(spec.proto)' (loadmodule \"proto_\(spec.proto).so\"?)")
                }
                let addr = try spec.bindAddress(defaultPort: proto.defaultPort)
                guard let listen = proto.export.listen else { throw SIPConfigError("module \(proto.module) exports no listen()") }
                var err = [CChar](repeating: 0, count: 256)
                let l = addr.withSockaddr { sa, len in listen(sa, len, &err, err.count, proto.export.user) }
                guard let listener = l else {
                    throw SIPConfigError("cannot listen on \(spec.proto):\(addr.text): \(ABIReader.text(err))")
                }
                sockets.append(SIPSocket(proto: proto, spec: spec, address: addr, listener: listener,
                                         workers: spec.workers ?? defaultWorkers))
            } catch {
                diagnostics.error(line.location, error.message)
            }
        }
    }

    /// Starts each socket's worker threads; ranks continue after the script workers'.
    func start(firstRank: Int, childInit: @escaping @Sendable (Int) -> Bool) -> Bool {
        local.start(core: self)  // before any worker can receive a reply to a local request
        var rank = firstRank
        let ready = DispatchGroup()
        let failures = Counter()
        for socket in sockets {
            for _ in 0..<socket.workers {
                let w = SIPWorker(socket: socket, engine: engine, rank: rank)
                rank += 1
                workers.append(w)
                ready.enter()
                finished.enter()
                let t = Thread { [finished] in
                    if !childInit(w.rank) { failures.increment() }
                    ready.leave()
                    if let serve = socket.proto.export.serve {
                        serve(socket.listener, w.handle, socket.proto.export.user)
                    }
                    finished.leave()
                }
                t.name = "sip-\(socket.proto.name)-\(w.rank)"
                t.stackSize = 8 << 20
                threads.append(t)
                t.start()
            }
        }
        ready.wait()
        return failures.value == 0
    }

    func stop() {
        local.stop()
        for s in sockets { s.proto.export.stop?(s.listener, s.proto.export.user) }
        _ = finished.wait(timeout: .now() + 5)
    }

    // MARK: sockets

    /// The listening socket named by `[proto:]host[:port]` (OpenSIPS's force_send_socket syntax): the host is the
    /// bound IP, the advertised host, or the configured name; no proto matches any transport, no port any port.
    /// Sockets never change after start, so answers are cached (drouting asks for a gateway's socket per request).
    func findSocket(_ text: String) -> SIPSocket? {
        if let hit = socketsByText.withLock({ $0[text] }) { return hit.socket }
        let found = lookupSocket(text)
        socketsByText.withLock { if $0.count < 4096 { $0[text] = SocketName(socket: found) } }
        return found
    }

    private func lookupSocket(_ text: String) -> SIPSocket? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let spec = try? SocketSpec.parseAddress(t, protoAllowed: true) else { return nil }
        let explicitProto = t.firstIndex(of: ":").map { SocketSpec.knownProtos.contains(t[..<$0].lowercased()) } ?? false
        let host = spec.host.lowercased()
        return sockets.first { s in
            (!explicitProto || s.proto.name == spec.proto)
                && (spec.port == nil || spec.port == s.address.port || spec.port == s.viaPort)
                && (host == s.address.ip.lowercased() || host == s.spec.host.lowercased()
                    || host == s.viaHost.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]")))
        }
    }

    /// The socket to send on for a transport and address family, preferring the one a message came in on.
    func socket(proto: String, family: Int32, prefer: SIPSocket?) -> SIPSocket? {
        if let p = prefer, p.proto.name == proto, p.address.family == family || p.address.isAny { return p }
        return sockets.first { $0.proto.name == proto && ($0.address.family == family || $0.address.isAny) }
            ?? sockets.first { $0.proto.name == proto }
    }

    // MARK: receiving

    /// One message from a transport, on a SIP worker thread.
    func receive(_ w: SIPWorker, conn: UInt64, source: SocketAddress, bytes: [UInt8]) -> Int32 {
        let msg: SIPMessage
        do {
            msg = try SIPMessage.parse(bytes)
            // Every Via is needed to route the message or its replies: a bad one makes the message bad.
            _ = try msg.vias()
        } catch {
            counters.bad.add(1, ordering: .relaxed)
            log.write(LogLevels.info, module: "core", "bad SIP message from \(source.text): \(error.reason)")
            // With an error_route, OpenSIPS runs it on a request it could not parse and sends nothing itself.
            if engine.routes.error != nil, engine.runErrorRoute(afterParseFailure: error, bytes: bytes,
                                                              origin: SIPOrigin(socket: w.socket, conn: conn, source: source), ctx: w.ctx) {
                return -1
            }
            BadRequest.answer(bytes, reason: error.reason, origin: SIPOrigin(socket: w.socket, conn: conn, source: source), core: self)
            return -1
        }
        let origin = SIPOrigin(socket: w.socket, conn: conn, source: source)
        if msg.isRequest {
            counters.requests.add(1, ordering: .relaxed)
            guard msg.isVersion2 else {
                _ = reply(to: msg, origin: origin, code: 505, reason: "Version Not Supported", extraHeaders: "")
                return -1
            }
            handleRequest(msg, origin: origin, worker: w)
        } else {
            counters.replies.add(1, ordering: .relaxed)
            handleReply(msg, origin: origin, worker: w)
        }
        return 0
    }

    func handleRequest(_ msg: SIPMessage, origin: SIPOrigin, worker w: SIPWorker) {
        let ctx = w.ctx
        ctx.reset(routeType: .request)
        ctx.message.load(sip: msg, origin: origin)
        // The transaction layer sees the request first: a retransmission or an absorbed ACK ends here.
        if let h = hooks, let hook = h.request_in,
           HostTable.withInfo(ctx, { hook(HostTable.handle(ctx), $0, h.user) }) == 1 {
            ctx.reset(routeType: .request)
            return
        }
        if let route = engine.mainRoute { engine.run(route, ctx) }
        ctx.reset(routeType: .request)
    }

    func handleReply(_ msg: SIPMessage, origin: SIPOrigin, worker w: SIPWorker) {
        // The top Via read in place (vias[0]), not copied out: a copy of a Via costs ~250 instructions to make and drop.
        guard let vias = try? msg.vias(), !vias.isEmpty else { return }
        if local.isLocalBranch(vias[0]), let branch = vias[0].branch {
            local.replyArrived(branch: branch, code: msg.statusCode ?? 0)
            return
        }
        let ctx = w.ctx
        if let route = engine.routes.globalReply {
            ctx.reset(routeType: .onreply)
            ctx.message.load(sip: msg, origin: origin)
            engine.run(route, ctx)
            let drop = ctx.dropped && (msg.statusCode ?? 0) < 200
            let relayedByScript = ctx.message.handled  // forward() in the route already sent it
            if drop || relayedByScript { ctx.reset(routeType: .onreply); return }
        } else if hooks != nil {
            ctx.reset(routeType: .onreply)
            ctx.message.load(sip: msg, origin: origin)
        } else {
            relay(msg, vias: vias, edits: HeaderEdits())
            return
        }
        // The transaction layer takes the replies of its transactions; the others are relayed by Via.
        if let h = hooks, let hook = h.reply_in {
            ctx.dropped = false
            if HostTable.withInfo(ctx, { hook(HostTable.handle(ctx), $0, h.user) }) == 1 {
                ctx.reset(routeType: .onreply)
                return
            }
        }
        let edits = ctx.message.edits
        ctx.reset(routeType: .onreply)
        relay(msg, vias: vias, edits: edits)
    }

    /// Sends a reply on to the next Via, if the top Via is ours.
    func relay(_ msg: SIPMessage, vias: [SIPVia], edits: HeaderEdits) {
        let top = vias[0]
        guard sockets.contains(where: { $0.matches(top) }) || isAlias(top) else {
            log.write(LogLevels.debug, module: "core", "reply \(msg.statusCode ?? 0) whose top Via \(top.host) is not ours: dropped")
            return
        }
        guard vias.count > 1 else { return }  // a reply to our own request that nobody waits for
        let next = vias[1]
        guard let (dst, proto) = replyDestination(next, in: msg) else {
            log.warning("cannot resolve the Via \(next.host) of a reply: dropped")
            counters.dropped.add(1, ordering: .relaxed)
            return
        }
        guard let socket = socket(proto: proto, family: dst.family, prefer: nil) else {
            log.warning("no \(proto) socket to relay a reply to \(dst.text): dropped")
            counters.dropped.add(1, ordering: .relaxed)
            return
        }
        let sent = output.with { out -> Bool in
            MessageWriter.relayedReply(into: &out, msg, topVia: top, edits: edits, stream: proto != "udp")
            return socket.send(conn: 0, to: dst, out.bytes)
        }
        if sent { counters.relayedReplies.add(1, ordering: .relaxed) }
    }

    /// Where a reply goes for a Via: received= or the sent-by host; rport= or the sent-by port.
    func replyDestination(_ via: SIPVia, in msg: SIPMessage) -> (SocketAddress, String)? {
        // The usual case, read from the message's bytes without making text: a UDP Via whose received= (or sent-by
        // host, without received=) is a dotted quad, with a port or rport= that is plain digits. The same answer as below.
        if via.transportIs("UDP"), let v4 = msg.ipv4(via.receivedRange ?? via.hostRange) {
            var port = via.port ?? 5060
            if let r = via.rportRange {
                guard let n = SIPCore.digits(msg.bytes, r) else { return replyDestinationByText(via) }
                if (1...65535).contains(n) { port = n }
            }
            guard (1...65535).contains(port) else { return nil }
            return (SocketAddress(ipv4: v4, port: port), "udp")
        }
        return replyDestinationByText(via)
    }

    /// A number of 1 to 9 decimal digits filling the range; nil for anything else.
    static func digits(_ b: [UInt8], _ r: Range<Int>) -> Int? {
        guard !r.isEmpty, r.count <= 9 else { return nil }
        var n = 0
        for i in r {
            guard b[i] >= 48, b[i] <= 57 else { return nil }
            n = n * 10 + Int(b[i] - 48)
        }
        return n
    }

    private func replyDestinationByText(_ via: SIPVia) -> (SocketAddress, String)? {
        let host = via.received ?? via.host
        let secure = via.transportIs("TLS")
        var port = via.port ?? (secure ? 5061 : 5060)
        if case .some(.some(let rp)) = via.rport, let n = Int(rp), (1...65535).contains(n) { port = n }
        guard (1...65535).contains(port) else { return nil }
        guard let dst = names.lookup(host, port: port) else { return nil }
        return (dst, via.transportIs("UDP") ? "udp" : via.transport.lowercased())
    }
}

/// Counters shown as core statistics.
final class SIPCounters: Sendable {
    let requests = Atomic<Int>(0)
    let replies = Atomic<Int>(0)
    let bad = Atomic<Int>(0)
    let forwarded = Atomic<Int>(0)
    let relayedReplies = Atomic<Int>(0)
    let sentReplies = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)
}
