/// The destination set of a request (OpenSIPS's message branches): the request-URI is branch 0, appended branches
/// follow. append_branch / append_msg_branch add, remove_msg_branch / move_msg_branch / swap_msg_branches edit; tm
/// sends them all at t_relay (host sip_branch_get).
enum BranchFunctions {
    static func all() -> [FunctionDef] {
        func def(_ names: [String], _ params: [UInt32], _ body: @escaping @Sendable (ScriptContext, [ArgValue]) -> Int) -> [FunctionDef] {
            names.map { FunctionDef(name: $0, module: "core", params: params, impl: .core(body)) }
        }
        let str = ParamFlag.str, int = ParamFlag.int, opt = ParamFlag.opt
        let appendBranch: @Sendable (ScriptContext, [ArgValue]) -> Int = { ctx, a in
            var q: Int? = nil
            if a.count > 1, let t = a[1].value.stringForm, !t.isEmpty {
                guard let v = QValue.parse(t) else {
                    ctx.engine.log.error("append_branch: bad q value '\(t)'")
                    return -1
                }
                q = v
            }
            let m = ctx.message
            if let s = a[0].value.stringForm, !s.isEmpty {
                guard SIPURI(s) != nil else { return -1 }
                // The branch keeps the request-URI branch's $du, flags and socket, as OpenSIPS's
                // append_branch(msg, uri, &msg->dst_uri, ...): set $du after appending to send only the
                // request-URI branch there.
                ctx.message.branches.append(MessageBranch(uri: s, dst: m.destinationURI, q: q, flags: m.ruriBranchFlags,
                                                          socket: m.forcedSocket))
            } else {
                guard let u = ctx.message.requestURI?.text else { return -1 }
                ctx.message.branches.append(MessageBranch(uri: u, dst: m.destinationURI, q: q ?? m.ruriQ,
                                                          flags: m.ruriBranchFlags, socket: m.forcedSocket))
                // The request-URI branch gave its attributes to the new branch: they start empty again.
                ctx.message.destinationURI = nil
                ctx.message.ruriQ = nil
                ctx.message.ruriBranchFlags = 0
                ctx.message.forcedSocket = nil
            }
            return 1
        }
        let remove: @Sendable (ScriptContext, [ArgValue]) -> Int = { ctx, a in
            let i = a[0].value.intForm ?? -1
            guard i >= 0, i < ctx.message.branches.count else { return -1 }
            ctx.message.branches.remove(at: i)
            return 1
        }
        return def(["append_branch", "append_branch_old"], [str | opt, str | opt], appendBranch)
            // append_msg_branch(uri[, q][, flags]): a branch with only its URI (and q), or with "inherite" the
            // request-URI branch's $du, q, flags and socket too.
            + def(["append_msg_branch"], [str, str | opt, str | opt]) { ctx, a in
                guard let uri = a[0].value.stringForm, !uri.isEmpty, SIPURI(uri) != nil else {
                    ctx.engine.log.error("append_msg_branch: bad URI '\(a[0].value.stringForm ?? "")'")
                    return -1
                }
                var q: Int? = nil
                if let t = a[1].value.stringForm, !t.isEmpty {
                    guard let v = QValue.parse(t) else {
                        ctx.engine.log.error("append_msg_branch: bad q value '\(t)'")
                        return -1
                    }
                    q = v
                }
                var inherit = false
                for f in (a[2].value.stringForm ?? "").split(separator: ",") {
                    let name = f.trimmingCharacters(in: .whitespaces)
                    guard name == "inherite" || name.isEmpty else {
                        ctx.engine.log.error("append_msg_branch: unknown flag '\(name)' (inherite)")
                        return -1
                    }
                    if name == "inherite" { inherit = true }
                }
                var b = MessageBranch(uri: uri, dst: nil, q: q)
                if inherit {
                    let m = ctx.message
                    b.dst = m.destinationURI
                    b.q = q ?? m.ruriQ
                    b.flags = m.ruriBranchFlags
                    b.socket = m.forcedSocket
                }
                ctx.message.branches.append(b)
                return 1
            }
            // remove_msg_branch(idx): idx counts the appended branches from 0; the later ones shift down.
            + def(["remove_msg_branch", "remove_branch"], [int], remove)
            // move_msg_branch([src][, dst][, "keep"]): a missing or negative index is the request-URI branch.
            + def(["move_msg_branch", "move_branch"], [int | opt, int | opt, str | opt]) { ctx, a in
                let src = a[0].value.intForm ?? -1, dst = a[1].value.intForm ?? -1
                let keep = a[2].value.stringForm == "keep"
                return BranchSet.move(ctx, from: src, to: dst, keep: keep) ? 1 : -1
            }
            + def(["swap_msg_branches", "swap_branches"], [int | opt, int | opt]) { ctx, a in
                BranchSet.swap(ctx, a[0].value.intForm ?? -1, a[1].value.intForm ?? -1) ? 1 : -1
            }
    }
}

/// Moves and swaps within the destination set; index -1 (any negative) is the request-URI branch, 0.. the
/// appended branches.
enum BranchSet {
    /// The request-URI branch as a branch.
    static func ruriBranch(_ ctx: ScriptContext) -> MessageBranch? {
        guard let u = ctx.message.requestURI?.text else { return nil }
        let m = ctx.message
        return MessageBranch(uri: u, dst: m.destinationURI, q: m.ruriQ, flags: m.ruriBranchFlags, socket: m.forcedSocket)
    }

