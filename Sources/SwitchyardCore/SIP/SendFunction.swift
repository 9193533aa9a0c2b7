/// send(dest[, headers]): the message as received, sent statelessly to `[proto:]host[:port]` (no Via of ours, no
/// script changes), `headers` (raw lines with their CRLF) inserted after the first line.
extension SIPCore {
    func send(_ ctx: ScriptContext, dest: String, headers: String?) -> Int {
        guard let msg = ctx.message.sip, let origin = ctx.message.origin else {
            log.error("send(): no SIP message to send in \(ctx.routeType.keyword)")
            return -1
        }
        let spec: SocketSpec
        do { spec = try SocketSpec.parseAddress(dest, protoAllowed: true) } catch {
            log.error("send(\"\(dest)\"): \(error.message)")
            return -1
        }
        guard let dst = lookup(ctx, spec.host, port: spec.port ?? 5060) else {
            log.error("send(): cannot resolve \(spec.host)")
            return -1
        }
        guard let socket = socket(proto: spec.proto, family: dst.family, prefer: origin.socket) else {
            log.error("send(): no \(spec.proto) socket to send to \(dst.text)")
            return -1
        }
        var out = msg.bytes
        if let h = headers, !h.isEmpty { out.insert(contentsOf: Array(h.utf8), at: msg.headersStart) }
        guard socket.send(conn: 0, to: dst, out) else {
            log.error("send(): sending to \(spec.proto):\(dst.text) failed")
            return -1
        }
        return 1
    }
}
