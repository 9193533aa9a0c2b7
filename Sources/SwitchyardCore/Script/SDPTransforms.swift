/// The `sdp.` class (OpenSIPS's tr_eval_sdp) on an SDP body given as text, usually `$rb`:
/// `{sdp.line,type[,n]}` the n-th (0-based) `type=` line without its CRLF, `{sdp.stream,idx|media}` one stream (its
/// `m=` line up to the next `m=` line), `{sdp.stream-delete,idx|media}` the body without that stream (a media type
/// deletes every stream of that type). A negative stream index counts from the last stream (-1). A line that is not
/// there reads as null; a stream that is not there, an empty input or a body without `v=` fails (also null).
enum SDPTransforms {
    static let cls = TransformClass(name: "sdp") { op, params throws(PVResolveError) in
        switch op.lowercased() {
        case "line":
            guard let type = params.first else { throw PVResolveError("invalid sdp.line transformation: {sdp.line,type[,index]}") }
            let index = params.count > 1 ? params[1] : TParam.literal("0")
            if let n = index.literalInt, n < 0 { throw PVResolveError("sdp.line: negative line index") }
            return Transform(name: op) { v, ctx in
                guard let body = v.stringForm, !body.isEmpty, let c = type.string(ctx).utf8.first,
                      let n = index.int(ctx), n >= 0 else { return nil }
                return line(Array(body.utf8), c, n)
            }
        case "stream", "stream-delete":
            guard let which = params.first else { throw PVResolveError("sdp.\(op) without a media type or index") }
            let delete = op.lowercased() == "stream-delete"
            return Transform(name: op) { v, ctx in
                guard let body = v.stringForm, !body.isEmpty else { return nil }
                let target: Target
                switch which {
                case .literal(let s): target = StringTransforms.strictInt(s).map { .index($0) } ?? .media(s)
                case .pv(let p):
                    let w = p.get(ctx)
                    if let n = w.intForm { target = .index(n) }
                    else if let s = w.stringForm { target = StringTransforms.strictInt(s).map { .index($0) } ?? .media(s) }
                    else { return nil }
                }
                return stream(Array(body.utf8), target, delete: delete)
            }
        default:
            throw PVResolveError("unknown transformation sdp.\(op)")
        }
    }

    enum Target { case index(Int), media(String) }

    /// Start offsets of the lines that begin with `c=`, in a body read as if it were preceded by a line break.
    static func lineStarts(_ b: [UInt8], _ c: UInt8) -> [Int] {
        var out: [Int] = []
        var i = 0
        while i + 1 < b.count {
            let atLineStart = i == 0 || b[i - 1] == 10 || b[i - 1] == 13
            if atLineStart, b[i] == c, b[i + 1] == 61 { out.append(i) }
            i += 1
        }
        return out
    }

    static func line(_ b: [UInt8], _ c: UInt8, _ n: Int) -> Value? {
        let starts = lineStarts(b, c)
        guard n < starts.count else { return .null }
        let s = starts[n]
        // The line ends at its CR; a body whose lines end in a bare LF is malformed for OpenSIPS.
        guard let end = b[s...].firstIndex(of: 13) else { return nil }
        return .str(String(decoding: b[s..<end], as: UTF8.self))
    }

    static func stream(_ b: [UInt8], _ target: Target, delete: Bool) -> Value? {
        guard !lineStarts(b, 118).isEmpty else { return nil }  // no "v=": not an SDP session
        let m = lineStarts(b, 109)
        // Each stream runs from its m= line to the next one (or to the end of the body).
        let streams: [Range<Int>] = m.enumerated().map { i, s in s..<(i + 1 < m.count ? m[i + 1] : b.count) }
        func media(_ r: Range<Int>) -> String {
            var e = r.lowerBound + 2
            while e < r.upperBound, b[e] != 32, b[e] != 13, b[e] != 10 { e += 1 }
            return String(decoding: b[(r.lowerBound + 2)..<e], as: UTF8.self)
        }
        let picked: [Range<Int>]
        switch target {
        case .index(var n):
            if n < 0 { n += streams.count }
            guard n >= 0, n < streams.count else { return nil }
            picked = [streams[n]]
        case .media(let t):
            let all = streams.filter { media($0).caseInsensitiveEquals(t) }
            guard let first = all.first else { return nil }
            picked = delete ? all : [first]
        }
        if !delete { return .str(String(decoding: b[picked[0]], as: UTF8.self)) }
        var out: [UInt8] = []
        var at = 0
        for r in picked {
            out += b[at..<r.lowerBound]
            at = r.upperBound
        }
        out += b[at...]
        return .str(String(decoding: out, as: UTF8.self))
    }
}
