#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardSIP
import Synchronization

/// What the core offers a transaction layer (tm, ABI 1.7): the identifying fields of a message, the bytes forward()
/// and the stateless replies would send (built, not sent), and requests kept beyond their route.
extension SIPCore {
    /// The forwarded form of the context's request toward the destination's addresses from number `from` on (DNS
    /// failover): the first one the message's blacklists let through and a socket can send to, with its number and
    /// how many the destination has (1 with disable_dns_failover); or an error code of the ABI (-1 no request, -2 bad
    /// URI, -4 unresolvable or no address left, -5 blacklisted, -6 no socket). The bytes are built in the thread's
    /// output buffer and lent to `keep` (called once, on success): the host's build entries copy them straight into
    /// the context's buffer, with no array made and freed per request (tm builds every branch and the end-to-end ACK
    /// through this).
    func buildRequest(_ ctx: ScriptContext, ruri: String?, dest: String?, branch: String?, from: Int,
                      keep: (UnsafeBufferPointer<UInt8>) -> Void) -> BuiltRequest {
        guard let msg = ctx.message.sip, msg.isRequest, let origin = ctx.message.origin else { return .failed(-1) }
        var uriText: String? = dest
        if uriText == nil || uriText!.isEmpty { uriText = ctx.message.destinationURI }
        if uriText == nil || uriText!.isEmpty { uriText = ruri ?? ctx.message.requestURI?.text }
        guard let t = uriText, let target = target(ctx, dest: t) else { return .failed(-2) }
        let addresses = destinations(ctx, target)
        guard !addresses.isEmpty else { return .failed(-4) }
        let last = ctx.engine.dnsFailoverDisabled ? 1 : addresses.count
        // Asking for address `from` says the one before failed (a send, a 503, a silent timeout): the DNS blacklist
        // learns it when enabled.
        if from > 0, from - 1 < addresses.count {
            learnFailed(ctx, addresses[from - 1], proto: addresses.proto(from - 1, or: target.proto))
        }
        guard from < last else { return .failed(-4) }
        guard let topVia = (try? msg.vias())?.first else { return .failed(-1) }
        var err: Int32 = -6
        for index in from..<last {
            let dst = addresses[index]
            let proto = addresses.proto(index, or: target.proto)
            var forced = ctx.message.forcedSocket
            if let f = forced, f.proto.name != proto || !(f.address.family == dst.family || f.address.isAny) { forced = nil }
            guard let socket = forced ?? socket(proto: proto, family: dst.family, prefer: origin.socket) else { continue }
            let b: MessageWriter.Branch = (branch?.isEmpty ?? true) ? .stateless(branchHash(msg, topVia)) : .text(branch!)
            let topText = MessageWriter.viaWithSource(msg, topVia, origin.source, forceRport: ctx.message.via.forceRport)
            var newRURI: String? = ruri
            if newRURI == nil, ctx.message.requestURIChanged { newRURI = ctx.message.requestURI?.text }
            let prefix = viaPrefix(socket, ctx.message.via)
            let suffix = ctx.message.via.addLocalRport ? ";rport" : ""
            let list: String? = output.with { out in
                SIPCore.forwardedRequest(into: &out, msg, newRURI: newRURI, viaPrefix: prefix, branch: b, topVia: topVia,
                                         topViaText: topText, edits: &ctx.message.edits, viaSuffix: suffix,
                                         stream: proto != "udp")
                if let list = blacklisted(ctx, dst, proto: proto, request: out.bytes) { return list }
                keep(out.bytes)
                return nil
            }
            if let list {
                log.write(LogLevels.debug, module: "core", "destination \(proto):\(dst.text) is blacklisted by '\(list)'")
                err = -5
                continue
            }
            return .built(socket: socket, dst: dst, index: index, count: last)
        }
        return .failed(err)
    }

    /// What buildRequest made: where the bytes go (with the address's number and how many the destination has), or
    /// an error code of the ABI. Not a `Result` of a tuple: destroying that instantiated its type metadata from the
    /// mangled name at every build (~450 instructions, not cached); a plain enum needs no metadata.
    enum BuiltRequest {
        case built(socket: SIPSocket, dst: SocketAddress, index: Int, count: Int)
        case failed(Int32)
    }

