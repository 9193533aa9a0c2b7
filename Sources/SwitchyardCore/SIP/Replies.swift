import Foundation
import SwitchyardSIP

/// Stateless replies made by the core: sl_send_reply through the host table, and 400 for
/// requests that cannot be parsed.
extension SIPCore {
    /// Answers the context's request. 1 sent, -1 no request, -2 not sent.
    func reply(_ ctx: ScriptContext, code: Int, reason: String, extraHeaders: String = "") -> Int {
        guard let msg = ctx.message.sip, msg.isRequest, let origin = ctx.message.origin else { return -1 }
        // Headers the script added to the request (e.g. Max-Forwards) are not the reply's.
        let r = reply(to: msg, origin: origin, code: code, reason: reason, extraHeaders: extraHeaders)
        if r == 1 { ctx.message.handled = true }
        return r
    }

    /// Answers a request statelessly. 1 sent, -1 not answerable (ACK, bad code), -2 not sent.
    func reply(to msg: SIPMessage, origin: SIPOrigin, code: Int, reason: String, extraHeaders: String) -> Int {
        guard (100...699).contains(code) else { log.error("sl_send_reply: bad code \(code)"); return -1 }
        if msg.methodIs("ACK") { return -1 }  // ACKs get no reply
        guard let top = (try? msg.vias())?.first else { return -2 }
        var toTag: String? = nil
        if code >= 180 && msg.toTag == nil { toTag = localTag(msg) }  // as OpenSIPS: no tag on 100-179
        let out = MessageWriter.statelessReply(to: msg, code: code, reason: reason, topVia: top,
                                               topViaText: MessageWriter.viaWithSource(msg, top, origin.source),
                                               toTag: toTag, extraHeaders: extraHeaders, server: serverHeader)
        guard send(reply: out, to: top, origin: origin) else { return -2 }
        counters.sentReplies.add(1, ordering: .relaxed)
        return 1
    }

    /// Sends a reply back to a request's sender: the same connection on streams; on datagrams the
    /// source address, at the rport or the Via port (RFC 3261 18.2.2, RFC 3581).
    func send(reply: [UInt8], to via: SIPVia, origin: SIPOrigin) -> Bool {
        if origin.socket.proto.isStream {
            return origin.socket.send(conn: origin.conn, to: origin.source, reply)
        }
        var dst = origin.source
        if !via.hasRport, let a = SocketAddress(ip: origin.source.ip, port: via.port ?? 5060) { dst = a }
        return origin.socket.send(conn: 0, to: dst, reply)
    }

    /// A To tag stable for a given request (retransmissions get the same one).
    func localTag(_ msg: SIPMessage) -> String {
        var h: UInt64 = 0x84222325cbf29ce4 ^ secret
        for s in [msg.callID ?? "", msg.fromTag ?? "", String(msg.cseqNumber ?? 0)] {
            for c in s.utf8 { h = (h ^ UInt64(c)) &* 0x100000001b3 }
        }
        return String(h, radix: 16)
    }
}

/// 400 Bad Request for a datagram that looks like a request but does not parse (RFC 4475 asks a
/// server to answer where it can): the Via/From/To/Call-ID/CSeq lines are copied as found.
enum BadRequest {
    static func answer(_ bytes: [UInt8], reason: String, origin: SIPOrigin, core: SIPCore) {
        guard bytes.count > 8 else { return }
        let text = String(decoding: bytes.prefix(8192), as: UTF8.self)
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" }).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }
        guard let first = lines.first(where: { !$0.isEmpty }), !first.uppercased().hasPrefix("SIP/"),
              !first.hasPrefix("ACK ") else { return }
        var copied: [String] = []
        var hasVia = false
        for l in lines.dropFirst() {
            if l.isEmpty { break }
            guard let colon = l.firstIndex(of: ":") else { continue }
            let name = l[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            if ["via", "v"].contains(name) { hasVia = true }
            if ["via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"].contains(name) { copied.append(l) }
        }
        guard hasVia else { return }
        var out = "SIP/2.0 400 Bad Request\r\n"
        for l in copied { out += l + "\r\n" }
        if let s = core.serverHeader { out += s + "\r\n" }
        out += "Warning: 399 switchyard \"\(reason.replacingOccurrences(of: "\"", with: "'"))\"\r\nContent-Length: 0\r\n\r\n"
        _ = origin.socket.send(conn: origin.conn, to: origin.source, Array(out.utf8))
    }
}
