import Foundation

/// assert(cond, "description"), OpenSIPS's: nothing unless enable_asserts (its code is then -5, OpenSIPS's E_BUG, which
/// its do_action leaves when no case sets a code; a true one is 1); a false condition logs
/// `ASSERTION FAILED - <description>` (critical), aborts the process with abort_on_assert, else records the error
/// (class 4, level 1, "assertion failed", 500 "server error"), runs error_route and stops the script (code 0).
final class AssertNode: StmtNode, @unchecked Sendable {
    // Immutable after the resolver built it; shared by all workers.
    let cond: ExprNode
    let text: String

    init(cond: ExprNode, description: String, _ loc: SourceLocation) {
        self.cond = cond
        self.text = description
        super.init(loc)
    }

    /// OpenSIPS's E_BUG.
    static let disabledCode = -5

    override func exec(_ ctx: ScriptContext) -> Int {
        let engine = ctx.engine
        guard engine.enableAsserts else {
            ctx.rc = AssertNode.disabledCode
            return AssertNode.disabledCode
        }
        let ok = cond.test(ctx)
        if ctx.flow != .normal { return 0 }
        if ok {
            ctx.rc = 1
            return 1
        }
        engine.log.write(LogLevels.crit, module: "core", "ASSERTION FAILED - \(text)")
        if engine.abortOnAssert { abort() }
        ctx.errorInfo = ErrorInfo(errorClass: ErrorInfo.assertClass, level: ErrorInfo.criticalLevel, info: "assertion failed",
                                  replyCode: 500, replyReason: "server error")
        engine.runErrorRouteNow(ctx)
        ctx.rc = 0
        ctx.flow = .exitScript
        return 0
    }
}