    /// MessageWriter.forwardedRequest with the context's edits borrowed through an exclusive access: read from the
    /// context as a value they were copied and destroyed through their value witnesses (~400 instructions a build).
    /// No other argument may read the context's message while the access lasts (they are computed before).
    static func forwardedRequest(into out: inout ByteWriter, _ msg: SIPMessage, newRURI: String?, viaPrefix: String,
                                 branch: MessageWriter.Branch, topVia: SIPVia?, topViaText: String?,
                                 edits: inout HeaderEdits, viaSuffix: String, stream: Bool) {
        MessageWriter.forwardedRequest(into: &out, msg, newRURI: newRURI, viaPrefix: viaPrefix, branch: branch,
                                       topVia: topVia, topViaText: topViaText, edits: edits, viaSuffix: viaSuffix,
                                       stream: stream)
    }

    /// MessageWriter.relayedReply into `out` (emptied first, a buffer the caller reuses), with the edits borrowed
    /// the same way.
    static func relayedReply(into out: inout ByteWriter, _ msg: SIPMessage, topVia: SIPVia, edits: inout HeaderEdits,
                             stream: Bool) {
        MessageWriter.relayedReply(into: &out, msg, topVia: topVia, edits: edits, stream: stream)
    }

    struct BuildError: Error { let code: Int32 }

    /// A reply to the context's request and where it goes (the stateless reply's bytes, not sent). The bytes are
    /// built in the thread's output buffer and lent to `keep` (called once, on success), as for `buildRequest`.
    func buildReply(_ ctx: ScriptContext, code: Int, reason: String, toTag: String?, extraHeaders: String,
                    body: UnsafeRawBufferPointer, keep: (UnsafeBufferPointer<UInt8>) -> Void)
        -> (SIPSocket, UInt64, SocketAddress)? {
        guard (100...699).contains(code), let msg = ctx.message.sip, msg.isRequest, let origin = ctx.message.origin,
              let top = (try? msg.vias())?.first else { return nil }
        var tag = toTag
        // The code first: a 100 Trying (every INVITE under tm) then never parses the To header.
        if code < 180 || msg.toTag != nil { tag = nil } else if tag == nil || tag!.isEmpty { tag = localTag(msg) }
        let viaText = MessageWriter.viaWithSource(msg, top, origin.source, forceRport: ctx.message.via.forceRport, reply: true)
        output.with { out in
            MessageWriter.statelessReply(into: &out, to: msg, code: code, reason: reason, topVia: top, topViaText: viaText,
                                         toTag: tag, extraHeaders: extraHeaders, server: serverHeader)
            if body.count > 0 {
                // statelessReply ends with "Content-Length: 0\r\n\r\n": replaced by the body's length and the body.
                let tail: StaticString = "Content-Length: 0\r\n\r\n"
                let n = tail.utf8CodeUnitCount
                if out.count >= n, memcmp(out.base.unsafelyUnwrapped + out.count - n, tail.utf8Start, n) == 0 {
                    out.removeLast(n)
                    out.append(text: "Content-Length: \(body.count)\r\n\r\n")
                    out.append(raw: body)
                }
            }
            // Last: `body` may point into ctx.bytesKeeper (bytes from an earlier host call), which `keep` reuses; it was
            // copied into `out` above, and only pure code (localTag, replyExtra) ran in between.
            keep(out.bytes)
        }
        let (conn, dst) = replyTarget(top, origin: origin, forceRport: ctx.message.via.forceRport)
        return (origin.socket, conn, dst)
    }

    /// Where a reply to a request goes: the same connection on streams; else the source address at rport or the Via port.
    func replyTarget(_ via: SIPVia, origin: SIPOrigin, forceRport: Bool = false) -> (UInt64, SocketAddress) {
        if origin.socket.proto.isStream { return (origin.conn, origin.source) }
        var dst = origin.source
        if !via.hasRport && !forceRport { dst.port = via.port ?? 5060 }
        return (0, dst)
    }

