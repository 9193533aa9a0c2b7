/// script_trace(level, "format"[, "info"]): while on, every action run logs one line at `level` before it runs —
/// `[Script Trace][<file>:<line>][<info>][<class> <action>] -> (<format>)`, OpenSIPS's text, `<file>` the path as
/// given to -f (or to include_file) — until script_trace() turns it off or the top route ends.
struct ScriptTrace {
    let level: Int
    let format: FormatString
    let info: String?

    func log(_ label: String, _ location: SourceLocation, _ ctx: ScriptContext) {
        let log = ctx.engine.log
        guard log.enabled(level) else { return }
        let tag = info.map { "[\($0)]" } ?? ""
        log.write(level, module: "core",
                  "[Script Trace][\(location.file.path):\(location.traceLine ?? location.line)]\(tag)[\(label)] -> (\(format.render(ctx)))")
    }

    /// The class and action OpenSIPS names a statement by ("core if", "core for-each", ...); nil for the statements
    /// that trace themselves: calls (before their arguments are evaluated, in conditions too) and assignments (once
    /// the value is computed, as OpenSIPS's do_assign).
    static func label(_ stmt: StmtNode) -> String? {
        switch stmt {
        case is CallStmtNode, is AssignNode: return nil
        case is IfNode: return "core if"
        case is SwitchNode: return "core switch"
        case is WhileNode: return "core while"
        case is ForEachNode: return "core for-each"
        case is ReturnNode: return "core return"
        case let e as ExitNode: return e.drop ? "core drop" : "core exit"
        case is BreakNode: return "core break"
        default: return nil
        }
    }

    /// The label of an assignment operator (OpenSIPS's do_assign names).
    static func label(_ op: AssignOp) -> String {
        switch op {
        case .assign: return "assign equal"
        case .colon: return "assign colon-eq"
        case .add: return "assign plus-eq"
        case .sub: return "assign minus-eq"
        case .div: return "assign div-eq"
        case .mul: return "assign mult-eq"
        case .mod: return "assign modulo-eq"
        case .band: return "assign b-and-eq"
        case .bor: return "assign b-or-eq"
        case .bxor: return "assign b-xor-eq"
        }
    }

    /// The label of a call: `core xlog`/`core xdbg`/`core log` (actions of OpenSIPS's grammar), `module <name>` for
    /// every function of the command table, core ones included; route calls label themselves (`route <name>`, once
    /// the route is known).
    static func callLabel(_ name: String) -> String {
        switch name {
        case "xlog", "xdbg", "log": return "core " + name
        case "route": return ""
        default: return "module " + name
        }
    }
}
