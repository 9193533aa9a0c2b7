// Per-branch values of scripts: $bavp(name), $tm.branch.uri/duri/path/q/flags/socket/last_received/type,
// $tm.branch.flag(NAME), $tm.branch.attr(name), and $T_branch_last_reply_code[idx].
import Synchronization
import SwitchyardPluginKit

/// What scripts attach to one branch, made on first write: branch flags, attributes, AVPs.
final class BranchScript {
    // Guarded as its branch (the bucket lock), or confined to the branch route's context while it is a draft.
    var flags: UInt64 = 0
    var attrs: [String: SYValue] = [:]
    /// AVP stacks by name, newest last.
    var avps: [String: [SYValue]] = [:]
}

/// Branch flag names as scripts name them (`$tm.branch.flag(NAME)`), each given a bit when the script is parsed.
enum BranchFlagNames {
    static let names = Mutex<[String]>([])

    static func bit(_ name: String) throws -> Int {
        try names.withLock { n in
            if let i = n.firstIndex(of: name) { return i }
            guard n.count < 64 else { throw PluginError("more than 64 branch flag names") }
            n.append(name)
            return n.count - 1
        }
    }
}

/// What a branch was made with besides its URIs: q value (thousandths, -1 none) and Path (empty: none).
struct BranchAttrs {
    var q: Int32 = -1
    var path = ""

    /// `$tm.branch.q`: as OpenSIPS prints a q value ("1", "0", "0.5", "0.25"); null when none was given.
    var qValue: SYValue {
        guard q >= 0 else { return .null }
        if q >= 1000 { return .string("1") }
        if q == 0 { return .string("0") }
        var frac = String(q)
        frac = String(repeating: "0", count: 3 - frac.count) + frac
        while frac.hasSuffix("0") { frac.removeLast() }
        return .string("0." + frac)
    }

    var pathValue: SYValue { path.isEmpty ? .null : .string(path) }
}

/// The `$tm.branch.*` fields.
enum BranchField: Sendable { case uri, duri, path, q, flags, socket, lastReceived, type }

extension TM {
    /// The branch a route works for without an index: the one being built (branch route: nil, the draft is used), the
    /// reply's, or in a failure route the one that completed the set. Bucket lock held by the caller.
    func currentBranch(_ tx: TxnContext) -> Branch? {
        guard let c = tx.cell, tx.kind != .branch, tx.branchIndex >= 0, tx.branchIndex < c.branches.count else { return nil }
        return c.branches[tx.branchIndex]
    }

    /// Runs body on the script data of the route's branch (made when `create`), with the bucket lock held. Outside
    /// branch, reply and failure routes there is none.
    func withBranchScript<R>(_ ctx: SYContext, create: Bool, _ body: (BranchScript?) -> R) -> R {
        guard let tx = existingTxn(ctx) else { return body(nil) }
        if tx.kind == .branch {
            if create && tx.draft == nil { tx.draft = BranchScript() }
            return body(tx.draft)
        }
        guard tx.kind == .reply || tx.kind == .failure, let c = tx.cell else { return body(nil) }
        return table.withBucket(c.hashIndex) {
            guard let b = currentBranch(tx) else { return body(nil) }
            if create && b.script == nil { b.script = BranchScript() }
            return body(b.script)
        }
    }

    // MARK: $bavp(name): a stack per branch, as $avp

    func bavpGet(_ ctx: SYContext, _ name: String, index: Int? = nil) -> SYValue {
        withBranchScript(ctx, create: false) { s in
            guard let stack = s?.avps[name], !stack.isEmpty else { return .null }
            guard let i = index else { return stack.last! }  // not empty: checked above
            return i < stack.count ? stack[stack.count - 1 - i] : .null
        }
    }

    func bavpCount(_ ctx: SYContext, _ name: String) -> Int64 {
        withBranchScript(ctx, create: false) { Int64($0?.avps[name]?.count ?? 0) }
    }