    /// The identifying fields of a message (the ABI's sy_sip_info), every string pointing into `base`, the first
    /// byte of `msg.bytes`: nothing is copied and no string or array is made (this runs for every message the
    /// transaction layer sees, twice for a relayed request).
    static func sipInfo(_ msg: SIPMessage, base: UnsafePointer<UInt8>) -> sy_sip_info {
        func str(_ r: Range<Int>) -> sy_str {
            r.isEmpty ? sy_str(s: nil, len: 0)
                : sy_str(s: UnsafeRawPointer(base + r.lowerBound).assumingMemoryBound(to: CChar.self), len: r.count)
        }
        let b = msg.bytes
        var info = sy_sip_info()
        info.is_request = msg.isRequest ? 1 : 0
        info.status = Int32(msg.statusCode ?? 0)
        info.cseq = Int64(msg.cseqNumber ?? -1)
        if msg.isRequest {
            info.method = str(msg.methodRange)
            info.ruri = str(msg.uriRange)
        } else {
            info.reason = str(msg.reasonRange)
        }
        if let c = msg.field(.callID) { info.call_id = str(trimmed(b, c.value)) }
        if let m = msg.cseqMethodRange { info.cseq_method = str(m) }
        if let from = msg.field(.from) {
            info.from = str(trimmed(b, from.value))
            info.from_tag = str(tagRange(b, from.value) ?? 0..<0)
        }
        if let to = msg.field(.to) {
            info.to_tag = str(tagRange(b, to.value) ?? 0..<0)
            info.to_uri = str(uriRange(b, to.value))
        }
        if let via = (try? msg.vias())?.first {
            info.via_port = Int32(via.port ?? 0)
            info.via_branch = str(via.branchRange ?? 0..<0)
            info.via_host = str(via.hostRange)
            info.via_transport = str(via.transportRange)
            info.via_value = str(via.range)
        }
        return info
    }

    static func trimmed(_ b: [UInt8], _ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound, hi = r.upperBound
        while lo < hi, b[lo] == 32 || b[lo] == 9 { lo += 1 }
        while hi > lo, b[hi - 1] == 32 || b[hi - 1] == 9 || b[hi - 1] == 13 || b[hi - 1] == 10 { hi -= 1 }
        return lo..<hi
    }

    /// The value of `;tag=` after the URI of a From/To value (outside quotes and angle brackets). Read through a
    /// buffer pointer: it scans the whole value of two headers per message the transaction layer sees.
    static func tagRange(_ bytes: [UInt8], _ r: Range<Int>) -> Range<Int>? {
        guard r.upperBound <= bytes.count else { return nil }
        return bytes.withUnsafeBufferPointer { b -> Range<Int>? in
            // A value without ';' has no tag (a request's To): memchr says so a word at a time.
            guard !r.isEmpty, let base = b.baseAddress, memchr(base + r.lowerBound, 59, r.count) != nil else { return nil }
            // The usual value has no quote and at most one <...>: its parameters follow the '>' (or start at the first
            // ';' of an addr-spec), found with memchr instead of the byte loop below, with the same answer.
            if memchr(base + r.lowerBound, 34, r.count) == nil {
                var from = r.lowerBound
                if let lt = memchr(base + r.lowerBound, 60, r.count) {
                    let l = UnsafeRawPointer(lt).assumingMemoryBound(to: UInt8.self) - base
                    if memchr(base + r.lowerBound, 59, l - r.lowerBound) != nil {
                        from = -1  // a ';' ahead of the '<': the byte loop decides
                    } else if let gt = memchr(base + l, 62, r.upperBound - l) {
                        from = UnsafeRawPointer(gt).assumingMemoryBound(to: UInt8.self) - base + 1
                    } else {
                        from = r.upperBound  // an unclosed '<': no parameter outside it
                    }
                    if from >= 0, from < r.upperBound, memchr(base + from, 60, r.upperBound - from) != nil { from = -1 }
                }
                if from >= 0 { return tagParam(b, from..<r.upperBound) }
            }
            let special: UInt64 = (1 << 34) | (1 << 59) | (1 << 60) | (1 << 62)
            var i = r.lowerBound
            var inQuote = false, inAngle = false
            while i < r.upperBound {
                let c = b[i]
                // Most bytes are none of " ; < > (all below 64): one comparison for letters, a bit test for the rest.
                if c > 62 || (UInt64(1) << UInt64(c)) & special == 0 { i += 1; continue }
                if c == 34 { inQuote.toggle() } else if !inQuote && c == 60 { inAngle = true } else if !inQuote && c == 62 { inAngle = false }
                if !inQuote && !inAngle && c == 59, let v = tagValue(b, afterSemicolon: i, end: r.upperBound) {  // ';'
                    return v
                }
                i += 1
            }
            return nil
        }
    }

    /// The first `;tag=` parameter value among the ';' of r (all outside quotes and angle brackets).
    @inline(__always)
    static func tagParam(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Range<Int>? {
        guard let base = b.baseAddress else { return nil }
        var i = r.lowerBound
        while i < r.upperBound, let p = memchr(base + i, 59, r.upperBound - i) {
            i = UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self) - base
            if let v = tagValue(b, afterSemicolon: i, end: r.upperBound) { return v }
            i += 1
        }
        return nil
    }

