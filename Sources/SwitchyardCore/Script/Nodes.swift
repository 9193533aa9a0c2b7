/// The resolved, executable form of a script: a tree of nodes built once at startup.
/// Nodes are immutable and shared by all workers; all mutable state lives in ScriptContext.

class StmtNode: @unchecked Sendable {
    let location: SourceLocation
    init(_ location: SourceLocation) { self.location = location }
    /// Runs the statement; returns its action code and may change ctx.flow.
    func exec(_ ctx: ScriptContext) -> Int { 1 }
}

final class BlockNode: StmtNode, @unchecked Sendable {
    let stmts: [StmtNode]
    /// The same statements, unretained, for exec: iterating `stmts` retains and releases every node, and those
    /// atomic counts on nodes shared by all workers made the cores fight over their cache lines. `stmts` keeps them
    /// alive for as long as this block exists.
    private let raw: UnsafeMutableBufferPointer<Unmanaged<StmtNode>>

    init(_ stmts: [StmtNode], _ loc: SourceLocation) {
        self.stmts = stmts
        raw = .allocate(capacity: max(1, stmts.count))
        for (i, s) in stmts.enumerated() { raw[i] = Unmanaged.passUnretained(s) }
        super.init(loc)
    }

    deinit { raw.deallocate() }

    override func exec(_ ctx: ScriptContext) -> Int {
        var last = 1
        var i = 0
        let n = stmts.count
        while i < n {
            if let t = ctx.trace {
                let stmt = raw[i].takeUnretainedValue()
                if let label = ScriptTrace.label(stmt) { t.log(label, stmt.location, ctx) }
            }
            last = raw[i]._withUnsafeGuaranteedRef { stmt in
                ctx.currentStatement = stmt
                return stmt.exec(ctx)
            }
            if ctx.errorInfo.errorClass != 0 { ctx.engine.runErrorRouteIfNeeded(ctx) }
            if ctx.flow != .normal { break }
            i += 1
        }
        return last
    }
}

/// A function or route call used as a statement: its code is $rc, and 0 stops the script.
final class CallStmtNode: StmtNode, @unchecked Sendable {
    let call: CallNode
    init(_ call: CallNode) {
        self.call = call
        super.init(call.location)
    }
    override func exec(_ ctx: ScriptContext) -> Int {
        if let t = ctx.trace, !call.traceLabel.isEmpty { t.log(call.traceLabel, call.location, ctx) }
        let r = call.invoke(ctx)
        ctx.rc = r
        if r == 0, ctx.flow == .normal { ctx.flow = .exitScript }
        return r
    }
}

final class AssignNode: StmtNode, @unchecked Sendable {
    let target: ResolvedPV
    let op: AssignOp
    let value: ExprNode
    /// `$pv := $param(x)` into a plugin variable that takes trees (ABI 1.9 SY_PV_OBJECT): when the event parameter
    /// holds one, the tree itself is handed over, never written as JSON text for the setter to parse again.
    let treeAssign: (source: ParamPV, target: PluginPVAccessor)?

    init(target: ResolvedPV, op: AssignOp, value: ExprNode, _ loc: SourceLocation) {
        self.target = target
        self.op = op
        self.value = value
        if op == .colon, target.index == nil, target.transforms.isEmpty,
           let plugin = target.accessor as? PluginPVAccessor, plugin.takesTrees,
           let node = value as? PVNode, node.pv.index == nil, node.pv.transforms.isEmpty,
           let param = node.pv.accessor as? ParamPV {
            treeAssign = (param, plugin)
        } else {
            treeAssign = nil
        }
        super.init(loc)
    }

    override func exec(_ ctx: ScriptContext) -> Int {
        let r = assign(ctx)
        ctx.rc = r
        return r
    }

    func assign(_ ctx: ScriptContext) -> Int {
        if let (source, plugin) = treeAssign, let tree = source.tree(ctx) {
            return plugin.set(ctx, tree: tree) ? 1 : -1
        }
        guard let v = value.eval(ctx) else { return -1 }
        if let bop = op.binary {
            let cur = target.get(ctx)
            if cur.isNull || v.isNull {
                ctx.engine.log.error("\(location): '\(op.rawValue)' with a NULL operand on \(target.text)")
                return -1
            }
            // No `rhsIsVariable` here: OpenSIPS's do_assign concatenates only when neither side is an integer
            // (PV_TYPE_INT), so `$var(s) += $var(n)` with n = 5 is "unsupported operand type(s)".
            guard let r = Arith.apply(bop, cur, v, ctx, location) else { return -1 }
            if let t = ctx.trace { t.log(ScriptTrace.label(op), location, ctx) }
            return target.set(ctx, .colon, r) ? 1 : -1
        }
        if let t = ctx.trace { t.log(ScriptTrace.label(op), location, ctx) }
        return target.set(ctx, op, v) ? 1 : -1
    }
}

final class IfNode: StmtNode, @unchecked Sendable {
    let cond: ExprNode
    let thenS: StmtNode
    let elseS: StmtNode?
    init(cond: ExprNode, thenS: StmtNode, elseS: StmtNode?, _ loc: SourceLocation) {
        self.cond = cond
        self.thenS = thenS
        self.elseS = elseS
        super.init(loc)
    }
    override func exec(_ ctx: ScriptContext) -> Int {
        let ok = cond.test(ctx)
        if ctx.flow != .normal { return 0 }
        // As OpenSIPS's IF_T: a branch that runs sets $rc to its result; with no branch to run (a false condition
        // without else, or an empty block) $rc is the condition's value (1 or 0) and the if itself counts as 1.
        if let branch = ok ? thenS : elseS, !((branch as? BlockNode)?.stmts.isEmpty ?? false) {
            let r = branch.exec(ctx)
            ctx.rc = r
            return r
        }
        ctx.rc = ok ? 1 : 0
        return 1
    }
}

