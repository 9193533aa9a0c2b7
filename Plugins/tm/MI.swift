// MI commands of tm: t_hash, t_reply, t_uac_cancel, t_uac_dlg (OpenSIPS 3.x shapes).
import Foundation
import SwitchyardPluginKit
import Synchronization

extension TMModule {
    func declareMI(_ m: inout ModuleExportsBuilder) {
        m.miCommand("t_hash", help: "load of each bucket of the transaction table") { [self] _ in
            guard let tm else { return .error(code: 500, message: "tm not initialised") }
            var out = "["
            out.reserveCapacity(TransactionTable.size * 40)
            for i in 0..<TransactionTable.size {
                let (cur, total) = tm.table.counts(i)
                if i > 0 { out += "," }
                out += "{\"index\":\(i),\"Current\":\(cur),\"Total\":\(total)}"
            }
            return .json(out + "]")
        }
        m.miCommand("t_reply", help: "reply a transaction by its id",
                    recipes: [["code", "reason", "trans_id", "to_tag"], ["code", "reason", "trans_id", "to_tag", "new_headers"],
                              ["code", "reason", "trans_id", "to_tag", "new_headers", "body"]]) { [self] req in
            guard let tm else { return .error(code: 500, message: "tm not initialised") }
            guard case .value(let code) = req.int("code"), (100..<700).contains(code) else {
                return .error(code: 400, message: "Invalid code")
            }
            let reason = req.string("reason").value ?? ""
            guard let id = req.string("trans_id").value, let cell = tm.find(id: id) else {
                return .error(code: 404, message: "Transaction not found")
            }
            var headers = req.string("new_headers").value ?? ""
            if headers == "." { headers = "" }
            headers = headers.replacingOccurrences(of: "\\r\\n", with: "\r\n")
            if !headers.isEmpty && !headers.hasSuffix("\r\n") { headers += "\r\n" }
            let body = req.string("body").value ?? ""
            let tag = req.string("to_tag").value ?? ""
            return tm.localReply(cell, ctx: nil, code: Int(code), reason: reason, body: body, extra: headers,
                                 toTag: tag.isEmpty || tag == "." ? nil : tag)
                ? .ok : .error(code: 500, message: "Reply failed")
        }
        m.miCommand("t_uac_cancel", help: "cancel a pending INVITE transaction by Call-ID and CSeq",
                    recipes: [["callid", "cseq"]]) { [self] req in
            guard let tm else { return .error(code: 500, message: "tm not initialised") }
            guard let callid = req.string("callid").value, let cseqText = req.string("cseq").value else {
                return .error(code: 400, message: "Bad parameters")
            }
            return tm.cancel(callID: callid, cseq: cseqText) ? .ok : .error(code: 481, message: "No such transaction")
        }
        m.miCommand("t_uac_dlg", help: "send a request and wait for its final reply",
                    recipes: [["method", "ruri", "headers"], ["method", "ruri", "headers", "next_hop"],
                              ["method", "ruri", "headers", "next_hop", "socket"],
                              ["method", "ruri", "headers", "next_hop", "socket", "body"]]) { [self] req in
            uacDialog(req)
        }
    }