    func bavpSet(_ ctx: SYContext, _ name: String, _ op: AssignOp, _ v: SYValue) -> Bool {
        withBranchScript(ctx, create: true) { s in
            guard let s else {
                host.log(.err, "$bavp(\(name)): only in branch, onreply and failure routes of a transaction")
                return false
            }
            var stack = s.avps[name] ?? []
            switch (op == .colonAssign, v.isNull) {
            case (true, true): stack.removeAll()
            case (true, false): stack = [v]
            case (false, true): if !stack.isEmpty { stack.removeLast() }
            case (false, false): stack.append(v)
            }
            s.avps[name] = stack.isEmpty ? nil : stack
            return true
        }
    }

    // MARK: $tm.branch.*

    /// A field of branch `index` (absolute; nil: the route's current branch). Null when there is no such branch.
    func branchField(_ ctx: SYContext, _ f: BranchField, index: Int?) -> SYValue {
        guard let tx = existingTxn(ctx), let c = tx.cell else { return .null }
        if index == nil && tx.kind == .branch {
            // The branch being built: what the branch route sees of it now.
            switch f {
            case .uri: return host.varGet(ctx, ruVar) ?? .null
            case .duri: return host.varGet(ctx, duVar) ?? .null
            case .flags: return .int(Int64(bitPattern: tx.draft?.flags ?? 0))
            case .type: return .string("sip")
            case .lastReceived: return .int(0)
            case .q: return tx.draftAttrs.qValue
            case .path: return tx.draftAttrs.pathValue
            case .socket: return .null
            }
        }
        return table.withBucket(c.hashIndex) {
            let i = index ?? tx.branchIndex
            guard i >= 0, i < c.branches.count else { return .null }
            let b = c.branches[i]
            switch f {
            case .uri: return .string(b.uri)
            case .duri: return b.dst.isEmpty ? .null : .string(b.dst)
            case .q: return b.attrs.qValue
            case .path: return b.attrs.pathValue
            case .flags: return .int(Int64(bitPattern: b.script?.flags ?? 0))
            case .socket: return TM.socketText(b.request).map { .string($0) } ?? .null
            case .lastReceived: return .int(Int64(b.lastCode))
            case .type: return .string("sip")
            }
        }
    }

    func branchCount(_ ctx: SYContext) -> Int64 {
        guard let c = existingTxn(ctx)?.cell else { return 0 }
        return table.withBucket(c.hashIndex) { Int64(c.branches.count) }
    }

    /// Branches of the current set (the last relay's: `[i/active]` indexes), counted.
    func activeCount(_ ctx: SYContext) -> Int64 {
        guard let c = existingTxn(ctx)?.cell else { return 0 }
        return table.withBucket(c.hashIndex) { Int64(max(0, c.branches.count - c.firstBranch)) }
    }

    /// The absolute index of the `i`-th branch of the current set (i >= 0: the core maps negative ones).
    func absoluteIndex(_ ctx: SYContext, active i: Int64) -> Int {
        guard let c = existingTxn(ctx)?.cell else { return -1 }
        return table.withBucket(c.hashIndex) { c.firstBranch + Int(i) }
    }

    /// `proto:host:port` of the Via a branch request was sent with.
    static func socketText(_ request: [UInt8]) -> String? {
        guard let r = request.firstRange(of: Array("\r\nVia: SIP/2.0/".utf8)) else { return nil }
        var i = r.upperBound
        var proto = "", host = ""
        while i < request.count, request[i] != 32 { proto.append(Character(UnicodeScalar(request[i]))); i += 1 }
        i += 1
        while i < request.count, ![59, 13, 32].contains(request[i]) { host.append(Character(UnicodeScalar(request[i]))); i += 1 }
        return proto.lowercased() + ":" + host
    }

    // MARK: $tm.branch.flag(NAME), $tm.branch.attr(name)

    func branchFlag(_ ctx: SYContext, _ bit: Int, index: Int?) -> SYValue {
        let flags: UInt64 = withIndexedScript(ctx, index: index, create: false) { $0?.flags ?? 0 }
        return .int(Int64((flags >> UInt64(bit)) & 1))
    }

    func setBranchFlag(_ ctx: SYContext, _ bit: Int, _ v: SYValue) -> Bool {
        let on: Bool
        switch v {
        case .int(let i): on = i != 0
        case .string(let t): on = !(t.isEmpty || t == "0")
        case .null: on = false
        }
        let mask: UInt64 = 1 << UInt64(bit)
        return withBranchScript(ctx, create: true) { s in
            guard let s else { return false }
            if on { s.flags |= mask } else { s.flags &= ~mask }
            return true
        }
    }

