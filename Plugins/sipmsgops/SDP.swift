// Read-only SDP tests: codec_exists, codec_exists_re, stream_exists, is_audio_on_hold. The SDP is the body when it is
// application/sdp, or the application/sdp parts of a multipart body, as OpenSIPS's parser finds it.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardPluginKit

/// One m= section: media, transport, payload numbers, rtpmap codecs and its hold state (OpenSIPS: 0 none,
/// 1 c=0.0.0.0 (RFC 2543), 2 a=sendonly/inactive (RFC 3264)).
struct SDPStream: Sendable {
    var media = "", transport = ""
    /// The m= line's payload numbers: a set, as codec_exists looks each codec up (a datagram may list thousands).
    var payloads: Set<Substring> = []
    var codecs: [(payload: String, name: String, clock: String?)] = []
    var hold = 0
}

extension SipMsgOps {
    /// The IANA static payload types OpenSIPS knows by name (and T.38, named by its transport "t38").
    static let staticCodecs: [(payload: String, name: String, clock: String?)] = [
        ("0", "PCMU", "8000"), ("3", "GSM", "8000"), ("4", "G723", "8000"), ("5", "DVI4", "8000"), ("6", "DVI4", "16000"),
        ("7", "LPC", "8000"), ("8", "PCMA", "8000"), ("9", "G722", "8000"), ("10", "L16", "44100"), ("11", "L16", "44100"),
        ("12", "QCELP", "8000"), ("13", "CN", "8000"), ("14", "MPA", "90000"), ("15", "G728", "8000"),
        ("16", "DVI4", "11025"), ("17", "DVI4", "22050"), ("18", "G729", "8000"), ("25", "CelB", "8000"),
        ("26", "JPEG", "90000"), ("28", "nv", "90000"), ("31", "H261", "90000"), ("32", "MPV", "90000"),
        ("33", "MP2T", "90000"), ("34", "H263", "90000"), ("t38", "t38", ""),
    ]

    /// The streams of every SDP of the message; nil when it has none.
    func sdpStreams(_ ctx: SYContext) -> [SDPStream]? {
        guard let body = host.varString(ctx, v.body), !body.isEmpty, let type = host.varString(ctx, v.contentType) else { return nil }
        let (main, boundary) = SipMsgOps.mediaType(type)
        var sdps: [String] = []
        if main == "application/sdp" {
            sdps = [body]
        } else if main.hasPrefix("multipart/"), let boundary {
            sdps = SipMsgOps.parts(body, boundary: boundary).filter { $0.type == "application/sdp" }.map(\.body)
        }
        let streams = sdps.flatMap(SipMsgOps.parseSDP)
        return sdps.isEmpty ? nil : streams
    }

    /// The parts of a multipart body: type (text/plain when not given) and body.
    static func parts(_ body: String, boundary: String) -> [(type: String, body: String)] {
        var out: [(type: String, body: String)] = []
        for chunk in body.components(separatedBy: "--" + boundary).dropFirst() {
            if chunk.hasPrefix("--") { break }
            let lines = chunk.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\r\n" || $0 == "\n" })
            var type = "text/plain", i = 1
            while i < lines.count, !lines[i].isEmpty {
                if let colon = lines[i].firstIndex(of: ":"),
                   Text.equalFold(Text.trim(lines[i][..<colon]), "content-type") || Text.equalFold(Text.trim(lines[i][..<colon]), "c") {
                    type = mediaType(String(lines[i][lines[i].index(after: colon)...])).0
                }
                i += 1
            }
            out.append((type, lines.dropFirst(i + 1).joined(separator: "\r\n")))
        }
        return out
    }

