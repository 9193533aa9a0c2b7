import SwitchyardSIP

/// forward(): stateless relay of the request a route runs on.
extension SIPCore {
    /// Sends the context's request to `dest` (`[proto:]host[:port]` or a SIP URI), else to $du,
    /// else to the request-URI. Returns 1 sent, -1 on failure (logged).
    func forward(_ ctx: ScriptContext, dest: String?) -> Int {
        guard let msg = ctx.message.sip, let origin = ctx.message.origin else {
            log.error("forward(): no SIP message to forward in \(ctx.routeType.keyword)")
            return -1
        }
        if !msg.isRequest {
            // forward() in onreply_route: the reply is relayed by Via anyway.
            guard let vias = try? msg.vias(), !vias.isEmpty else { return -1 }
            relay(msg, vias: vias, edits: ctx.message.edits)
            ctx.message.handled = true
            return 1
        }
        guard let t = target(ctx, dest: dest) else { return -1 }
        let addresses = destinations(ctx, t)
        guard !addresses.isEmpty else {
            log.error("forward(): cannot resolve \(t.host)")
            return -1
        }
        guard let topVia = (try? msg.vias())?.first else {
            log.error("forward(): request without a usable Via")
            return -1
        }
        // DNS failover: a blacklisted address, one with no socket to send from, or a failed send moves on to the
        // name's next address (unless disable_dns_failover).
        var sent = false
        for index in 0..<(ctx.engine.dnsFailoverDisabled ? 1 : addresses.count) {
            let dst = addresses[index]
            let proto = addresses.proto(index, or: t.proto)
            var forced = ctx.message.forcedSocket
            if let f = forced, f.proto.name != proto || !(f.address.family == dst.family || f.address.isAny) {
                // OpenSIPS: a forced socket of another protocol or address family is not used (warned once per socket).
                if !f.mismatchWarned.exchange(true, ordering: .relaxed) {
                    log.write(LogLevels.warn, module: "core", "forward(): forced socket \(f.name) cannot send \(proto) to \(dst.text), ignored (logged once for this socket)")
                }
                forced = nil
            }
            guard let socket = forced ?? socket(proto: proto, family: dst.family, prefer: origin.socket) else {
                log.error("forward(): no \(proto) socket to send to \(dst.text)")
                continue
            }
            let topText = MessageWriter.viaWithSource(msg, topVia, origin.source, forceRport: ctx.message.via.forceRport)
            let newRURI = ctx.message.requestURIChanged ? ctx.message.requestURI?.text : nil
            let branch = MessageWriter.Branch.stateless(branchHash(msg, topVia))
            var blocked: String? = nil
            sent = output.with { out -> Bool in
                MessageWriter.forwardedRequest(into: &out, msg, newRURI: newRURI, viaPrefix: viaPrefix(socket, ctx.message.via),
                                               branch: branch, topVia: topVia, topViaText: topText, edits: ctx.message.edits,
                                               viaSuffix: ctx.message.via.addLocalRport ? ";rport" : "", stream: proto != "udp")
                blocked = blacklisted(ctx, dst, proto: proto, request: out.bytes)
                if blocked != nil { return false }
                return socket.send(conn: 0, to: dst, out.bytes)
            }
            if let blocked {
                // Per message, as OpenSIPS: debug only.
                log.write(LogLevels.debug, module: "core", "forward(): destination \(proto):\(dst.text) is blacklisted by '\(blocked)'")
                continue
            }
            if sent { break }
            log.error("forward(): sending to \(proto):\(dst.text) failed")
            learnFailed(ctx, dst, proto: proto)
        }
        guard sent else { return -1 }
        counters.forwarded.add(1, ordering: .relaxed)
        ctx.message.handled = true
        return 1
    }

    /// The address of a destination host: a numeric IP is parsed once per worker for as long as routes send to the
    /// same one (every forward of a fixed $du), a name goes through the name cache.
    func lookup(_ ctx: ScriptContext, _ host: String, port: Int) -> SocketAddress? {
        lookupNumeric(ctx, host, port: port) ?? names.lookup(host, port: port)
    }

    /// A numeric IP's address (nil for a name), remembered on the worker.
    func lookupNumeric(_ ctx: ScriptContext, _ host: String, port: Int) -> SocketAddress? {
        if ctx.addressMemoPort == port, ctx.addressMemoHost == host, let a = ctx.addressMemo { return a }
        guard let a = SocketAddress(ip: host, port: port) else { return nil }
        ctx.addressMemoHost = host
        ctx.addressMemoPort = port
        ctx.addressMemo = a
        return a
    }

