import Foundation
import SwitchyardSIP

/// `$ru_q`: the request-URI branch's q value in thousandths, -1 when unset (OpenSIPS's Q_UNSPECIFIED); writable
/// with an integer, NULL unsets it. @unchecked Sendable: it has no state; the message it reads and writes belongs to
/// the calling context (one thread).
final class RURIQPV: PVAccessor, @unchecked Sendable {
    override var writable: Bool { true }
    override func get(_ ctx: ScriptContext) -> Value { .int(ctx.message.ruriQ ?? -1) }
    override func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool {
        if value.isNull {
            ctx.message.ruriQ = nil
            return true
        }
        guard let q = value.intForm else {
            ctx.engine.log.error("$ru_q: an integer value is required, got \(value.printed)")
            return false
        }
        ctx.message.ruriQ = q
        return true
    }
}

/// `$hdr_name`: the names of the message's headers in order, as written; `$(hdr_name[n])` the n-th (negative from
/// the last), `[*]` all of them. @unchecked Sendable: it has no state (it only reads the calling context's message).
final class HeaderNamePV: PVAccessor, @unchecked Sendable {
    override var supportsIndex: Bool { true }
    override func get(_ ctx: ScriptContext) -> Value { get(ctx, index: 0) }
    override func get(_ ctx: ScriptContext, index: Int) -> Value {
        guard let m = ctx.message.sip else { return .null }
        let i = index >= 0 ? index : m.fields.count + index
        return i >= 0 && i < m.fields.count ? .str(m.name(of: m.fields[i])) : .null
    }
    override func all(_ ctx: ScriptContext) -> [Value] {
        guard let m = ctx.message.sip else { return [] }
        return m.fields.map { .str(m.name(of: $0)) }
    }
}

/// Message and process variables beside MessagePVs': `$mi $oP $Au $ru_q $hdr_name $socket_out $argv(name)`.
enum MoreMessagePVs {
    static func classes() -> [PVClass] {
        var list: [PVClass] = []
        func add(_ name: String, needsInner: Bool = false, _ make: @escaping @Sendable (String?, ScriptEngine) throws(PVResolveError) -> PVAccessor) {
            list.append(PVClass(name: name, needsInner: needsInner, make: make))
        }
        // `$mi`: a number for the message being handled, the same for every read while it is handled; each new
        // message a worker numbers gets the next one. The dummy request of startup/timer/event routes is 0.
        add("mi") { _, _ in
            ComputedPV { ctx in
                guard let m = ctx.message.sip, !ctx.onDummyRequest else { return .int(0) }
                let w = ctx.worker
                if w.numberedMessage !== m {
                    w.messageNumber += 1
                    w.numberedMessage = m
                }
                return .int(w.messageNumber)
            }
        }
        // `$oP`: the transport of the request-URI as received: its transport parameter, else "udp".
        add("oP") { _, _ in
            ComputedPV { ctx in
                guard let t = ctx.message.sip?.requestURIText, let u = SIPURI(t) else { return .null }
                return .str(u.param("transport") ?? "udp")
            }
        }
        // `$Au`: the user to account a request to: the credentials' user ($au) when the request has some, else
        // "user@domain" of the From URI.
        add("Au") { _, _ in
            ComputedPV { ctx in
                guard let m = ctx.message.sip else { return .null }
                if let c = DigestCredentials.of(m), let user = c.params["username"] {
                    return .str(user.firstIndex(of: "@").map { String(user[..<$0]) } ?? user)
                }
                guard let f = m.fromURI, let u = SIPURI(f) else { return .null }
                return .str(u.user + "@" + u.host)
            }
        }
        add("ru_q") { _, _ in RURIQPV() }
        add("hdr_name") { _, _ in HeaderNamePV() }
        // `$socket_out`: the forced send socket, as `$fs` (writable the same way); `$socket_out(field)` reads one of
        // its fields, null when none is forced.
        add("socket_out") { inner, _ throws(PVResolveError) in
            guard let field = inner?.trimmingCharacters(in: .whitespaces).lowercased(), !field.isEmpty else { return ForcedSocketPV() }
            let get: @Sendable (SIPSocket) -> Value
            switch field {
            case "ip": get = { .str($0.address.ip) }
            case "port": get = { .int($0.address.port) }
            case "proto": get = { .str($0.proto.name) }
            case "name": get = { .str($0.name) }
            case "af": get = { .str($0.address.family == AF_INET6 ? "INET6" : "INET") }
            case "advertised_ip": get = { s in s.spec.advertisedHost.map { .str($0) } ?? .null }
            case "advertised_port": get = { s in s.spec.advertisedPort.map { .int($0) } ?? .null }
            default: throw PVResolveError("$socket_out(\(field)): unknown field (ip, port, proto, name, af, advertised_ip, advertised_port)")
            }
            return ComputedPV { ctx in ctx.message.forcedSocket.map { get($0) } ?? .null }
        }
        // `$argv(name)`: the value of `-o name=value` on the command line, null when not given.
        add("argv", needsInner: true) { inner, engine in
            let value = engine.argv[inner!.trimmingCharacters(in: .whitespaces)]
            return ComputedPV { _ in value.map { .str($0) } ?? .null }
        }
        return list
    }
}