    /// Makes a branch the request-URI branch: $ru, $du, q, flags and socket.
    static func setRURIBranch(_ ctx: ScriptContext, _ b: MessageBranch) -> Bool {
        guard let u = SIPURI(b.uri) else { return false }
        ctx.message.requestURI = u
        ctx.message.destinationURI = b.dst
        ctx.message.ruriQ = b.q
        ctx.message.ruriBranchFlags = b.flags
        ctx.message.forcedSocket = b.socket
        return true
    }

    static func valid(_ ctx: ScriptContext, _ i: Int) -> Bool { i < 0 || i < ctx.message.branches.count }

    static func get(_ ctx: ScriptContext, _ i: Int) -> MessageBranch? {
        i < 0 ? ruriBranch(ctx) : ctx.message.branches[i]
    }

    static func put(_ ctx: ScriptContext, _ i: Int, _ b: MessageBranch) -> Bool {
        if i < 0 { return setRURIBranch(ctx, b) }
        ctx.message.branches[i] = b
        return true
    }

    /// Copies branch `from` over branch `to`, then removes `from` unless kept. As OpenSIPS, the source is removed
    /// only when its index is above 0 (moving appended branch 0 leaves it in place).
    static func move(_ ctx: ScriptContext, from: Int, to: Int, keep: Bool) -> Bool {
        if from == to || (from < 0 && to < 0) { return true }
        guard valid(ctx, from), valid(ctx, to), let b = get(ctx, from), put(ctx, to, b) else { return false }
        if !keep && from > 0 { ctx.message.branches.remove(at: from) }
        return true
    }

    static func swap(_ ctx: ScriptContext, _ x: Int, _ y: Int) -> Bool {
        if x == y || (x < 0 && y < 0) { return true }
        guard valid(ctx, x), valid(ctx, y), let bx = get(ctx, x), let by = get(ctx, y) else { return false }
        return put(ctx, x, by) && put(ctx, y, bx)
    }
}

/// setbflag / resetbflag / isbflagset(flag[, idx]): a flag of branch idx (0, the default: the request-URI branch;
/// 1..: the appended branches). A branch that does not exist answers -1.
// @unchecked Sendable: as CallNode; its own properties are `let`, set in init (the branch state it reads and writes
// is the context's, confined to the context's thread).
final class BranchFlagNode: CallNode, @unchecked Sendable {
    let op: FlagNode.Op
    let bit: UInt64
    let index: ResolvedArg
    init(op: FlagNode.Op, slot: Int, index: ResolvedArg, _ loc: SourceLocation) {
        self.op = op
        self.bit = 1 << UInt64(slot)
        self.index = index
        super.init(loc)
    }

    override func invoke(_ ctx: ScriptContext) -> Int {
        let idx: Int
        switch index {
        case .int(let n): idx = n
        case .pv(let pv, _):
            guard let n = pv.get(ctx).intForm else {
                ctx.engine.log.error("\(location): branch index \(pv.text) is not an integer")
                return -1
            }
            idx = n
        default: idx = 0
        }
        if idx == 0 { return apply(&ctx.message.ruriBranchFlags) }
        guard idx > 0, idx <= ctx.message.branches.count else { return -1 }
        return apply(&ctx.message.branches[idx - 1].flags)
    }

    private func apply(_ flags: inout UInt64) -> Int {
        switch op {
        case .set: flags |= bit; return 1
        case .reset: flags &= ~bit; return 1
        case .test: return flags & bit != 0 ? 1 : -1
        }
    }
}

extension Resolver {
    /// setbflag("NAME"[, idx]): the name is static (3.x named flags); a number is the 2.4 form, taken as that name.
    func branchFlag(_ c: CallExpr) -> CallNode? {
        guard (1...2).contains(c.args.count) else {
            error(c.location, "\(c.name)() takes a flag name and an optional branch index: \(c.name)(\"NAME\"[, idx])")
            return nil
        }
        let name: String
        switch c.args[0] {
        case .string(let s, _):
            name = s
        case .int(let n, let loc):
            name = String(n)
            diagnostics.warning(loc, "\(c.name)(): the flag number \(n) is taken as the flag named \"\(n)\" (OpenSIPS 2.4 form; "
                                + "3.x names flags: \(c.name)(\"NAME\"))")
        default:
            error(c.args[0].location, "\(c.name)(): flags are quoted names in 3.x: \(c.name)(\"NAME\"[, idx])")
            return nil
        }
        let slot = engine.branchFlagSlots.slot(name)
        if slot >= BranchFlags.max {
            error(c.args[0].location, "too many branch flags (at most \(BranchFlags.max) names)")
            return nil
        }
        var index = ResolvedArg.omitted
        if c.args.count == 2 {
            guard let r = fixArg(c.args[1], spec: ParamFlag.int | ParamFlag.opt, fn: c.name, position: 2) else { return nil }
            index = r
        }
        let op: FlagNode.Op = c.name == "setbflag" ? .set : (c.name == "resetbflag" ? .reset : .test)
        return BranchFlagNode(op: op, slot: slot, index: index, c.location)
    }
}

/// OpenSIPS's branch flags are the bits of a 32-bit flag_t: at most 32 names.
enum BranchFlags {
    static let max = 32
}