final class SwitchNode: StmtNode, @unchecked Sendable {
    enum Label { case int(Int), string(String), defaultLabel }
    let subject: ResolvedPV
    let labels: [Label]
    let bodies: [BlockNode]
    init(subject: ResolvedPV, labels: [Label], bodies: [BlockNode], _ loc: SourceLocation) {
        self.subject = subject
        self.labels = labels
        self.bodies = bodies
        super.init(loc)
    }
    override func exec(_ ctx: ScriptContext) -> Int {
        let v = subject.get(ctx)
        var start: Int? = nil
        var defaultIndex: Int? = nil
        for (i, l) in labels.enumerated() {
            switch l {
            case .int(let n):
                // Only int-typed values match int cases: "1" from a string does not match case 1.
                if case .int(let x) = v, x == n { start = i }
            case .string(let s):
                if let vs = v.stringForm, vs.caseInsensitiveEquals(s) { start = i }
            case .defaultLabel:
                defaultIndex = i
            }
            if start != nil { break }
        }
        // $rc is 1 when nothing matched, else the result of the bodies run.
        guard let from = start ?? defaultIndex else { ctx.rc = 1; return 1 }
        var last = 1
        for i in from..<bodies.count {
            last = bodies[i].exec(ctx)
            if ctx.flow != .normal { break }
        }
        if ctx.flow == .breakLoop { ctx.flow = .normal }
        ctx.rc = last
        return last
    }
}

final class WhileNode: StmtNode, @unchecked Sendable {
    let cond: ExprNode
    let body: StmtNode
    init(cond: ExprNode, body: StmtNode, _ loc: SourceLocation) {
        self.cond = cond
        self.body = body
        super.init(loc)
    }
    override func exec(_ ctx: ScriptContext) -> Int {
        var last = 1
        var n = 0
        let max = ctx.engine.maxWhileLoops
        while true {
            let ok = cond.test(ctx)
            if ctx.flow != .normal { return 0 }
            // A loop that ends on its condition counts as 1 (OpenSIPS's WHILE_T), one ended by break or the
            // max_while_loops cap as its body's last result.
            if !ok { last = 1; break }
            n += 1
            if n > max {
                ctx.engine.log.error("\(location): while loop exceeded max_while_loops (\(max)); loop ended")
                break
            }
            last = body.exec(ctx)
            if ctx.flow == .breakLoop { ctx.flow = .normal; break }
            if ctx.flow != .normal { return last }
        }
        ctx.rc = last
        return last
    }
}

final class ForEachNode: StmtNode, @unchecked Sendable {
    let iterator: ResolvedPV
    let collection: ResolvedPV
    let body: StmtNode
    init(iterator: ResolvedPV, collection: ResolvedPV, body: StmtNode, _ loc: SourceLocation) {
        self.iterator = iterator
        self.collection = collection
        self.body = body
        super.init(loc)
    }
    override func exec(_ ctx: ScriptContext) -> Int {
        var last = 1
        for v in collection.values(ctx) {
            iterator.set(ctx, .colon, v)
            last = body.exec(ctx)
            if ctx.flow == .breakLoop { ctx.flow = .normal; break }
            if ctx.flow != .normal { return last }
        }
        ctx.rc = last
        return last
    }
}

final class ReturnNode: StmtNode, @unchecked Sendable {
    let code: ExprNode?
    let values: [ExprNode]
    init(code: ExprNode?, values: [ExprNode], _ loc: SourceLocation) {
        self.code = code
        self.values = values
        super.init(loc)
    }
    override func exec(_ ctx: ScriptContext) -> Int {
        var r = 1
        if let code {
            switch code.eval(ctx) {
            case .int(let i)?: r = i
            case .null?, nil: r = -1
            case .str?: r = 1
            }
        }
        if !values.isEmpty {
            ctx.returnValues = values.map { $0.eval(ctx) ?? .null }
        }
        ctx.rc = r
        ctx.returnCode = r
        // return(0) ends the whole script, not just this route.
        ctx.flow = r == 0 ? .exitScript : .returnRoute
        return r
    }
}

final class ExitNode: StmtNode, @unchecked Sendable {
    let drop: Bool
    init(drop: Bool, _ loc: SourceLocation) {
        self.drop = drop
        super.init(loc)
    }
    override func exec(_ ctx: ScriptContext) -> Int {
        if drop { ctx.dropped = true }
        ctx.rc = 0
        ctx.flow = .exitScript
        return 0
    }
}

/// OpenSIPS's BREAK_T only raises the break flag and leaves do_action's initial `ret = E_BUG` (-5), which becomes
/// the return code: a switch, while or for-each left by `break` ends with $rc = -5.
final class BreakNode: StmtNode, @unchecked Sendable {
    static let code = -5

    override func exec(_ ctx: ScriptContext) -> Int {
        ctx.flow = .breakLoop
        ctx.rc = Self.code
        return Self.code
    }
}

extension String {
    /// ASCII case-insensitive equality, as OpenSIPS's strncasecmp comparisons.
    func caseInsensitiveEquals(_ other: String) -> Bool {
        let a = self.utf8, b = other.utf8
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where x != y {
            if Arith.lower(x) != Arith.lower(y) { return false }
        }
        return true
    }
}
