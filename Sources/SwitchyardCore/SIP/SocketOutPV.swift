import Foundation

/// The fields of a listening socket as `$socket_in(field)` and `$socket_out(field)` read them (OpenSIPS's
/// get_socket_field): `ip port proto advertised_ip advertised_port tag anycast af`. A field the socket does not have
/// (no advertised address, no tag) is null; `anycast` is 1 or 0.
enum SocketFields {
    static let names = ["ip", "port", "proto", "advertised_ip", "advertised_port", "tag", "anycast", "af"]

    /// The getter of a field named in any case; nil for an unknown name.
    static func getter(_ field: String) -> (@Sendable (SIPSocket) -> Value)? {
        switch field.lowercased() {
        case "ip": return { .str($0.address.ip) }
        case "port": return { .int($0.address.port) }
        case "proto": return { .str($0.proto.name) }
        case "advertised_ip": return { s in s.spec.advertisedHost.map { .str($0) } ?? .null }
        case "advertised_port": return { s in s.spec.advertisedPort.map { .int($0) } ?? .null }
        case "tag": return { s in s.spec.tag.map { .str($0) } ?? .null }
        case "anycast": return { .int($0.spec.anycast ? 1 : 0) }
        case "af": return { .str($0.address.family == AF_INET6 ? "INET6" : "INET") }
        default: return nil
        }
    }
}

/// `$socket_out`: the socket a request is sent from: the forced one (`$fs`, force_send_socket()) or else the one it
/// came in on, as `proto:ip:port`; null on the dummy request of startup, timer and event routes. Written as `$fs`.
/// `$socket_out(field)` reads one of its fields (SocketFields), and `$socket_out(forced)` the forced socket alone,
/// null when none is forced (pv_get_socket_out_fields).
///
/// @unchecked Sendable: its state is `let`s; the message it reads and writes belongs to the calling context.
final class SocketOutPV: PVAccessor, @unchecked Sendable {
    let field: (@Sendable (SIPSocket) -> Value)?
    let writer = ForcedSocketPV()
    init(field: (@Sendable (SIPSocket) -> Value)?) { self.field = field }

    override var writable: Bool { field == nil }

    override func get(_ ctx: ScriptContext) -> Value {
        guard let socket = ctx.message.forcedSocket ?? ctx.message.origin?.socket else { return .null }
        return field.map { $0(socket) } ?? .str(socket.name)
    }

    override func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool { writer.set(ctx, op, value) }

    static let cls = PVClass(name: "socket_out", needsInner: false) { inner, _ throws(PVResolveError) in
        guard let name = inner?.trimmingCharacters(in: .whitespaces), !name.isEmpty else { return SocketOutPV(field: nil) }
        if name.lowercased() == "forced" {
            return ComputedPV { ctx in ctx.message.forcedSocket.map { .str($0.name) } ?? .null }
        }
        guard let get = SocketFields.getter(name) else {
            throw PVResolveError("$socket_out(\(name)): unknown field (\((SocketFields.names + ["forced"]).joined(separator: ", ")))")
        }
        return SocketOutPV(field: get)
    }
}
