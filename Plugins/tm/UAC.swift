// Requests tm originates (t_uac / t_request of the API, MI t_uac_dlg): local client transactions with one branch,
// retransmitted over UDP, ended by their final reply or a 408 after the timeout, as OpenSIPS's t_uac.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit
import SwitchyardSIP

/// What a local request is made of. Header lines end with CRLF; From/To/Call-ID/CSeq are taken out of `headers`
/// when present there (else generated: From `<sip:switchyard@our address>`, To `<ruri>`, CSeq 10).
struct UACRequest {
    var method: String
    var ruri: String
    var nextHop = ""
    var headers = ""
    var body = ""
    var socket = ""
    var timeoutMS: Int64 = 0
}

/// The outcome of a local request: the final status, its reason, and the reply as received (nil for a 408 made here).
struct UACResult {
    let code: Int
    let reason: String
    let reply: [UInt8]?
}

extension TM {
    static let defaultCSeq: Int64 = 10

    /// Sends a local request; `done` runs exactly once (bucket lock held) unless this returns non-zero. Never before
    /// this returns: the caller (t_uac) runs its own 477 for -4/-6.
    /// Returns 0, -2 bad arguments, -3 socket not ours, -4 unresolvable, -6 no socket or not sent.
    /// `parent`: the script context asking (t_new_request), for the local_route run on this thread.
    func uacSend(_ r: UACRequest, callbacks: [Callback] = [], parent: SYContext? = nil, done: ((UACResult) -> Void)?) -> Int32 {
        guard !r.method.isEmpty, !r.method.contains(" "), r.ruri.lowercased().hasPrefix("sip") else { return -2 }
        var lines = r.headers.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        func take(_ names: [String]) -> String? {
            guard let i = lines.firstIndex(where: { names.contains(TM.headerName($0)) }) else { return nil }
            let l = lines.remove(at: i)
            return String(l[l.index(after: l.firstIndex(of: ":")!)...]).trimmingCharacters(in: .whitespaces)
        }
        let fromGiven = take(["from", "f"])
        let toGiven = take(["to", "t"])
        let callIDGiven = take(["call-id", "i"])
        let cseqGiven = take(["cseq"])
        let maxfwdGiven = take(["max-forwards"]) // the caller's (dispatcher's ds_ping_maxfwd) replaces the default
        lines.removeAll { ["via", "v", "content-length", "l"].contains(TM.headerName($0)) }

        var target = sy_sip_target()
        let via: String
        let (found, rc) = core.localTarget(r.nextHop.isEmpty ? r.ruri : r.nextHop, socket: r.socket, into: &target)
        guard let v = found else { return rc }
        via = v
        let sentBy = via.split(separator: " ").last.map(String.init) ?? "127.0.0.1"
        var cseq = TM.defaultCSeq
        if let c = cseqGiven {
            let parts = c.split(separator: " ")
            guard let first = parts.first, let n = Int64(first), parts.count == 1 || String(parts[1]) == r.method else { return -2 }
            cseq = n
        }
        let callID = callIDGiven ?? (TM.randomHex(16) + "@" + sentBy.split(separator: ":").first.map(String.init)!)
        var from = fromGiven ?? "<sip:switchyard@\(sentBy)>"
        if NameAddr.parse(from)?.param("tag") == nil { from += ";tag=" + TM.randomHex(8) }
        let fromTag = NameAddr.parse(from)?.param("tag") ?? ""
        let to = toGiven ?? "<\(r.ruri)>"

        var keys = MessageKeys()
        keys.method = r.method
        keys.ruri = r.ruri
        keys.callID = callID
        keys.cseq = cseq
        keys.fromTag = fromTag
        let b = TransactionTable.hash(callID: callID, cseq: cseq)
        let label = table.withBucket(b) { table.nextLabel(b) }
        let branchID = "z9hG4bK" + RevHex.encode(UInt32(b)) + "." + RevHex.encode(label) + ".0"
        keys.viaBranch = branchID
        var text = "\(r.method) \(r.ruri) SIP/2.0\r\nVia: \(via);branch=\(branchID)\r\nFrom: \(from)\r\nTo: \(to)\r\n"
        text += "Call-ID: \(callID)\r\nCSeq: \(cseq) \(r.method)\r\nMax-Forwards: \(maxfwdGiven ?? "70")\r\n"
        for l in lines { text += l + "\r\n" }
        text += "Content-Length: \(r.body.utf8.count)\r\n\r\n" + r.body
        // The script's local_route runs before the bucket is locked for sending: it may generate requests itself.
        let bytes = runLocalRoutes(Array(text.utf8), parent: parent)
        table.lock(b)
        defer { table.unlock(b) }

        let fr = r.timeoutMS > 0 ? r.timeoutMS : Int64(cfg.frTimeout) * 1000
        let cell = Cell(hashIndex: b, label: label, info: keys, snapshot: nil, upstream: sy_sip_target(), isLocal: true,
                        frTimeout: fr, frInvTimeout: Int64(cfg.frInvTimeout) * 1000)
        let br = Branch(index: 0, uri: r.ruri, dst: r.nextHop, request: bytes, target: target)
        guard core.send(target, bytes) else { return -6 }
        cell.callbacks = callbacks
        cell.uacDone = done
        cell.branches.append(br)
        table.insert(cell)
        stat(stats?.uac)
        stat(stats?.inuse)
        let now = nowMS()
        if !br.reliable {
            br.retrInterval = Int64(cfg.t1)
            br.retrAt = now + br.retrInterval
        }
        br.frAt = now + fr
        reschedule(cell)
        return 0
    }

