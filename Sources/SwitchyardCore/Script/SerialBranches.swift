/// serialize_branches(clear[, keep_order]) / next_branches(): the destination set (request-URI branch and appended
/// branches) turned into a queue of q-value classes, highest q first, kept in a reserved AVP so it survives into the
/// failure route with the transaction; next_branches() takes the next class: its first contact becomes the
/// request-URI branch, the others are appended.
enum SerialBranches {
    /// The AVP the queue lives in (one string per contact; the next to use is the newest value).
    static let avpName = "__serial_branches"
    static let sep: Character = "\u{1}"

    static func all() -> [FunctionDef] {
        let int = ParamFlag.int, opt = ParamFlag.opt
        return [
            FunctionDef(name: "serialize_branches", module: "core", params: [int, int | opt], impl: .core { ctx, a in
                serialize(ctx, clear: (a[0].value.intForm ?? 0) != 0, keepOrder: (a[1].value.intForm ?? 0) != 0)
            }),
            FunctionDef(name: "next_branches", module: "core", params: [], impl: .core { ctx, _ in next(ctx) }),
        ]
    }

    static func slot(_ ctx: ScriptContext) -> Int { ctx.engine.avpSlots.slot(avpName) }

    /// Returns 1 (also when there is nothing to serialize: one contact alone stays where it is).
    static func serialize(_ ctx: ScriptContext, clear: Bool, keepOrder: Bool) -> Int {
        let s = slot(ctx)
        if clear { ctx.withAVP(s) { $0.removeAll() } }
        guard !ctx.message.branches.isEmpty, let ruri = BranchSet.ruriBranch(ctx) else { return 1 }
        var contacts = [ruri] + ctx.message.branches
        // Highest q first; no q counts as 1 (RFC 3261); equal q keep their order.
        if !keepOrder {
            contacts = contacts.enumerated().sorted { x, y in
                let qx = x.element.q ?? 1000, qy = y.element.q ?? 1000
                return qx != qy ? qx > qy : x.offset < y.offset
            }.map(\.element)
        }
        ctx.message.branches.removeAll()
        // Pushed last contact first: the newest AVP value is the next to use.
        ctx.withAVP(s) { stack in
            for c in contacts.reversed() { stack.append(.str(encode(c))) }
        }
        return 1
    }

    /// 1: contacts loaded and more are queued; 2: the last ones loaded; -1: nothing queued.
    static func next(_ ctx: ScriptContext) -> Int {
        let s = slot(ctx)
        var group: [MessageBranch] = []
        ctx.withAVP(s) { stack in
            while let top = stack.last, case .str(let text) = top, let b = decode(text, ctx) {
                if let first = group.first, first.q != b.q { break }
                group.append(b)
                stack.removeLast()
            }
        }
        guard let first = group.first else { return -1 }
        _ = BranchSet.setRURIBranch(ctx, first)
        ctx.message.branches.append(contentsOf: group.dropFirst())
        return ctx.avpStack(s).isEmpty ? 2 : 1
    }

    static func encode(_ b: MessageBranch) -> String {
        [b.q.map(String.init) ?? "", String(b.flags), b.socket?.name ?? "", b.dst ?? "", b.uri].joined(separator: String(sep))
    }

    static func decode(_ text: String, _ ctx: ScriptContext) -> MessageBranch? {
        let f = text.split(separator: sep, omittingEmptySubsequences: false).map(String.init)
        guard f.count == 5 else { return nil }
        return MessageBranch(uri: f[4], dst: f[3].isEmpty ? nil : f[3], q: Int(f[0]), flags: UInt64(f[1]) ?? 0,
                             socket: f[2].isEmpty ? nil : ctx.engine.sip?.findSocket(f[2]))
    }
}
