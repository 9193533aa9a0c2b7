// t_write_req / t_write_unix: the request handed to an external application (a voicemail, a logger) as lines of text,
// through a FIFO or a unix datagram socket; the transaction gets a blind branch, so that the caller has tm's 408
// after fr_timeout unless the application answers first (MI t_reply with the transaction's hash:label).
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardPluginKit
import SwitchyardSIP

/// What t_write_* read besides the message itself, resolved at startup; the tw_append lists and unix_tx_timeout.
struct TWriteSettings: Sendable {
    var appends = TWAppends()
    /// unix_tx_timeout, in seconds (0...maxUnixTxTimeout, checked at startup).
    var unixTxTimeout = 2
    /// A request route waiting longer than this for one receiver holds a SIP worker for too long.
    static let maxUnixTxTimeout = 60
    var vars: Vars?

    /// The request-URI and its user and host, the address and port the request came in on, the whole message.
    struct Vars: Sendable {
        let ru, rU, rd, ri, rp, mb: SYVar
    }

    mutating func resolve(_ host: PluginHost) throws(PluginError) {
        vars = Vars(ru: try host.varParse("$ru"), rU: try host.varParse("$rU"), rd: try host.varParse("$rd"),
                    ri: try host.varParse("$Ri"), rp: try host.varParse("$Rp"), mb: try host.varParse("$mb"))
    }
}

extension TMModule {
    func declareTWrite(_ m: inout ModuleExportsBuilder) {
        m.param("unix_tx_timeout", [.int]) { [self] v in
            let t = try intParam(v, "unix_tx_timeout")
            guard (0...TWriteSettings.maxUnixTxTimeout).contains(t) else {
                throw PluginError("unix_tx_timeout must be between 0 and \(TWriteSettings.maxUnixTxTimeout) seconds (got \(t))")
            }
            config.twrite.unixTxTimeout = t
        }
        m.param("tw_append", [.str, .repeatable]) { [self] v in
            guard case .string(let text) = v else { return }
            let h = host
            guard let list = try TWAppend.parse(text, resolve: { spec throws(PluginError) in try h.varParse(spec) }) else { return }
            try config.twrite.appends.add(list)
        }
        let routes: RouteMask = [.request, .failure, .branch]
        m.function("t_write_req", params: [.str, .str], routes: routes, fixup: checkAppendName) { [self] call in
            tm?.tWrite(call, unix: false) ?? -1
        }
        m.function("t_write_unix", params: [.str, .str], routes: routes, fixup: checkAppendName) { [self] call in
            tm?.tWrite(call, unix: true) ?? -1
        }
    }
}

extension Cell {
    /// A blind branch: nothing is sent, only its final-response timer runs (OpenSIPS's add_blind_uac).
    func addBlindBranch(frAt: Int64) -> Bool {
        guard branches.count < maxBranches else { return false }
        let b = Branch(index: branches.count, uri: "", dst: "", request: [], target: sy_sip_target())
        b.frAt = frAt
        branches.append(b)
        orphanAt = 0
        return true
    }
}

extension TM {
    /// t_write_req(info, fifo) / t_write_unix(info, sock): 1 written (and the blind branch added), -1 otherwise.
    func tWrite(_ call: FunctionCall, unix: Bool) -> Int32 {
        let fn = unix ? "t_write_unix" : "t_write_req"
        let ctx = call.context
        let info = call.string(0), path = call.string(1)
        // "action[/append]": the action names the command line, the append the tw_append list.
        var action = Substring(info)
        var append: TWAppend?
        if let slash = info.firstIndex(of: "/") {
            action = info[..<slash]
            let name = info[info.index(after: slash)...]
            guard !action.isEmpty else { host.log(.err, "\(fn): empty action name in '\(info)'"); return -1 }
            guard !name.isEmpty else { host.log(.err, "\(fn): empty append name in '\(info)'"); return -1 }
            guard let a = cfg.twrite.appends.find(name) else {
                host.log(.err, "\(fn): unknown append name <\(name)> (no such tw_append)")
                return -1
            }
            append = a
        }
        guard let tx = existingTxn(ctx), let cell = tx.cell else {
            host.log(.err, "\(fn): no transaction (call t_newtran first)")
            return -1
        }
        let text: [UInt8]
        switch assemble(ctx, cell: cell, action: action, append: append) {
        case .failure(let e): host.log(.err, "\(fn): \(e.message)"); return -1
        case .success(let t): text = t
        }
        // Only the request route may wait for room: failure and branch routes run with the bucket lock held, and a
        // failure route started by a timeout runs on tm's timer thread, which must never stall (README 10).
        let waitMS = tx.kind == .request ? cfg.twrite.unixTxTimeout * 1000 : nil
        if let e = unix ? TWrite.sendUnix(path, text, timeoutMS: waitMS) : TWrite.writeFIFO(path, text) {
            host.log(.err, "\(fn): \(e)")
            return -1
        }
        return table.withBucket(cell.hashIndex) { () -> Int32 in
            // In a branch route the relay is building a branch whose index is taken: the blind one follows it.
            if tx.kind == .branch {
                cell.blindOwed += 1
                return 1
            }
            // Routes armed after the cell was made go on it, as a relay does (t_on_failure then sees the 408).
            if let f = tx.onFailure { cell.onFailure = f; tx.onFailure = nil }
            if let r = tx.onReply { cell.onReply = r; tx.onReply = nil }
            if let b = tx.onBranch { cell.onBranch = b; tx.onBranch = nil }
            guard cell.addBlindBranch(frAt: nowMS() + cell.frTimeout) else {
                host.log(.err, "\(fn): maximum number of branches (\(maxBranches)) exceeded")
                return -1
            }
            // From now on t_on_* in this route arm the cell itself (nothing else would carry them there).
            tx.armsCell = true
            reschedule(cell)
            return 1
        }
    }