    /// The tm API's t_uac: `done` gets the final code (477 when the request could not be resolved or sent).
    func uac(method: String, ruri: String, dst: String, extra: String, socket: String, timeoutMS: UInt32,
             done: @escaping @Sendable (Int) -> Void) -> Int32 {
        let r = UACRequest(method: method, ruri: ruri, nextHop: dst, headers: extra, socket: socket, timeoutMS: Int64(timeoutMS))
        let rc = uacSend(r) { done($0.code) }
        if rc == -4 || rc == -6 {
            done(477)
            return 0
        }
        return rc
    }

    /// The tm API's t_request: the callback is registered on the new transaction (local completion, replies, end).
    func request(_ method: sy_str, _ ruri: sy_str, _ dst: sy_str, _ extra: sy_str, _ body: sy_str, _ socket: sy_str,
                 _ timeoutMS: UInt32, _ cb: Callback) -> Int32 {
        let allowed = TMCB.localCompleted | TMCB.responseIn | TMCB.deleted
        guard cb.types != 0, cb.types & ~allowed == 0 else { return -2 }
        let r = UACRequest(method: CoreLink.text(method), ruri: CoreLink.text(ruri), nextHop: CoreLink.text(dst),
                           headers: CoreLink.text(extra), body: CoreLink.text(body), socket: CoreLink.text(socket),
                           timeoutMS: Int64(timeoutMS))
        return uacSend(r, callbacks: [cb], done: nil)
    }

    /// t_new_request(method, ruri, from, to[, body[, ctx]]): an unrelated request of ours. `from`/`to` are
    /// "[display ]uri" (split at the last space), `body` "content/type body" (split at the first space).
    func tNewRequest(_ call: FunctionCall) -> Int32 {
        func nameAddr(_ t: String) -> String {
            let v = t.trimmingCharacters(in: .whitespaces)
            guard let sp = v.lastIndex(of: " ") else { return "<\(v)>" }
            return "\(v[..<sp].trimmingCharacters(in: .whitespaces)) <\(v[v.index(after: sp)...])>"
        }
        var headers = "From: \(nameAddr(call.string(2)))\r\nTo: \(nameAddr(call.string(3)))\r\n"
        var body = ""
        if call.isPresent(4), !call.string(4).isEmpty {
            let b = call.string(4)
            guard let sp = b.firstIndex(of: " ") else {
                host.log(.err, "t_new_request: body must be \"content/type body\"")
                return -1
            }
            headers += "Content-Type: \(b[..<sp])\r\n"
            body = String(b[b.index(after: sp)...])
        }
        let r = UACRequest(method: call.string(0), ruri: call.string(1), headers: headers, body: body)
        let rc = uacSend(r, parent: call.context, done: nil)
        if rc != 0 { host.log(.err, "t_new_request: \(call.string(0)) to \(call.string(1)) not sent (\(rc))") }
        return rc == 0 ? 1 : -1
    }

