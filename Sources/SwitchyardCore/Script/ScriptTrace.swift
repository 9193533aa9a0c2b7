/// script_trace(level, "format"[, "info"]): while on, every statement run in a route logs one line at `level` before
/// it runs — `[line N][info][class action] -> (format)` as OpenSIPS's manual shows it — until script_trace() turns it
/// off or the top route ends.
struct ScriptTrace {
    let level: Int
    let format: FormatString
    let info: String?

    func log(_ stmt: StmtNode, _ ctx: ScriptContext) {
        let log = ctx.engine.log
        guard log.enabled(level) else { return }
        let tag = info.map { "[\($0)]" } ?? ""
        log.write(level, module: "core", "[line \(stmt.location.line)]\(tag)[\(ScriptTrace.label(stmt))] -> (\(format.render(ctx)))")
    }

    /// The class and action OpenSIPS names a statement by: "core if", "module t_relay", "assign equal", ...
    static func label(_ stmt: StmtNode) -> String {
        switch stmt {
        case let c as CallStmtNode:
            if let f = c.call as? FunctionCallNode { return (f.def.module == "core" ? "core " : "module ") + f.def.name }
            return "core " + c.call.traceName
        case let a as AssignNode:
            let names: [AssignOp: String] = [.assign: "equal", .colon: "colon_equal", .add: "plus_equal", .sub: "minus_equal",
                                             .mul: "mult_equal", .div: "div_equal", .mod: "mod_equal", .band: "band_equal",
                                             .bor: "bor_equal", .bxor: "bxor_equal"]
            return "assign " + (names[a.op] ?? "equal")
        case is IfNode: return "core if"
        case is SwitchNode: return "core switch"
        case is WhileNode: return "core while"
        case is ForEachNode: return "core for_each"
        case is ReturnNode: return "core return"
        case let e as ExitNode: return e.drop ? "core drop" : "core exit"
        case is BreakNode: return "core break"
        default: return "core block"
        }
    }
}
