import Foundation

/// An expression node: evaluates to a value (nil = error, already logged) or tests as a condition.
class ExprNode: @unchecked Sendable {
    let location: SourceLocation
    init(_ location: SourceLocation) { self.location = location }
    func eval(_ ctx: ScriptContext) -> Value? { .null }
    /// Truth in a condition; may set ctx.flow = .exitScript (an action returned 0).
    func test(_ ctx: ScriptContext) -> Bool { eval(ctx)?.isTrue ?? false }
}

final class LiteralNode: ExprNode, @unchecked Sendable {
    let value: Value
    init(_ value: Value, _ loc: SourceLocation) {
        self.value = value
        super.init(loc)
    }
    override func eval(_ ctx: ScriptContext) -> Value? { value }
}

final class PVNode: ExprNode, @unchecked Sendable {
    let pv: ResolvedPV
    init(_ pv: ResolvedPV, _ loc: SourceLocation) {
        self.pv = pv
        super.init(loc)
    }
    /// nil when a transformation failed: the comparison is then false and an assignment from it fails (the
    /// target keeps its value), as OpenSIPS treats a variable read that returned an error.
    override func eval(_ ctx: ScriptContext) -> Value? { pv.read(ctx) }
}

final class BinaryNode: ExprNode, @unchecked Sendable {
    let op: BinaryOp
    let lhs: ExprNode, rhs: ExprNode
    init(_ op: BinaryOp, _ lhs: ExprNode, _ rhs: ExprNode, _ loc: SourceLocation) {
        self.op = op
        self.lhs = lhs
        self.rhs = rhs
        super.init(loc)
    }
    override func eval(_ ctx: ScriptContext) -> Value? {
        guard let a = lhs.eval(ctx), let b = rhs.eval(ctx) else { return nil }
        return Arith.apply(op, a, b, ctx, location, rhsIsVariable: rhs is PVNode)
    }
}

final class BitNotNode: ExprNode, @unchecked Sendable {
    let operand: ExprNode
    init(_ operand: ExprNode, _ loc: SourceLocation) {
        self.operand = operand
        super.init(loc)
    }
    override func eval(_ ctx: ScriptContext) -> Value? {
        guard let v = operand.eval(ctx) else { return nil }
        guard case .int(let i) = v else {
            ctx.engine.log.error("\(location): '~' needs an integer, got \(v.printed)")
            return nil
        }
        return .int(~i)
    }
}

final class CompareNode: ExprNode, @unchecked Sendable {
    enum RHSKind { case stringLiteral, intLiteral, null, variable }
    let op: CompareOp
    let lhs: ExprNode
    let rhs: ExprNode
    let rhsKind: RHSKind
    /// Compiled once when the right side of =~ / !~ is a literal.
    let regex: POSIXRegex?

    init(_ op: CompareOp, _ lhs: ExprNode, _ rhs: ExprNode, rhsKind: RHSKind, regex: POSIXRegex?, _ loc: SourceLocation) {
        self.op = op
        self.lhs = lhs
        self.rhs = rhs
        self.rhsKind = rhsKind
        self.regex = regex
        super.init(loc)
    }

    override func eval(_ ctx: ScriptContext) -> Value? { .int(test(ctx) ? 1 : 0) }