    func branchAttr(_ ctx: SYContext, _ name: String, index: Int?) -> SYValue {
        withIndexedScript(ctx, index: index, create: false) { $0?.attrs[name] ?? .null }
    }

    func setBranchAttr(_ ctx: SYContext, _ name: String, _ v: SYValue) -> Bool {
        withBranchScript(ctx, create: true) { s in
            guard let s else { return false }
            s.attrs[name] = v.isNull ? nil : v
            return true
        }
    }

    /// Script data of branch `index` (nil: the current one, the draft in a branch route), bucket lock held in body.
    func withIndexedScript<R>(_ ctx: SYContext, index: Int?, create: Bool, _ body: (BranchScript?) -> R) -> R {
        guard index != nil, let tx = existingTxn(ctx), let c = tx.cell else { return withBranchScript(ctx, create: create, body) }
        return table.withBucket(c.hashIndex) {
            let i = index!  // checked above
            guard i >= 0, i < c.branches.count else { return body(nil) }
            let b = c.branches[i]
            if create && b.script == nil { b.script = BranchScript() }
            return body(b.script)
        }
    }
}

extension TMModule {
    func declareBranchPVs(_ m: inout ModuleExportsBuilder) {
        m.pseudoVariable("bavp", parse: { $0 },
                         get: { [self] ctx, name in tm?.bavpGet(ctx, name) ?? .null },
                         set: { [self] ctx, name, op, v in tm?.bavpSet(ctx, name, op, v) ?? false },
                         count: { [self] ctx, name in tm?.bavpCount(ctx, name) ?? 0 },
                         getIndex: { [self] ctx, name, i in tm?.bavpGet(ctx, name, index: Int(i)) })
        let fields: [(String, BranchField)] = [("uri", .uri), ("duri", .duri), ("path", .path), ("q", .q),
                                               ("flags", .flags), ("socket", .socket),
                                               ("last_received", .lastReceived), ("type", .type)]
        // Each also as `name/active`: `$(tm.branch.uri[i/active])` indexes the current set (the last relay's
        // branches), negative from its last.
        for active in [false, true] {
            let suffix = active ? "/active" : ""
            let count: @Sendable (SYContext) -> Int64 = { [self] ctx in
                (active ? tm?.activeCount(ctx) : tm?.branchCount(ctx)) ?? 0
            }
            let at: @Sendable (SYContext, Int64) -> Int = { [self] ctx, i in
                active ? (tm?.absoluteIndex(ctx, active: i) ?? -1) : Int(i)
            }
            for (name, f) in fields {
                m.pseudoVariable("tm.branch." + name + suffix, parse: { _ in f },
                                 get: { [self] ctx, f in tm?.branchField(ctx, f, index: nil) ?? .null },
                                 count: { ctx, _ in count(ctx) },
                                 getIndex: { [self] ctx, f, i in tm?.branchField(ctx, f, index: at(ctx, i)) },
                                 nameRequired: false)
            }
            m.pseudoVariable("tm.branch.flag" + suffix, parse: { try BranchFlagNames.bit($0) },
                             get: { [self] ctx, bit in tm?.branchFlag(ctx, bit, index: nil) ?? .null },
                             set: { [self] ctx, bit, _, v in tm?.setBranchFlag(ctx, bit, v) ?? false },
                             count: { ctx, _ in count(ctx) },
                             getIndex: { [self] ctx, bit, i in tm?.branchFlag(ctx, bit, index: at(ctx, i)) })
            m.pseudoVariable("tm.branch.attr" + suffix, parse: { $0 },
                             get: { [self] ctx, name in tm?.branchAttr(ctx, name, index: nil) ?? .null },
                             set: { [self] ctx, name, _, v in tm?.setBranchAttr(ctx, name, v) ?? false },
                             count: { ctx, _ in count(ctx) },
                             getIndex: { [self] ctx, name, i in tm?.branchAttr(ctx, name, index: at(ctx, i)) })
        }
    }
}