    /// The value of a `tag=` parameter right after the ';' at i (spaces skipped, name case-insensitive), or nil.
    @inline(__always)
    static func tagValue(_ b: UnsafeBufferPointer<UInt8>, afterSemicolon i: Int, end: Int) -> Range<Int>? {
        var j = i + 1
        while j < end, b[j] == 32 { j += 1 }
        guard j + 4 <= end, b[j] | 0x20 == 116, b[j + 1] | 0x20 == 97, b[j + 2] | 0x20 == 103, b[j + 3] == 61 else {
            return nil
        }
        var k = j + 4
        while k < end, b[k] != 59, b[k] != 32, b[k] != 13, b[k] != 10, b[k] != 9 { k += 1 }
        return (j + 4)..<k
    }

    /// The URI of a name-addr value: inside <...>, else up to the first ';'.
    /// The bytes are searched with memchr through a buffer pointer (firstIndex on array slices cost ~160 instructions
    /// per message the transaction layer sees).
    static func uriRange(_ bytes: [UInt8], _ r: Range<Int>) -> Range<Int> {
        bytes.withUnsafeBufferPointer { b -> Range<Int> in
            func find(_ c: UInt8, _ lo: Int, _ hi: Int) -> Int? {
                guard lo < hi, let base = b.baseAddress, let p = memchr(base + lo, Int32(c), hi - lo) else { return nil }
                return base.distance(to: p.assumingMemoryBound(to: UInt8.self))
            }
            if let lt = find(60, r.lowerBound, r.upperBound), let gt = find(62, lt, r.upperBound) { return (lt + 1)..<gt }
            let t = trimmed(bytes, r)
            return t.lowerBound..<(find(59, t.lowerBound, t.upperBound) ?? t.upperBound)
        }
    }
}

/// A request kept beyond its route for the transaction layer: the parsed message, its origin, AVPs and flags.
final class RequestSnapshot: @unchecked Sendable {
    // Read by the thread that opens a context on it; avps/touched/flags written (saveFrom) by the owning module under
    // its own lock (tm: the transaction's bucket lock). `message` is shared with the worker that still routes it: its
    // unlocked parse caches are filled before the snapshot is made (SIPMessage.fillCaches), so every later access of
    // them only reads; From and To are parsed under the message's lock.
    let message: SIPMessage
    let origin: SIPOrigin
    /// The engine the request was routed by: contexts opened on the snapshot run there (no process-wide lookup).
    let engine: ScriptEngine
    var avps: [[Value]]
    var touched: [Int]
    var flags: UInt64
    /// Branch flags of the request-URI branch (setbflag): failure and reply routes see what the request route set.
    var branchFlags: UInt64
    /// force_rport / add_local_rport / set_advertised_*: kept for the transaction's later relays (failure route).
    let via: ViaHandling
    /// append_to_reply lines of the request: they go into every reply built on the kept request (tm's 408, 487, a
    /// failure route's t_reply), as OpenSIPS keeps them with the transaction's copy. Those the request or a failure
    /// route adds after the transaction exists are added here too (keep(replyLine:)), from the routing thread while
    /// the timer thread may build a reply: hence the lock.
    private let keptLines: Mutex<[String]>
    var replyLines: [String] { keptLines.withLock { $0 } }

    func keep(replyLine: String) { keptLines.withLock { $0.append(replyLine) } }

    init(message: SIPMessage, origin: SIPOrigin, ctx: ScriptContext) {
        self.message = message
        self.origin = origin
        self.engine = ctx.engine
        self.avps = ctx.avps
        self.touched = ctx.touchedAVPs
        self.flags = ctx.flags
        self.branchFlags = ctx.message.ruriBranchFlags
        self.via = ctx.message.via
        self.keptLines = Mutex(ctx.message.edits.replyLines)
    }

    /// A new context of a route kind on the kept request: $ru as received, no $du, no edits but the reply lines;
    /// AVPs and flags copied.
    func open(kind: RouteKind, engine: ScriptEngine, worker: WorkerState) -> ScriptContext {
        let ctx = engine.makeContext(worker: worker, routeType: kind)
        ctx.message = ScriptMessage(sip: message, origin: origin)
        ctx.avps = avps
        ctx.touchedAVPs = touched
        ctx.flags = flags
        ctx.message.ruriBranchFlags = branchFlags
        ctx.message.via = via
        ctx.message.edits.replyLines = replyLines
        ctx.keptBy = self
        return ctx
    }

    /// What a route left in the AVPs and flags (the next failure route starts from it).
    func save(from ctx: ScriptContext) {
        avps = ctx.avps
        touched = ctx.touchedAVPs
        flags = ctx.flags
        branchFlags = ctx.message.ruriBranchFlags
    }
}