    override func test(_ ctx: ScriptContext) -> Bool {
        guard let a = lhs.eval(ctx), let b = rhs.eval(ctx) else { return false }
        if op == .match || op == .notMatch {
            guard let s = a.stringForm else { return op == .notMatch }
            let re: POSIXRegex
            if let regex { re = regex } else {
                guard let pattern = b.stringForm, let compiled = try? POSIXRegex(pattern) else {
                    ctx.engine.log.error("\(location): bad regular expression \(b.printed)")
                    return false
                }
                re = compiled
            }
            return re.matches(s) == (op == .match)
        }
        if rhsKind == .null || b.isNull || a.isNull {
            // NULL is only equal to NULL; anything else against NULL is "different".
            let equal = a.isNull && b.isNull
            switch op {
            case .eq: return equal
            case .ne: return !equal
            default: return false
            }
        }
        let order: Int
        switch rhsKind {
        case .stringLiteral:
            guard let x = a.stringForm, let y = b.stringForm else { return false }
            order = Arith.compareStrings(x, y)
        case .intLiteral:
            guard let x = a.intForm, let y = b.intForm else {
                ctx.engine.log.warning("\(location): comparing a non-integer value \(a.printed) with an integer")
                return false
            }
            order = x < y ? -1 : (x == y ? 0 : 1)
        default:
            if let x = a.intForm, let y = b.intForm {
                order = x < y ? -1 : (x == y ? 0 : 1)
            } else if let x = a.stringForm, let y = b.stringForm {
                order = Arith.compareStrings(x, y)
            } else {
                return op == .ne
            }
        }
        switch op {
        case .eq: return order == 0
        case .ne: return order != 0
        case .lt: return order < 0
        case .gt: return order > 0
        case .le: return order <= 0
        case .ge: return order >= 0
        case .match, .notMatch: return false
        }
    }
}

final class NotNode: ExprNode, @unchecked Sendable {
    let operand: ExprNode
    init(_ operand: ExprNode, _ loc: SourceLocation) {
        self.operand = operand
        super.init(loc)
    }
    override func eval(_ ctx: ScriptContext) -> Value? { .int(test(ctx) ? 1 : 0) }
    override func test(_ ctx: ScriptContext) -> Bool {
        let r = operand.test(ctx)
        return ctx.flow == .normal ? !r : false
    }
}

final class LogicNode: ExprNode, @unchecked Sendable {
    let isAnd: Bool
    let lhs: ExprNode, rhs: ExprNode
    init(isAnd: Bool, _ lhs: ExprNode, _ rhs: ExprNode, _ loc: SourceLocation) {
        self.isAnd = isAnd
        self.lhs = lhs
        self.rhs = rhs
        super.init(loc)
    }
    override func eval(_ ctx: ScriptContext) -> Value? { .int(test(ctx) ? 1 : 0) }
    override func test(_ ctx: ScriptContext) -> Bool {
        let a = lhs.test(ctx)
        if ctx.flow != .normal { return false }
        if isAnd ? !a : a { return a }  // short-circuit
        return rhs.test(ctx)
    }
}

/// `[ expr ]`: true when the value is non-zero / non-empty.
final class TestNode: ExprNode, @unchecked Sendable {
    let expr: ExprNode
    init(_ expr: ExprNode, _ loc: SourceLocation) {
        self.expr = expr
        super.init(loc)
    }
    override func eval(_ ctx: ScriptContext) -> Value? { expr.eval(ctx) }
    override func test(_ ctx: ScriptContext) -> Bool { expr.eval(ctx)?.isTrue ?? false }
}

/// A function or route call as an expression: its return code. In a condition, >0 is true,
/// <0 false, and 0 ends the whole script.
final class CallExprNode: ExprNode, @unchecked Sendable {
    let call: CallNode
    init(_ call: CallNode) {
        self.call = call
        super.init(call.location)
    }
    override func eval(_ ctx: ScriptContext) -> Value? {
        if let t = ctx.trace, !call.traceLabel.isEmpty { t.log(call.traceLabel, call.location, ctx) }
        let r = call.invoke(ctx)
        ctx.rc = r
        return .int(r)
    }
    override func test(_ ctx: ScriptContext) -> Bool {
        if let t = ctx.trace, !call.traceLabel.isEmpty { t.log(call.traceLabel, call.location, ctx) }
        let r = call.invoke(ctx)
        ctx.rc = r
        if r == 0 {
            if ctx.flow == .normal { ctx.flow = .exitScript }
            return false
        }
        return r > 0
    }
}