    /// A local transaction ended (final reply or timeout): the requester learns it, an INVITE's 2xx is ACKed, the
    /// transaction waits. Bucket lock held.
    func uacCompleted(_ cell: Cell, _ b: Branch, code: Int, reason: String, reply: [UInt8]?, ctx: SYContext?) {
        cell.uasStatus = code
        cell.lastCompletedBranch = b.index
        if cell.isInvite && (200..<300).contains(code), let reply { sendAck2xx(cell, b, reply: reply) }
        fire(cell.callbacks, TMCB.localCompleted, cell, code: code, ctx: ctx, reply: reply)
        cell.uacDone?(UACResult(code: code, reason: reason, reply: reply))
        cell.uacDone = nil
        goWait(cell)
    }

    /// The ACK of a 2xx to a local INVITE (end to end): to the Contact, along the reversed Record-Route, new branch.
    func sendAck2xx(_ cell: Cell, _ b: Branch, reply: [UInt8]) {
        guard let msg = try? SIPMessage.parse(reply), let req = try? SIPMessage.parse(b.request),
              let via = (try? req.vias())?.first, let to = msg.field(.to) else { return }
        let target = msg.header("Contact").flatMap { NameAddr.parse($0)?.uri } ?? b.uri
        var out = "ACK \(target) SIP/2.0\r\nVia: \(req.text(via.range)).a\r\n"
        for f in req.fields where f.kind == .from || f.kind == .callID { out += req.text(f.line.lowerBound..<f.value.upperBound) + "\r\n" }
        out += "To: \(msg.value(of: to))\r\n"
        for r in TM.routeSet(msg).reversed() { out += "Route: \(r)\r\n" }
        out += "CSeq: \(cell.cseq) ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        core.send(b.target, Array(out.utf8))
    }

    /// The Record-Route entries of a reply, one per URI, in the order they appear.
    static func routeSet(_ msg: SIPMessage) -> [String] {
        var out: [String] = []
        for v in msg.headers("Record-Route") {
            var depth = 0, start = v.startIndex
            for i in v.indices {
                switch v[i] {
                case "<": depth += 1
                case ">": depth -= 1
                case "," where depth == 0:
                    out.append(v[start..<i].trimmingCharacters(in: .whitespaces))
                    start = v.index(after: i)
                default: break
                }
            }
            let last = v[start...].trimmingCharacters(in: .whitespaces)
            if !last.isEmpty { out.append(last) }
        }
        return out
    }

    static func headerName(_ l: String) -> String {
        l.prefix { $0 != ":" }.trimmingCharacters(in: .whitespaces).lowercased()
    }

    static func randomHex(_ n: Int) -> String {
        var s = ""
        for _ in 0..<n { s.append(String(UInt8.random(in: 0..<16), radix: 16)) }
        return s
    }

    /// At shutdown: requesters still waiting learn that no verdict came (code 0): t_uac's done, and t_request's
    /// TMCB_LOCAL_COMPLETED (which then cannot fire again for a reply a late worker still processes).
    func finishLocal() {
        for i in 0..<TransactionTable.size {
            table.withBucket(i) {
                if table.isEmpty(i) { return }
                // A snapshot: a callback may send a new local request into this bucket, which must not be told 0.
                let local = table.bucket(i).filter { $0.isLocal }
                for c in local {
                    if !c.completed {
                        fire(c.callbacks, TMCB.localCompleted, c, code: 0, ctx: nil)
                        c.callbacks = c.callbacks.map {
                            Callback(types: $0.types & ~TMCB.localCompleted, fn: $0.fn, param: $0.param)
                        }
                    }
                    c.uacDone?(UACResult(code: 0, reason: "", reply: nil))
                    c.uacDone = nil
                }
            }
        }
    }
}

extension CoreLink {
    /// Target and Via start of a request made here (ABI 1.8 sip_local_target); the core's error code on failure.
    func localTarget(_ uri: String, socket: String, into t: inout sy_sip_target) -> (String?, Int32) {
        guard host.provides(\.sip_local_target), let f = api.sip_local_target else { return (nil, -6) }
        var buf = [CChar](repeating: 0, count: 512)
        var n = 0
        // The handle of the core that loaded this tm: with several cores in one process, ours, not the latest.
        let rt = host.runtime
        let rc = withStr(uri) { u in withStr(socket) { s in f(rt, u, s, &t, &buf, buf.count, &n) } }
        guard rc == 0 else { return (nil, rc) }
        return (String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self), 0)
    }
}
