import Foundation
import SwitchyardSIP

/// `$hdr(name)`: a header body by name; `$(hdr(name)[n])` the n-th one, `[*]` all of them.
final class HeaderPV: PVAccessor, @unchecked Sendable {
    let name: String
    init(name: String) { self.name = name }
    override var supportsIndex: Bool { true }
    override func get(_ ctx: ScriptContext) -> Value {
        ctx.message.sip?.header(name).map { .str($0) } ?? .null
    }
    override func get(_ ctx: ScriptContext, index: Int) -> Value {
        guard let all = ctx.message.sip?.headers(name) else { return .null }
        let i = index >= 0 ? index : all.count + index
        return i >= 0 && i < all.count ? .str(all[i]) : .null
    }
    override func all(_ ctx: ScriptContext) -> [Value] {
        (ctx.message.sip?.headers(name) ?? []).map { .str($0) }
    }
}

/// `$fs`: the forced send socket as `proto:ip:port` (NULL when none); writable with a listening socket's
/// `[proto:]host[:port]`, or NULL to let forward() choose again.
final class ForcedSocketPV: PVAccessor, @unchecked Sendable {
    override var writable: Bool { true }
    override func get(_ ctx: ScriptContext) -> Value { ctx.message.forcedSocket.map { .str($0.name) } ?? .null }
    override func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool {
        if value.isNull {
            ctx.message.forcedSocket = nil
            return true
        }
        guard case .str(let text) = value else {
            ctx.engine.log.error("$fs: a socket is written as \"[proto:]host[:port]\", got \(value.printed)")
            return false
        }
        guard let socket = ctx.engine.sip?.findSocket(text) else {
            ctx.engine.log.error("$fs: <\(text)> is not a listening socket")
            return false
        }
        ctx.message.forcedSocket = socket
        return true
    }
}