    /// The blind branches t_write_* asked for in branch routes, added once the relay's branches are out (bucket lock
    /// held). Returns how many were added.
    func addOwedBlindBranches(_ cell: Cell) -> Int {
        var added = 0
        let at = nowMS() + cell.frTimeout
        while cell.blindOwed > 0 {
            cell.blindOwed -= 1
            if cell.addBlindBranch(frAt: at) { added += 1 } else {
                host.log(.err, "t_write: maximum number of branches (\(maxBranches)) exceeded")
            }
        }
        return added
    }

    /// The text written: one item per line, in OpenSIPS's order (see README 4).
    func assemble(_ ctx: SYContext, cell: Cell, action: Substring, append: TWAppend?) -> Result<[UInt8], PluginError> {
        guard let v = cfg.twrite.vars else { return .failure(PluginError("tm is not initialised")) }
        func text(_ variable: SYVar) -> String {
            switch host.varGet(ctx, variable) {
            case .string(let s)?: return s
            case .int(let n)?: return String(n)
            default: return ""
            }
        }
        guard action.utf8.count + 12 < 128 else { return .failure(PluginError("action name too long")) }
        guard let msg = try? SIPMessage.parse(Array(text(v.mb).utf8)), msg.isRequest, let method = msg.method else {
            return .failure(PluginError("not a parsable SIP request"))
        }
        guard let from = msg.field(.from).map({ msg.value(of: $0) }), let fromAddr = msg.from,
              let to = msg.field(.to).map({ msg.value(of: $0) }), let callID = msg.callID,
              let cseq = msg.field(.cseq).map({ msg.value(of: $0) }) else {
            return .failure(PluginError("From, To, Call-ID or CSeq missing"))
        }
        let plan: TWrite.Routing
        switch TWrite.routing(msg, fromURI: fromAddr.uri) {
        case .failure(let e): return .failure(e)
        case .success(let p): plan = p
        }
        // Appended lines: the message flags, each non-null element, then the separator.
        var appended = "P-MsgFlags: 0\n"
        for e in append?.elements ?? [] {
            let value: String
            switch host.varGet(ctx, e.variable) {
            case .string(let s)?: value = s
            case .int(let n)?: value = String(n)
            case .null?: continue
            case nil: host.log(.err, "t_write: failed to get '\(e.label)' (\(e.spec))"); continue
            }
            appended += e.label + ": " + value + "\n"
            guard appended.utf8.count < 4096 else { return .failure(PluginError("overflow: appended lines exceed 4096 bytes")) }
        }
        appended += "."
        let port = host.varGet(ctx, v.rp)
        let lines: [String] = [
            "0.3",                                       // version of the format
            "sip_request." + String(action),
            method,
            text(v.rU), text(v.rd),                      // user and host of the request-URI
            text(v.ri),                                  // our address the request came in on
            port == .int(5060) ? "." : text(v.rp),
            text(v.ru),                                  // request-URI
            plan.nextURI.isEmpty ? "." : plan.nextURI,   // request-URI of later requests
            from, to, callID,
            fromAddr.param("tag") ?? "", msg.toTag ?? "",
            String(cseq.prefix { $0 != " " && $0 != "\t" }),
            "\(cell.hashIndex):\(cell.label)",           // what MI t_reply takes as trans_id
            plan.route.isEmpty ? "." : plan.route,
            plan.nextHop.isEmpty ? "." : plan.nextHop,
            appended,
        ]
        var out = Array(lines.joined(separator: "\n").utf8)
        out.append(10)
        if method == "INVITE" || append?.addBody == true { out += rawBody(ctx) ?? msg.body } else { out.append(46) }
        out.append(10)
        return .success(out)
    }
}

extension TM {
    /// The request's body as received, byte for byte: `$mb` is a string, where bytes that are not UTF-8 would read
    /// as U+FFFD. The core's edited form of the request (ABI 1.10) carries the body untouched; nil on an older core.
    func rawBody(_ ctx: SYContext) -> [UInt8]? {
        guard core.host.provides(\.sip_build_edited), let bytes = core.buildEdited(ctx),
              let msg = try? SIPMessage.parse(bytes) else { return nil }
        return msg.body
    }
}

extension Branch {
    /// A blind branch (t_write_*): nothing was sent on it, so nothing will ever answer it.
    var isBlind: Bool { request.isEmpty && uri.isEmpty }
}

enum TWrite {}
