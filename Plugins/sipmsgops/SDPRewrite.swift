// SDP rewrites: codec_delete, codec_delete_re, codec_delete_except_re, codec_move_up, codec_move_down (and their _re
// forms), stream_delete. They work on an application/sdp body as the earlier functions left it and send the result
// as the new body (the core fixes Content-Length). Deleting every codec of a stream disables it, as OpenSIPS: its port
// becomes 0 and its m= line keeps no format (`m=audio 0 RTP/AVP`); later codec calls leave such a stream alone.
// The body is read as Latin-1 (one character per byte) and written back the same way, so the bytes of the lines not
// edited go out exactly as received, UTF-8 or not (an `s=` line in Latin-1, binary junk), as OpenSIPS's lumps.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardPluginKit

/// An SDP as lines (without their endings), written back with the ending the body used.
struct SDPLines {
    var lines: [Substring]
    let ending: String
    let trailing: Bool

    init(_ body: String) {
        ending = body.contains("\r\n") ? "\r\n" : "\n"
        // "\r\n" is one Character to Swift: split on it and on a bare "\n".
        var l = body.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\r\n" || $0 == "\n" })
        trailing = l.last == ""
        if trailing { l.removeLast() }
        lines = l
    }

    var text: String { lines.joined(separator: ending) + (trailing ? ending : "") }

    /// The SDP's bytes: each character back to the byte it was read from (edits add only ASCII).
    var bytes: [UInt8] { text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) } }

    /// Bytes as Latin-1 text: one character per byte, none replaced.
    static func latin1(_ bytes: some Collection<UInt8>) -> String {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }

    /// The line ranges of each m= section (its m= line up to the next one).
    var streams: [Range<Int>] {
        let starts = lines.indices.filter { lines[$0].hasPrefix("m=") }
        return starts.enumerated().map { k, s in s..<(k + 1 < starts.count ? starts[k + 1] : lines.count) }
    }
}

extension SipMsgOps {
    enum CodecOp { case delete, moveUp, moveDown }

    /// The application/sdp body as it stands (as Latin-1, see SDPLines.bytes), or nil when the message has none.
    func currentSDP(_ ctx: SYContext) -> String? {
        guard let type = currentType(ctx), SipMsgOps.mediaType(type).0 == "application/sdp",
              let body = host.sipBody(ctx), !body.isEmpty else { return nil }
        return SDPLines.latin1(body)
    }

    /// Applies `op` to every payload whose codec (name, clock) `matches`, in every stream. 1 when a codec matched, -1
    /// otherwise.
    func codecRewrite(_ call: FunctionCall, _ fn: String, _ op: CodecOp, _ matches: (String, String?) -> Bool) -> Int32 {
        guard host.canRewrite else {
            host.log(.err, "\(fn): this core cannot rewrite messages (needs ABI 1.16)")
            return -1
        }
        guard let body = currentSDP(call.context) else { return -1 }
        var sdp = SDPLines(body)
        var found = false
        var drop = Set<Int>()
        for s in sdp.streams {
            let m = sdp.lines[s.lowerBound].dropFirst(2).split(separator: " ", omittingEmptySubsequences: true)
            guard m.count > 3 else { continue }
            let formats = m[3...].map(String.init)
            // The rtpmap lines of the stream: payload -> (name, clock, line index).
            var rtpmap: [String: (name: String, clock: String?)] = [:]
            for i in s where sdp.lines[i].hasPrefix("a=rtpmap:") {
                let spec = sdp.lines[i].dropFirst(9).split(separator: " ", maxSplits: 1)
                guard spec.count == 2 else { continue }
                let enc = spec[1].split(separator: "/")
                guard let name = enc.first else { continue }
                rtpmap[String(spec[0])] = (String(name), enc.count > 1 ? String(enc[1]) : nil)
            }
            let hit = formats.filter { p in
                if let c = rtpmap[p] { return matches(c.name, c.clock) }
                if let c = SipMsgOps.staticCodecs.first(where: { $0.payload == p }) { return matches(c.name, c.clock) }
                return false
            }
            if hit.isEmpty { continue }
            found = true
            let rest = formats.filter { !hit.contains($0) }
            let newFormats: [String]
            switch op {
            case .delete:
                newFormats = rest
                let gone = Set(hit)
                for i in s {
                    let l = sdp.lines[i]
                    for prefix in ["a=rtpmap:", "a=fmtp:"] where l.hasPrefix(prefix) {
                        let p = l.dropFirst(prefix.count).prefix { $0 != " " }
                        if gone.contains(String(p)) { drop.insert(i) }
                    }
                }
            case .moveUp: newFormats = hit + rest
            case .moveDown: newFormats = rest + hit
            }
            if newFormats.isEmpty {
                // Every payload deleted: the stream is disabled with port 0 (OpenSIPS's stream_process).
                sdp.lines[s.lowerBound] = Substring("m=\(m[0]) 0 \(m[2])")
                continue
            }
            sdp.lines[s.lowerBound] = Substring("m=" + m[0..<3].joined(separator: " ") + " " + newFormats.joined(separator: " "))
        }
        guard found else { return -1 }
        sdp.lines = sdp.lines.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
        return host.sipBodySet(call.context, sdp.bytes) ? 1 : -1
    }