/// The read-only pseudo-variables of a received message ($fu, $ci, $si, ...). On the dummy
/// message of event/timer/startup routes they are NULL.
enum MessagePVs {
    static func classes() -> [PVClass] {
        var list: [PVClass] = []
        func msgPV(_ names: [String], _ getter: @escaping @Sendable (SIPMessage, ScriptContext) -> Value) {
            for n in names {
                list.append(PVClass(name: n, needsInner: false) { _, _ in
                    ComputedPV { ctx in ctx.message.sip.map { getter($0, ctx) } ?? .null }
                })
            }
        }
        @Sendable func str(_ s: String?) -> Value { s.map { .str($0) } ?? .null }
        @Sendable func uriPart(_ uri: String?, _ part: (SIPURI) -> String) -> Value {
            guard let t = uri, let u = SIPURI(t) else { return .null }
            let s = part(u)
            return s.isEmpty ? .null : .str(s)
        }
        msgPV(["fu", "from.uri"]) { m, _ in str(m.fromURI) }
        msgPV(["fU"]) { m, _ in uriPart(m.fromURI) { $0.user } }
        msgPV(["fd"]) { m, _ in uriPart(m.fromURI) { $0.host } }
        msgPV(["fn"]) { m, _ in str(m.from.flatMap { $0.rawDisplay.isEmpty ? nil : $0.rawDisplay }) }
        msgPV(["ft"]) { m, _ in str(m.fromTag) }
        msgPV(["tu", "to.uri"]) { m, _ in str(m.toURI) }
        msgPV(["tU"]) { m, _ in uriPart(m.toURI) { $0.user } }
        msgPV(["td"]) { m, _ in uriPart(m.toURI) { $0.host } }
        msgPV(["tn"]) { m, _ in str(m.to.flatMap { $0.rawDisplay.isEmpty ? nil : $0.rawDisplay }) }
        msgPV(["tt"]) { m, _ in str(m.toTag) }
        msgPV(["ci"]) { m, _ in str(m.callID) }
        msgPV(["cs"]) { m, _ in m.cseqNumber.map { .int($0) } ?? .null }
        msgPV(["rm"]) { m, _ in str(m.isRequest ? m.method : m.cseqMethod) }
        msgPV(["rs"]) { m, _ in m.statusCode.map { .int($0) } ?? .null }
        msgPV(["rr"]) { m, _ in str(m.reason) }
        msgPV(["ua"]) { m, _ in str(m.field(.userAgent).map { m.value(of: $0) }) }
        msgPV(["ct"]) { m, _ in str(m.field(.contact).map { m.value(of: $0) }) }
        msgPV(["cT"]) { m, _ in str(m.field(.contentType).map { m.value(of: $0) }) }
        msgPV(["cl"]) { m, _ in .int(m.contentLength ?? m.bodyRange.count) }
        msgPV(["ml"]) { m, _ in .int(m.length) }
        msgPV(["mb"]) { m, _ in .str(String(decoding: m.bytes, as: UTF8.self)) }
        msgPV(["rb"]) { m, _ in m.bodyRange.isEmpty ? .null : .str(String(decoding: m.body, as: UTF8.self)) }
        msgPV(["ou"]) { m, _ in str(m.requestURIText) }
        msgPV(["oU"]) { m, _ in uriPart(m.requestURIText) { $0.user } }
        msgPV(["od"]) { m, _ in uriPart(m.requestURIText) { $0.host } }
        msgPV(["op"]) { m, _ in
            guard let u = m.requestURIText.flatMap({ SIPURI($0) }) else { return .null }
            return u.port.isEmpty ? .int(u.defaultPort) : Int(u.port).map { .int($0) } ?? .str(u.port)
        }
        // The dummy request of startup/timer/event routes has a zeroed IPv4 source, as OpenSIPS's.
        msgPV(["si", "src_ip"]) { _, ctx in ctx.onDummyRequest ? .str("0.0.0.0") : str(ctx.message.origin?.source.ip) }
        msgPV(["sp", "src_port"]) { _, ctx in ctx.onDummyRequest ? .int(0) : ctx.message.origin.map { .int($0.source.port) } ?? .null }
        msgPV(["Ri"]) { _, ctx in str(ctx.message.origin?.socket.address.ip) }
        msgPV(["Rp"]) { _, ctx in ctx.message.origin.map { .int($0.socket.address.port) } ?? .null }
        // OpenSIPS's dummy request has protocol 0, which $pr prints as "" (not null).
        msgPV(["pr", "proto"]) { _, ctx in ctx.onDummyRequest ? .str("") : str(ctx.message.origin?.socket.proto.name) }
        msgPV(["rP"]) { _, ctx in
            guard let u = ctx.message.requestURI else { return .null }
            return .str(u.param("transport") ?? u.defaultTransport)
        }
        // `$oP`: the transport of the request-URI as received: its transport parameter as written, else the scheme's.
        msgPV(["oP"]) { m, _ in
            guard let u = m.requestURIText.flatMap({ SIPURI($0) }) else { return .null }
            return .str(u.param("transport") ?? u.defaultTransport)
        }
        // `$mi`: the number the receiving worker gave the message (SIPMessage.number), the same in every route that
        // handles it (a transaction's failure_route reads the request's); the dummy request of startup, timer and
        // event routes is 0.
        list.append(PVClass(name: "mi", needsInner: false) { _, _ in ComputedPV { ctx in .int(Int(ctx.message.sip?.number ?? 0)) } })
        // $socket_in(field): the socket the message came in on (OpenSIPS's fields, plus name, via_host and via_port:
        // the socket as `proto:ip:port` and the address it puts in Via and Record-Route — the advertised one, or for
        // `*` a real address).
        list.append(PVClass(name: "socket_in", needsInner: true) { inner, _ throws(PVResolveError) in
            let field = inner!.trimmingCharacters(in: .whitespaces).lowercased()
            let get: @Sendable (SIPSocket) -> Value
            switch field {
            case "name": get = { .str($0.name) }
            case "via_host": get = { .str($0.viaHost) }
            case "via_port": get = { .int($0.viaPort) }
            default:
                guard let g = SocketFields.getter(field) else {
                    throw PVResolveError("$socket_in(\(field)): unknown field (\(SocketFields.names.joined(separator: ", ")), name, via_host, via_port)")
                }
                get = g
            }
            return ComputedPV { ctx in ctx.message.origin.map { get($0.socket) } ?? .null }
        })
        list.append(PVClass(name: "fs", needsInner: false) { _, _ in ForcedSocketPV() })
        list.append(PVClass(name: "hdr", needsInner: true) { inner, _ in HeaderPV(name: inner!.trimmingCharacters(in: .whitespaces)) })
        list.append(PVClass(name: "hdrcnt", needsInner: true) { inner, _ in
            let name = inner!.trimmingCharacters(in: .whitespaces)
            return ComputedPV { ctx in .int(ctx.message.sip?.fields(named: name).count ?? 0) }
        })
        return list
    }
}
