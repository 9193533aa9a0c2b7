import Foundation
import SwitchyardSIP

/// Stateless replies made by the core: sl_send_reply through the host table, and 400 for
/// requests that cannot be parsed.
extension SIPCore {
    /// Answers the context's request. 1 sent, -1 no request, -2 not sent.
    func reply(_ ctx: ScriptContext, code: Int, reason: String, extraHeaders: String = "") -> Int {
        guard let msg = ctx.message.sip, msg.isRequest, let origin = ctx.message.origin else { return -1 }
        // Headers the script added to the request (e.g. Max-Forwards) are not the reply's.
        let r = reply(to: msg, origin: origin, code: code, reason: reason, extraHeaders: extraHeaders,
                      forceRport: ctx.message.via.forceRport)
        if r == 1 { ctx.message.handled = true }
        return r
    }

    /// Answers a request statelessly. 1 sent, -1 not answerable (ACK, bad code), -2 not sent.
    func reply(to msg: SIPMessage, origin: SIPOrigin, code: Int, reason: String, extraHeaders: String,
               forceRport: Bool = false) -> Int {
        guard (100...699).contains(code) else { log.error("sl_send_reply: bad code \(code)"); return -1 }
        if msg.methodIs("ACK") { return -1 }  // ACKs get no reply
        guard let top = (try? msg.vias())?.first else { return -2 }
        var toTag: String? = nil
        if code >= 180 && msg.toTag == nil { toTag = localTag(msg) }  // as OpenSIPS: no tag on 100-179
        let viaText = MessageWriter.viaWithSource(msg, top, origin.source, forceRport: forceRport, reply: true)
        let sent = output.with { out -> Bool in
            MessageWriter.statelessReply(into: &out, to: msg, code: code, reason: reason, topVia: top, topViaText: viaText,
                                         toTag: toTag, extraHeaders: extraHeaders, server: serverHeader)
            return send(reply: out.bytes, to: top, origin: origin, forceRport: forceRport)
        }
        guard sent else { return -2 }
        counters.sentReplies.add(1, ordering: .relaxed)
        return 1
    }

    /// Sends a reply back to a request's sender: the same connection on streams; on datagrams the
    /// source address, at the rport or the Via port.
    func send(reply: UnsafeBufferPointer<UInt8>, to via: SIPVia, origin: SIPOrigin, forceRport: Bool = false) -> Bool {
        if origin.socket.proto.isStream {
            return origin.socket.send(conn: origin.conn, to: origin.source, reply)
        }
        var dst = origin.source
        if !via.hasRport && !forceRport, let a = SocketAddress(ip: origin.source.ip, port: via.port ?? 5060) { dst = a }
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

/// 400 Bad Request for a datagram that looks like a request but does not parse (a server answers where it can):
/// the Via/From/To/Call-ID/CSeq lines are copied as found.
/// Works on bytes: a Swift String would see "\r\n" as one Character and find no line at all.
enum BadRequest {
    static let copiedNames: Set<String> = ["via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"]

    /// The reply to send, or nil when the datagram names nowhere to answer (no Via) or is not a request.
    static func reply(to bytes: [UInt8], reason: String, server: String?) -> [UInt8]? {
        guard bytes.count > 8 else { return nil }
        let head = bytes.prefix(8192)
        var lines: [ArraySlice<UInt8>] = []
        var start = head.startIndex
        for i in head.indices where head[i] == 10 {
            var end = i
            if end > start, head[end - 1] == 13 { end -= 1 }
            lines.append(head[start..<end])
            start = i + 1
        }
        if start < head.endIndex { lines.append(head[start...]) }
        guard let firstIndex = lines.firstIndex(where: { !$0.isEmpty }) else { return nil }
        let first = lines[firstIndex]
        if first.count >= 4, String(decoding: first.prefix(4), as: UTF8.self).uppercased() == "SIP/" { return nil }
        if first.starts(with: Array("ACK ".utf8)) { return nil }  // an ACK gets no reply
        var copied: [ArraySlice<UInt8>] = []
        var hasVia = false
        for l in lines[(firstIndex + 1)...] {
            if l.isEmpty { break }
            guard let colon = l.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = String(decoding: l[..<colon], as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased()
            guard copiedNames.contains(name) else { continue }
            if name == "via" || name == "v" { hasVia = true }
            copied.append(l)
        }
        guard hasVia else { return nil }
        var out = Array("SIP/2.0 400 Bad Request\r\n".utf8)
        for l in copied {
            out.append(contentsOf: l.filter { $0 != 0 })  // a NUL is never sent back
            out.append(contentsOf: [13, 10])
        }
        if let s = server { out.append(contentsOf: Array((s + "\r\n").utf8)) }
        let warning = reason.replacingOccurrences(of: "\"", with: "'")
        out.append(contentsOf: Array("Warning: 399 switchyard \"\(warning)\"\r\nContent-Length: 0\r\n\r\n".utf8))
        return out
    }

    static func answer(_ bytes: [UInt8], reason: String, origin: SIPOrigin, core: SIPCore) {
        guard let out = reply(to: bytes, reason: reason, server: core.serverHeader) else { return }
        _ = origin.socket.send(conn: origin.conn, to: origin.source, out)
    }
}
