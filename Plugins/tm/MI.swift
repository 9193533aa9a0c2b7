// MI commands of tm: t_hash, t_reply, t_uac_cancel, t_uac_dlg (OpenSIPS 3.x shapes).
import Foundation
import SwitchyardPluginKit
import SwitchyardSIP

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
                              ["code", "reason", "trans_id", "to_tag", "body"],
                              ["code", "reason", "trans_id", "to_tag", "new_headers", "body"]],
                    namedParamsOnly: true) { [self] req in
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
                                 toTag: tag.isEmpty || tag == "." ? nil : tag, scripted: true)
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
                    // Every combination of the optional next_hop, socket and body, by name only (as OpenSIPS).
                    recipes: [["method", "ruri", "headers"], ["method", "ruri", "headers", "next_hop"],
                              ["method", "ruri", "headers", "socket"], ["method", "ruri", "headers", "body"],
                              ["method", "ruri", "headers", "next_hop", "socket"],
                              ["method", "ruri", "headers", "next_hop", "body"],
                              ["method", "ruri", "headers", "socket", "body"],
                              ["method", "ruri", "headers", "next_hop", "socket", "body"]],
                    namedParamsOnly: true) { [self] req in
            uacDialog(req)
        }
    }

    /// MI t_uac_dlg: the request goes out as a local transaction; the answer waits for its final reply.
    func uacDialog(_ req: MIRequest) -> MIReply {
        guard let tm else { return .error(code: 500, message: "tm not initialised") }
        guard let method = req.string("method").value, !method.isEmpty, !method.contains(" ") else {
            return .error(code: 400, message: "Invalid method")
        }
        guard let ruri = req.string("ruri").value, ruri.lowercased().hasPrefix("sip") else {
            return .error(code: 400, message: "Invalid ruri")
        }
        var hop = req.string("next_hop").value ?? ""
        if hop == "." { hop = "" }
        if !hop.isEmpty && !hop.lowercased().hasPrefix("sip") { return .error(code: 400, message: "Invalid next_hop") }
        var socket = req.string("socket").value ?? ""
        if socket == "." { socket = "" }
        let body = req.string("body").value ?? ""
        var raw = (req.string("headers").value ?? "").replacingOccurrences(of: "\\r\\n", with: "\r\n")
        if raw == "." { raw = "" }
        let lines = raw.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        if lines.contains(where: { !$0.contains(":") }) { return .error(code: 400, message: "Bad headers") }
        func has(_ names: [String]) -> Bool { lines.contains { names.contains(TM.headerName($0)) } }
        guard has(["to", "t"]) else { return .error(code: 400, message: "To missing") }
        guard has(["from", "f"]) else { return .error(code: 400, message: "From missing") }
        if !body.isEmpty && !has(["content-type", "c"]) { return .error(code: 400, message: "Content-Type missing") }
        if has(["content-length", "l"]) { return .error(code: 400, message: "Content-Length disallowed") }
        if let c = lines.first(where: { TM.headerName($0) == "cseq" }) {
            let v = c[c.index(after: c.firstIndex(of: ":")!)...].split(separator: " ")
            guard let n = v.first, Int64(n) != nil else { return .error(code: 400, message: "Bad CSeq number") }
            if v.count > 1 && String(v[1]) != method { return .error(code: 400, message: "CSeq method mismatch") }
        }
        // The answer waits for the final reply without holding the MI thread (OpenSIPS's async MI reply); on a core
        // that cannot answer later, OpenSIPS's answer for that case: "Accepted".
        let later = req.answerLater()
        let request = UACRequest(method: method, ruri: ruri, nextHop: hop, headers: lines.map { $0 + "\r\n" }.joined(),
                                 body: body, socket: socket)
        let rc = tm.uacSend(request) { r in
            // A code 0: the server stops first (the core has answered the call already).
            later?.send(r.code == 0 ? .error(code: 500, message: "MI/UAC failed") : .json(TMModule.uacAnswer(r, method: method)))
        }
        let now: MIReply
        switch rc {
        case 0: now = later == nil ? .string("Accepted") : .pending
        case -3: now = .error(code: 404, message: "Local socket not found")
        case -4: now = .error(code: 476, message: "Unresolvable destination (476/MI/UAC)")
        case -6: now = .error(code: 477, message: "Send failed (477/MI/UAC)")
        default: now = .error(code: 400, message: "Bad parameters")
        }
        guard let later, rc != 0 else { return now }
        later.send(now)
        return .pending
    }

    /// OpenSIPS's t_uac_dlg answer: the status; for a reply received, the dialog's remote target, next hop and route
    /// set when it confirms one (2xx with a Contact), and the reply from its first header on.
    static func uacAnswer(_ r: UACResult, method: String) -> String {
        let status = "\(r.code) \(r.reply == nil ? TM.reasonPhrase(r.code) : r.reason)"
        var out = "{\"Status\": " + MIReply.quote(status)
        if let bytes = r.reply, let msg = try? SIPMessage.parse(bytes) {
            if (200..<300).contains(r.code), let contact = msg.header("Contact").flatMap({ NameAddr.parse($0)?.uri }) {
                let routes = TM.routeSet(msg).reversed().map { $0 }
                let nextHop = routes.first.flatMap { NameAddr.parse($0)?.uri } ?? contact
                out += ", \"RURI\": " + MIReply.quote(contact) + ", \"Next-hop\": " + MIReply.quote(nextHop)
                out += ", \"Routes\": [" + routes.map { MIReply.quote($0) }.joined(separator: ", ") + "]"
            }
            let first = msg.fields.first.map { $0.line.lowerBound } ?? msg.headersStart
            out += ", \"Message\": " + MIReply.quote(String(decoding: bytes[first...], as: UTF8.self))
        }
        return out + "}"
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
