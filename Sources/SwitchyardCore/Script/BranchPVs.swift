/// The destination set as variables: OpenSIPS 3.6's `$msg.branch.<field>` (index 0 the request-URI branch, 1.. the
/// appended branches, negative from the last; no index: the last added, or the request-URI branch when none) and
/// the older `$branch(<field>)` (index 0 the first appended branch; no index: 0). Fields: uri, duri, q, path,
/// flags, socket; `$msg.branch.flag(NAME)` one branch flag (0/1). `$msg.branch` / `$branch` = "uri" appends a
/// branch of that URI. Read-only otherwise.
// @unchecked Sendable: its properties are `let`, set when the script is resolved; the branches it reads or appends
// are the context's, confined to the context's thread.
final class BranchFieldPV: PVAccessor, @unchecked Sendable {
    enum Field: String, CaseIterable { case uri, duri, q, path, flags, socket }
    enum Indexing { case withRURI, appendedOnly }
    enum What { case field(Field), flag(UInt64) }
    let what: What
    let indexing: Indexing
    let appendOnWrite: Bool

    init(_ what: What, indexing: Indexing, appendOnWrite: Bool = false) {
        self.what = what
        self.indexing = indexing
        self.appendOnWrite = appendOnWrite
    }

    override var writable: Bool { appendOnWrite }
    override var supportsIndex: Bool { true }

    /// The branches in index order for this variable's indexing.
    private func list(_ ctx: ScriptContext) -> [MessageBranch] {
        switch indexing {
        case .withRURI: return (BranchSet.ruriBranch(ctx).map { [$0] } ?? []) + ctx.message.branches
        case .appendedOnly: return ctx.message.branches
        }
    }

    override func get(_ ctx: ScriptContext) -> Value {
        switch indexing {
        case .withRURI:
            if let last = ctx.message.branches.last { return value(last) }
            return BranchSet.ruriBranch(ctx).map(value) ?? .null
        case .appendedOnly:
            return ctx.message.branches.first.map(value) ?? .null
        }
    }

    override func get(_ ctx: ScriptContext, index: Int) -> Value {
        let l = list(ctx)
        let i = index >= 0 ? index : l.count + index
        return i >= 0 && i < l.count ? value(l[i]) : .null
    }

    /// `[*]`: every branch; `$branch(...)[*]` gives the URIs whatever the field, as OpenSIPS's pv_get_branch_fields.
    override func all(_ ctx: ScriptContext) -> [Value] {
        if indexing == .appendedOnly { return ctx.message.branches.map { .str($0.uri) } }
        return list(ctx).map(value)
    }

    override func set(_ ctx: ScriptContext, _ op: AssignOp, _ value: Value) -> Bool {
        guard appendOnWrite, let uri = value.stringForm, SIPURI(uri) != nil else { return false }
        ctx.message.branches.append(MessageBranch(uri: uri))
        return true
    }

    private func value(_ b: MessageBranch) -> Value {
        switch what {
        case .flag(let bit): return .int(b.flags & bit != 0 ? 1 : 0)
        case .field(let f):
            switch f {
            case .uri: return .str(b.uri)
            case .duri: return b.dst.map { .str($0) } ?? .null
            case .q: return .str(b.q.map { QValue.text($0) } ?? "")  // q2str(Q_UNSPECIFIED): empty
            case .path: return .null
            case .flags: return .int(Int(truncatingIfNeeded: b.flags))
            case .socket: return b.socket.map { .str($0.name) } ?? .null
            }
        }
    }

    static func classes() -> [PVClass] {
        var list: [PVClass] = []
        for f in Field.allCases {
            list.append(PVClass(name: "msg.branch." + f.rawValue, needsInner: false) { _, _ in
                BranchFieldPV(.field(f), indexing: .withRURI)
            })
        }
        list.append(PVClass(name: "msg.branch", needsInner: false) { _, _ in
            BranchFieldPV(.field(.uri), indexing: .withRURI, appendOnWrite: true)
        })
        list.append(PVClass(name: "msg.branch.flag", needsInner: true) { inner, engine throws(PVResolveError) in
            let slot = engine.branchFlagSlots.slot(inner!.trimmingCharacters(in: .whitespaces))
            guard slot < BranchFlags.max else {
                throw PVResolveError("too many branch flags (at most \(BranchFlags.max) names)")
            }
            return BranchFieldPV(.flag(1 << UInt64(slot)), indexing: .withRURI)
        })
        list.append(PVClass(name: "branch", needsInner: false) { inner, _ throws(PVResolveError) in
            guard let name = inner?.trimmingCharacters(in: .whitespaces), !name.isEmpty else {
                return BranchFieldPV(.field(.uri), indexing: .appendedOnly, appendOnWrite: true)
            }
            guard let f = Field(rawValue: name) else {
                throw PVResolveError("$branch(\(name)): unknown field (uri, duri, q, path, flags, socket)")
            }
            return BranchFieldPV(.field(f), indexing: .appendedOnly)
        })
        return list
    }
}

extension QValue {
    /// As OpenSIPS prints a q value: "1", "0", "0.5", "0.25".
    static func text(_ q: Int) -> String {
        if q >= 1000 { return "1" }
        if q <= 0 { return "0" }
        var frac = String(q)
        frac = String(repeating: "0", count: 3 - frac.count) + frac
        while frac.hasSuffix("0") { frac.removeLast() }
        return "0." + frac
    }
}