    /// codec_delete(name[, clock]) and the move functions by name: case-insensitive name, clock compared when given.
    func codecByName(_ call: FunctionCall, _ fn: String, _ op: CodecOp) -> Int32 {
        let name = call.string(0)
        let clock: String? = call.isPresent(1) ? call.string(1) : nil
        return codecRewrite(call, fn, op) { n, c in
            Text.equalFold(Substring(n), name) && (clock == nil || (c.map { Text.equalFold(Substring($0), clock!) } ?? false))
        }
    }

    /// The _re forms: a POSIX extended expression (case ignored) on the codec name; `except` deletes what does not match.
    func codecByRegex(_ call: FunctionCall, _ fn: String, _ op: CodecOp, except: Bool = false) -> Int32 {
        withRegex(call, fn) { re in
            codecRewrite(call, fn, op) { n, _ in (regexec(&re, n, 0, nil, 0) == 0) != except }
        }
    }

    /// stream_delete(re): every stream whose media (audio, video, image ...) matches, from its m= line to the next.
    /// 1 when one was deleted, -1 otherwise.
    func streamDelete(_ call: FunctionCall) -> Int32 {
        guard host.canRewrite else {
            host.log(.err, "stream_delete: this core cannot rewrite messages (needs ABI 1.16)")
            return -1
        }
        guard let body = currentSDP(call.context) else { return -1 }
        var sdp = SDPLines(body)
        return withRegex(call, "stream_delete") { re in
            var drop = Set<Int>()
            for s in sdp.streams {
                let media = String(sdp.lines[s.lowerBound].dropFirst(2).prefix { $0 != " " })
                if regexec(&re, media, 0, nil, 0) == 0 { drop.formUnion(s) }
            }
            if drop.isEmpty { return -1 }
            sdp.lines = sdp.lines.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
            return host.sipBodySet(call.context, sdp.bytes) ? 1 : -1
        }
    }

    /// change_reply_status(code, reason): the relayed reply's status line. The class of a provisional or positive
    /// reply cannot change (as OpenSIPS). 1 done, -1 otherwise.
    func changeReplyStatus(_ call: FunctionCall) -> Int32 {
        let code = Int(call.int(0))
        guard (100...699).contains(code) else {
            host.log(.err, "change_reply_status: wrong status code: \(code)")
            return -1
        }
        guard let status = withInfo(call.context, { $0.is_request == 0 ? Int($0.status) : nil }) ?? nil else { return -1 }
        if (code < 300 || status < 300) && code / 100 != status / 100 {
            host.log(.err, "change_reply_status: the class of provisional or positive final replies cannot be changed")
            return -1
        }
        return host.sipStatusSet(call.context, code: code, reason: call.string(1)) == 0 ? 1 : -1
    }
}