/// An action (assignment or block) used as a condition.
final class ActionExprNode: ExprNode, @unchecked Sendable {
    let stmt: StmtNode
    init(_ stmt: StmtNode) {
        self.stmt = stmt
        super.init(stmt.location)
    }
    override func eval(_ ctx: ScriptContext) -> Value? { .int(stmt.exec(ctx)) }
    override func test(_ ctx: ScriptContext) -> Bool {
        let r = stmt.exec(ctx)
        if ctx.flow == .returnRoute || ctx.flow == .exitScript { return false }
        if r == 0 { ctx.flow = .exitScript; return false }
        return r > 0
    }
}

/// Arithmetic and string rules of assignment expressions.
enum Arith {
    @inline(__always)
    static func lower(_ c: UInt8) -> UInt8 { c >= 65 && c <= 90 ? c + 32 : c }

    /// Case-insensitive byte order; a shorter string sorts first on an equal prefix.
    static func compareStrings(_ a: String, _ b: String) -> Int {
        var ia = a.utf8.makeIterator(), ib = b.utf8.makeIterator()
        while true {
            switch (ia.next(), ib.next()) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let x?, let y?):
                let lx = lower(x), ly = lower(y)
                if lx != ly { return lx < ly ? -1 : 1 }
            }
        }
    }

    /// `rhsIsVariable`: the right operand was read from a variable. An integer read from one also carries its
    /// decimal text (OpenSIPS's PV_VAL_STR next to PV_VAL_INT), so a string left operand concatenates it; a number
    /// literal or a computed integer has no text and is refused.
    static func apply(_ op: BinaryOp, _ a: Value, _ b: Value, _ ctx: ScriptContext, _ loc: SourceLocation,
                      rhsIsVariable: Bool = false) -> Value? {
        switch a {
        case .str(let s):
            if op == .add {
                switch b {
                case .str(let t): return .str(s + t)
                case .null: return .str(s)
                case .int(let n) where rhsIsVariable: return .str(s + String(n))
                case .int:
                    ctx.engine.log.error("\(loc): cannot add an integer to a string (use a string operand)")
                    return nil
                }
            }
            if op == .band || op == .bor || op == .bxor, case .str(let t) = b, s.utf8.count == t.utf8.count {
                let r = zip(s.utf8, t.utf8).map { x, y -> UInt8 in
                    op == .band ? x & y : (op == .bor ? x | y : x ^ y)
                }
                return .str(String(decoding: r, as: UTF8.self))
            }
            ctx.engine.log.error("\(loc): operator '\(op.rawValue)' cannot be applied to a string")
            return nil
        case .int(let x):
            let y: Int
            switch b {
            case .int(let v): y = v
            case .null: y = 0
            case .str:
                ctx.engine.log.error("\(loc): operator '\(op.rawValue)' mixes an integer and a string")
                return nil
            }
            // Script integers are C ints in OpenSIPS: results wrap at 32 bits as they do there.
            let a = Int32(truncatingIfNeeded: x), b = Int32(truncatingIfNeeded: y)
            let r: Int32
            switch op {
            case .add: r = a &+ b
            case .sub: r = a &- b
            case .mul: r = a &* b
            case .div, .mod:
                if b == 0 {
                    ctx.engine.log.error("\(loc): division by zero")
                    return .int(0)
                }
                if a == Int32.min && b == -1 { r = op == .div ? Int32.min : 0 } else { r = op == .div ? a / b : a % b }
            case .band: r = a & b
            case .bor: r = a | b
            case .bxor: r = a ^ b
            case .shl: r = b >= 0 && b < 32 ? a << b : 0
            case .shr: r = b >= 0 && b < 32 ? a >> b : 0
            }
            return .int(Int(r))
        case .null:
            // An unset variable reads as NULL; `$var(n) = $var(n) + 1` must still count from 0.
            switch b {
            case .int, .null: return apply(op, .int(0), b, ctx, loc)
            case .str: return apply(op, .str(""), b, ctx, loc)
            }
        }
    }
}
