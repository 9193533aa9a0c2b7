/// What sending a request asks of the blacklists and the resolver: the addresses of a destination in failover order,
/// whether the message's lists block one, and learning a failed one into the `dns` list.
extension SIPCore {
    /// How long a destination that failed stays in the `dns` list (OpenSIPS's DNS blacklist expiry).
    static let dnsBlacklistSeconds = 240

    /// The addresses of a destination: a numeric IP is itself (parsed once per worker for a fixed $du), a name
    /// gives every address it resolves to (NAPTR, SRV, A: SIPResolver), in the order failover tries them. A name is
    /// resolved once per message: the list stays with the message (and the copies tm saves for a failover), so the
    /// next address is the next of the same list even when the name cache has a newer answer, and no lookup runs on
    /// tm's timer thread.
    func destinations(_ ctx: ScriptContext, _ t: SIPTarget) -> DestinationAddresses {
        if let a = lookupNumeric(ctx, t.host, port: t.port) { return DestinationAddresses(single: a) }
        // A URI naming no transport is resolved with the forced socket's (OpenSIPS's uri2dst: SRV of that transport,
        // no NAPTR).
        let proto = t.protoGiven ? t.proto : ctx.message.forcedSocket?.proto.name
        if let r = ctx.message.resolvedName, r.target == t, r.proto == proto {
            return DestinationAddresses(list: r.addresses, protos: r.protos)
        }
        let list = names.resolveSIP(t.host, port: t.portGiven ? t.port : nil, proto: proto, secure: t.secure)
        let addresses = list.map(\.address)
        // The transport of each address is the URI's unless NAPTR (or the forced socket) chose another: kept only then.
        let protos: [String]? = list.contains { $0.proto != t.proto } ? list.map(\.proto) : nil
        if !list.isEmpty {
            ctx.message.resolvedName = ResolvedName(target: t, proto: proto, addresses: addresses, protos: protos)
        }
        return DestinationAddresses(list: addresses, protos: protos)
    }

    /// The name of the list that blocks sending `request` to `dst`, or nil. Nothing is done while the message has no
    /// list selected (the usual case: no dst_blacklist, DNS blacklisting off).
    func blacklisted(_ ctx: ScriptContext, _ dst: SocketAddress, proto: String, request: [UInt8]) -> String? {
        request.withUnsafeBufferPointer { blacklisted(ctx, dst, proto: proto, request: $0) }
    }

    /// `blacklisted` for request bytes lent for the call (the request text is made only for a rule that reads it).
    func blacklisted(_ ctx: ScriptContext, _ dst: SocketAddress, proto: String, request: UnsafeBufferPointer<UInt8>) -> String? {
        let lists = ctx.engine.blacklists
        let mask = lists.withRules(ctx.message.blacklistMask ?? lists.defaultMask)
        guard mask != 0, let ip = IPBytes(dst) else { return nil }
        return lists.blocks(mask: mask, ip: ip, port: dst.port, proto: proto,
                                            text: { String(decoding: request, as: UTF8.self) })
    }

    /// A destination that failed goes into the `dns` list for a while, when DNS blacklisting is on.
    func learnFailed(_ ctx: ScriptContext, _ dst: SocketAddress, proto: String) {
        learnFailed(ctx.engine, dst, proto: proto)
    }

    func learnFailed(_ engine: ScriptEngine, _ dst: SocketAddress, proto: String) {
        guard !engine.dnsBlacklistDisabled, let net = IPNetwork(dst.ip) else { return }
        let rule = BlacklistRule(proto: proto, network: net, port: dst.port)
        _ = engine.blacklists.add(list: "dns", rule: rule, expire: Self.dnsBlacklistSeconds)
    }
}

/// A destination's addresses in failover order: an IP literal (the usual $du) is held inline, so sending to it builds
/// no array.
struct DestinationAddresses: RandomAccessCollection {
    private let single: SocketAddress?
    private let list: [SocketAddress]
    /// Each address's transport when a NAPTR record chose one other than the URI's (nil: the URI's for all).
    private let protos: [String]?

    init(single: SocketAddress) { self.single = single; list = []; protos = nil }
    init(list: [SocketAddress], protos: [String]? = nil) { single = nil; self.list = list; self.protos = protos }

    /// The transport to reach address i over.
    func proto(_ i: Int, or uriProto: String) -> String { protos?[i] ?? uriProto }

    var startIndex: Int { 0 }
    var endIndex: Int { single == nil ? list.count : 1 }
    subscript(i: Int) -> SocketAddress { single ?? list[i] }
}

/// A destination name's addresses as first resolved for a message.
struct ResolvedName: Sendable {
    let target: SIPTarget
    /// The transport it was resolved for (nil: none, NAPTR chose).
    let proto: String?
    let addresses: [SocketAddress]
    let protos: [String]?
}