    /// The m= sections of one SDP.
    static func parseSDP(_ sdp: String) -> [SDPStream] {
        var streams: [SDPStream] = []
        var sessionHold0 = false, streamHasC = false, streamHold0 = false
        func close() {
            guard var s = streams.popLast() else { return }
            if s.hold == 0 && (streamHasC ? streamHold0 : sessionHold0) { s.hold = 1 }
            streams.append(s)
        }
        for line in sdp.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" || $0 == "\r" }) {
            if line.hasPrefix("m=") {
                close()
                let f = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: true)
                var s = SDPStream()
                if f.count > 0 { s.media = String(f[0]) }
                if f.count > 2 { s.transport = String(f[2]) }
                if f.count > 3 { s.payloads = Set(f[3...]) }
                streams.append(s)
                streamHasC = false; streamHold0 = false
            } else if line.hasPrefix("c=") {
                let hold = line.split(separator: " ").last.map { $0 == "0.0.0.0" } ?? false
                if streams.isEmpty { sessionHold0 = hold } else { streamHasC = true; streamHold0 = hold }
            } else if line.hasPrefix("a="), !streams.isEmpty {
                let a = line.dropFirst(2)
                let lower = a.lowercased()
                if lower.hasPrefix("sendonly") || lower.hasPrefix("inactive") {
                    streams[streams.count - 1].hold = 2
                } else if lower.hasPrefix("rtpmap:") {
                    let spec = a.dropFirst(7).split(separator: " ", maxSplits: 1)
                    guard spec.count == 2 else { continue }
                    let enc = spec[1].split(separator: "/")
                    guard let name = enc.first else { continue }
                    streams[streams.count - 1].codecs.append((String(spec[0]), String(name), enc.count > 1 ? String(enc[1]) : nil))
                }
            }
        }
        close()
        return streams
    }

    /// codec_exists(name[, clock]): a codec of that name (case ignored) whose payload is listed on its m= line. As
    /// OpenSIPS, the clock only excludes codecs given without one: it is not compared.
    func codecExists(_ call: FunctionCall) -> Int32 {
        guard let streams = sdpStreams(call.context) else { return -1 }
        let name = call.string(0), withClock = call.isPresent(1)
        for s in streams {
            for c in [s.codecs, SipMsgOps.staticCodecs].joined() where Text.equalFold(Substring(c.name), name) {
                if withClock && c.clock == nil { continue }
                if s.payloads.contains(Substring(c.payload)) { return 1 }
            }
        }
        return -1
    }

    /// codec_exists_re(re): as codec_exists with a POSIX extended expression (case ignored) on the codec name.
    func codecExistsRegex(_ call: FunctionCall) -> Int32 {
        guard let streams = sdpStreams(call.context) else { return -1 }
        return withRegex(call, "codec_exists_re") { re in
            for s in streams {
                for c in [s.codecs, SipMsgOps.staticCodecs].joined() where s.payloads.contains(Substring(c.payload)) {
                    if regexec(&re, c.name, 0, nil, 0) == 0 { return 1 }
                }
            }
            return -1
        }
    }

    /// stream_exists(re): a stream whose media (audio, video, image ...) matches.
    func streamExists(_ call: FunctionCall) -> Int32 {
        guard let streams = sdpStreams(call.context) else { return -1 }
        return withRegex(call, "stream_exists") { re in
            streams.contains { regexec(&re, $0.media, 0, nil, 0) == 0 } ? 1 : -1
        }
    }

    /// is_audio_on_hold(): 1 (c=0.0.0.0) or 2 (a=sendonly / a=inactive) for the first audio stream on hold; -1 when
    /// none is.
    func isAudioOnHold(_ call: FunctionCall) -> Int32 {
        guard let streams = sdpStreams(call.context) else { return -1 }
        return streams.first { $0.media == "audio" && $0.hold != 0 }.map { Int32($0.hold) } ?? -1
    }

    /// Compiles argument 0 as OpenSIPS compiles a regex parameter (extended, case-insensitive, newline-sensitive).
    func withRegex(_ call: FunctionCall, _ fn: String, _ body: (inout regex_t) -> Int32) -> Int32 {
        let pattern = call.string(0)
        var re = regex_t()
        guard regcomp(&re, pattern, REG_EXTENDED | REG_ICASE | REG_NEWLINE | REG_NOSUB) == 0 else {
            host.log(.err, "\(fn): bad regular expression '\(pattern)'")
            return -1
        }
        defer { regfree(&re) }
        return body(&re)
    }
}