    func uacDialog(_ req: MIRequest) -> MIReply {
        guard let tm else { return .error(code: 500, message: "tm not initialised") }
        guard let method = req.string("method").value, !method.isEmpty, !method.contains(" ") else {
            return .error(code: 400, message: "Invalid method")
        }
        guard let ruri = req.string("ruri").value, ruri.lowercased().hasPrefix("sip") else {
            return .error(code: 400, message: "Invalid ruri")
        }
        let raw = (req.string("headers").value ?? "").replacingOccurrences(of: "\\r\\n", with: "\r\n")
        var lines = raw.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        func name(_ l: String) -> String { l.prefix { $0 != ":" }.trimmingCharacters(in: .whitespaces).lowercased() }
        guard lines.contains(where: { ["from", "f"].contains(name($0)) }) else { return .error(code: 400, message: "From missing") }
        guard lines.contains(where: { ["to", "t"].contains(name($0)) }) else { return .error(code: 400, message: "To missing") }
        if lines.contains(where: { ["content-length", "l"].contains(name($0)) }) {
            return .error(code: 400, message: "Bad headers")
        }
        // The core writes To, Call-ID, CSeq and Via itself.
        lines.removeAll { ["to", "t", "call-id", "i", "cseq", "via", "v"].contains(name($0)) }
        var hop = req.string("next_hop").value ?? ""
        if hop == "." { hop = "" }
        var socket = req.string("socket").value ?? ""
        if socket == "." { socket = "" }
        let extra = lines.map { $0 + "\r\n" }.joined()
        let result = Mutex<Int?>(nil)
        let done = DispatchSemaphore(value: 0)
        let rc = tm.uac(method: method, ruri: ruri, dst: hop, extra: extra, socket: socket, timeoutMS: 0) { code in
            result.withLock { $0 = code }
            done.signal()
        }
        if rc == -3 { return .error(code: 404, message: "Local socket not found") }
        guard rc == 0 else { return .error(code: 400, message: "Bad parameters") }
        _ = done.wait(timeout: .now() + .seconds(tm.cfg.frTimeout + 2))
        let code = result.withLock { $0 } ?? 408
        return .object([("Status", .string("\(code) \(TM.reasonPhrase(code))"))])
    }
}

extension TM {
    /// A transaction by MI id: "label.hash" in reversed hex, or "hash:label" in decimal.
    func find(id: String) -> Cell? {
        var h: UInt32?, l: UInt32?
        if let c = id.firstIndex(of: ":") {
            h = UInt32(id[..<c]); l = UInt32(id[id.index(after: c)...])
        } else if let d = id.firstIndex(of: ".") {
            l = RevHex.decode(id[..<d].utf8); h = RevHex.decode(id[id.index(after: d)...].utf8)
        }
        guard let hash = h, let label = l, hash < TransactionTable.size else { return nil }
        return table.withBucket(Int(hash)) { table.bucket(Int(hash)).first { $0.label == label && !$0.removed } }
    }

    /// MI t_uac_cancel: every pending branch of the first INVITE with that Call-ID and CSeq (prefix compare).
    func cancel(callID: String, cseq: String) -> Bool {
        guard let n = Int64(cseq.trimmingCharacters(in: .whitespaces)) else { return false }
        let b = TransactionTable.hash(callID: callID, cseq: n)
        return table.withBucket(b) { () -> Bool in
            guard let c = table.bucket(b).first(where: { $0.isInvite && !$0.removed && $0.callID.hasPrefix(callID)
                && String($0.cseq).hasPrefix(cseq.trimmingCharacters(in: .whitespaces)) }) else { return false }
            for br in c.branches where br.finalCode == 0 { sendCancel(c, br, reason: "") }
            return true
        }
    }

    /// Sends a request of our own through the core (tm API t_uac, MI t_uac_dlg); `done` gets the final code.
    func uac(method: String, ruri: String, dst: String, extra: String, socket: String, timeoutMS: UInt32,
             done: @escaping @Sendable (Int) -> Void) -> Int32 {
        stat(stats?.uac)
        let t = timeoutMS == 0 ? UInt32(cfg.frTimeout * 1000) : timeoutMS
        return host.sipRequest(method: method, ruri: ruri, destination: dst, extraHeaders: extra, socket: socket,
                               timeoutMS: t, done: done)
    }

    static func reasonPhrase(_ code: Int) -> String {
        switch code {
        case 100: return "Trying"
        case 180: return "Ringing"
        case 200: return "OK"
        case 202: return "Accepted"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 407: return "Proxy Authentication Required"
        case 408: return "Request Timeout"
        case 480: return "Temporarily Unavailable"
        case 481: return "Call/Transaction Does Not Exist"
        case 486: return "Busy Here"
        case 487: return "Request Terminated"
        case 477: return "Send failed"
        case 500: return "Server Internal Error"
        case 501: return "Not Implemented"
        case 503: return "Service Unavailable"
        case 603: return "Decline"
        default: return ""
        }
    }
}