    /// Host, port and transport to send to. The last URI parsed on the worker is remembered with its answer: routes
    /// mostly send every request to the same `$du`.
    func target(_ ctx: ScriptContext, dest: String?) -> SIPTarget? {
        let key = (dest?.isEmpty ?? true) ? ctx.message.destinationURI : dest
        if let k = key, !k.isEmpty, ctx.targetMemoText == k, let t = ctx.targetMemo { return t }
        let t = parseTarget(ctx, dest: dest)
        if let k = key, !k.isEmpty, let t {
            ctx.targetMemoText = k
            ctx.targetMemo = t
        }
        return t
    }

    private func parseTarget(_ ctx: ScriptContext, dest: String?) -> SIPTarget? {
        var uriText: String? = nil
        if let d = dest, !d.isEmpty {
            if d.lowercased().hasPrefix("sip:") || d.lowercased().hasPrefix("sips:") {
                uriText = d
            } else {
                do {
                    let spec = try SocketSpec.parseAddress(d, protoAllowed: true)
                    let protoGiven = d.lowercased().hasPrefix(spec.proto + ":")
                    return SIPTarget(host: spec.host, port: spec.port ?? SIPResolver.defaultPort(spec.proto, secure: false),
                                     proto: spec.proto, portGiven: spec.port != nil, protoGiven: protoGiven, secure: false)
                } catch {
                    log.error("forward(\"\(d)\"): \(error.message)")
                    return nil
                }
            }
        } else if let du = ctx.message.destinationURI, !du.isEmpty {
            uriText = du
        }
        let uri: SIPURI
        if let t = uriText {
            guard let u = SIPURI(t) else { log.error("forward(): bad destination URI '\(t)'"); return nil }
            uri = u
        } else {
            guard let u = ctx.message.requestURI else { log.error("forward(): no request-URI"); return nil }
            uri = u
        }
        guard !uri.host.isEmpty else { log.error("forward(): URI '\(uri.text)' has no host"); return nil }
        let secure = uri.scheme.lowercased() == "sips"
        let transport = uri.param("transport")?.lowercased()
        let proto = transport ?? (secure ? "tls" : "udp")
        let given = Int(uri.port)
        let port = given ?? SIPResolver.defaultPort(proto, secure: secure)
        guard (1...65535).contains(port) else { log.error("forward(): bad port in '\(uri.text)'"); return nil }
        let host = uri.host.hasPrefix("[") ? String(uri.host.dropFirst().dropLast()) : uri.host
        return SIPTarget(host: uri.param("maddr") ?? host, port: port, proto: proto, portGiven: given != nil,
                         protoGiven: transport != nil, secure: secure)
    }

    /// The hash behind a stateless branch ("z9hG4bKsy" and this number in hex, MessageWriter.Branch.stateless): the
    /// same for a retransmission (and for the CANCEL of an INVITE), derived from the received branch when it is
    /// RFC 3261's, else from the transaction's identifying headers.
    func branchHash(_ msg: SIPMessage, _ top: SIPVia) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325 ^ secret
        @inline(__always) func mix(_ s: String) {
            for c in s.utf8 { h = (h ^ UInt64(c)) &* 0x100000001b3 }
            h = (h ^ 0xff) &* 0x100000001b3
        }
        if let r = top.branchRange, SIPVia.hasPrefix(msg.bytes, r, "z9hG4bK") {
            // The ACK of a non-2xx reply keeps the INVITE's branch, so it gets the INVITE's
            // outgoing branch too; the ACK of a 2xx arrives with a branch of its own. Mixed from the bytes: no string.
            msg.bytes.withUnsafeBufferPointer { b in
                for i in r { h = (h ^ UInt64(b[i])) &* 0x100000001b3 }
            }
            h = (h ^ 0xff) &* 0x100000001b3
        } else {
            mix(msg.callID ?? ""); mix(msg.fromTag ?? ""); mix(String(msg.cseqNumber ?? 0))
            mix(msg.requestURIText ?? ""); mix(top.host)
        }
        return h
    }
}

/// Where a request goes, as its destination URI says: host (maddr's when it has one), port (the transport's default
/// when the URI gives none: `portGiven` false, and a name is then looked up SRV), transport (`protoGiven` false when
/// the URI names none: NAPTR may choose it), and whether it is a sips URI.
struct SIPTarget: Sendable, Equatable {
    var host: String
    var port: Int
    var proto: String
    var portGiven: Bool
    var protoGiven: Bool
    var secure: Bool
}
