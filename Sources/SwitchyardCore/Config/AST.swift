/// The parsed configuration, before anything is resolved. Every node keeps its location.

public enum RouteKind: UInt32, Sendable, CaseIterable {
    case request = 1, failure = 2, onreply = 4, branch = 8, error = 16, local = 32
    case startup = 64, timer = 128, event = 256

    public var keyword: String {
        switch self {
        case .request: return "route"
        case .failure: return "failure_route"
        case .onreply: return "onreply_route"
        case .branch: return "branch_route"
        case .error: return "error_route"
        case .local: return "local_route"
        case .startup: return "startup_route"
        case .timer: return "timer_route"
        case .event: return "event_route"
        }
    }

    /// The route type as `$route` prints the top route of a run (OpenSIPS's route type string): the main request
    /// route is `request_route`, the other kinds are written as declared.
    public var topKeyword: String { self == .request ? "request_route" : keyword }
}

public struct RouteDecl: Sendable {
    public let kind: RouteKind
    /// nil for the main/unnamed route of its kind.
    public let name: String?
    public let body: [Stmt]
    public let location: SourceLocation
    /// timer_route[name, seconds]
    public var timerInterval: Int? = nil
    /// event_route[E_X, sync|async] (2.4 form); nil when not given.
    public var eventMode: String? = nil
}

public enum LiteralValue: Sendable, Equatable {
    case int(Int)
    case string(String)
}

public struct GlobalSetting: Sendable {
    public let name: String
    public let value: GlobalValue
    public let location: SourceLocation
}

public enum GlobalValue: Sendable, Equatable {
    case int(Int)
    case string(String)
    case identifier(String)
    /// socket/listen/alias values are kept as written, for the SIP transports.
    case raw(String)
}

public struct LoadModuleDecl: Sendable {
    public let name: String
    public let location: SourceLocation
}

public struct ModParamDecl: Sendable {
    public let module: String
    public let param: String
    public let value: LiteralValue
    public let location: SourceLocation
    public let valueLocation: SourceLocation
}

/// A whole configuration as parsed.
public struct ScriptAST: Sendable {
    public var globals: [GlobalSetting] = []
    public var modules: [LoadModuleDecl] = []
    public var modparams: [ModParamDecl] = []
    public var routes: [RouteDecl] = []
    public init() {}
}

/// Binary operators of assignment expressions (arithmetic all one level, bitwise lower).
public enum BinaryOp: String, Sendable {
    case add = "+", sub = "-", mul = "*", div = "/", mod = "%"
    case band = "&", bor = "|", bxor = "^", shl = "<<", shr = ">>"

    public var isBitwise: Bool {
        switch self {
        case .band, .bor, .bxor, .shl, .shr: return true
        default: return false
        }
    }
}

public enum CompareOp: String, Sendable {
    case eq = "==", ne = "!=", lt = "<", gt = ">", le = "<=", ge = ">=", match = "=~", notMatch = "!~"
}

public enum AssignOp: String, Sendable {
    case assign = "=", colon = ":=", add = "+=", sub = "-=", mul = "*=", div = "/=", mod = "%="
    case band = "&=", bor = "|=", bxor = "^="

    var binary: BinaryOp? {
        switch self {
        case .assign, .colon: return nil
        case .add: return .add
        case .sub: return .sub
        case .mul: return .mul
        case .div: return .div
        case .mod: return .mod
        case .band: return .band
        case .bor: return .bor
        case .bxor: return .bxor
        }
    }
}

/// One argument of a function call as written.
public enum CallArg: Sendable {
    case omitted(SourceLocation)
    case int(Int, SourceLocation)
    case string(String, SourceLocation)
    case pv(String, SourceLocation)
    case identifier(String, SourceLocation)
    case null(SourceLocation)
    /// Only as the first argument of async()/launch(): the function to run.
    case call(CallExpr)

    public var location: SourceLocation {
        switch self {
        case .omitted(let l), .int(_, let l), .string(_, let l), .pv(_, let l), .identifier(_, let l), .null(let l): return l
        case .call(let c): return c.location
        }
    }
}

public struct CallExpr: Sendable {
    public let name: String
    public let args: [CallArg]
    public let location: SourceLocation
}

public indirect enum Expr: Sendable {
    case int(Int, SourceLocation)
    case string(String, SourceLocation)
    case null(SourceLocation)
    case pv(String, SourceLocation)
    case binary(BinaryOp, Expr, Expr, SourceLocation)
    case bitNot(Expr, SourceLocation)
    case compare(CompareOp, Expr, Expr, SourceLocation)
    case not(Expr, SourceLocation)
    case and(Expr, Expr, SourceLocation)
    case or(Expr, Expr, SourceLocation)
    case call(CallExpr)
    case assign(AssignStmt)
    /// `[ expr ]` test operator: true if the value is non-zero / non-empty.
    case test(Expr, SourceLocation)
    /// A `{ ... }` block used as a condition: its return code.
    case block([Stmt], SourceLocation)

    public var location: SourceLocation {
        switch self {
        case .int(_, let l), .string(_, let l), .null(let l), .pv(_, let l), .binary(_, _, _, let l), .bitNot(_, let l),
             .compare(_, _, _, let l), .not(_, let l), .and(_, _, let l), .or(_, _, let l), .test(_, let l), .block(_, let l):
            return l
        case .call(let c): return c.location
        case .assign(let a): return a.location
        }
    }
}

public struct AssignStmt: Sendable {
    public let target: String
    public let targetLocation: SourceLocation
    public let op: AssignOp
    public let value: Expr
    public let location: SourceLocation
}

public enum SwitchLabel: Sendable {
    case int(Int)
    case string(String)
    case defaultLabel
}

public struct SwitchCase: Sendable {
    public let label: SwitchLabel
    public let body: [Stmt]
    public let location: SourceLocation
}

public indirect enum Stmt: Sendable {
    case call(CallExpr)
    case assign(AssignStmt)
    case ifElse(Expr, Stmt, Stmt?, SourceLocation)
    case block([Stmt], SourceLocation)
    case switchStmt(String, SourceLocation, [SwitchCase], SourceLocation)
    case whileLoop(Expr, Stmt, SourceLocation)
    case forEach(String, SourceLocation, String, SourceLocation, Stmt, SourceLocation)
    /// return; return(n); return(n, v1, ...); values[0] nil = default code.
    case returnStmt([Expr?], SourceLocation)
    case exit(SourceLocation)
    case drop(SourceLocation)
    case breakStmt(SourceLocation)
    /// assert(cond, "description") (both required, as OpenSIPS's grammar): checked only with enable_asserts.
    case assertStmt(Expr, String, SourceLocation)
    case empty
}
