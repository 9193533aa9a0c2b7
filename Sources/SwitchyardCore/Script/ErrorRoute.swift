import SwitchyardSIP

/// What `$err.class/.level/.info/.rcode/.rreason` read: the error a parser or the core raised on the current message,
/// cleared for every message and after `error_route` ran (OpenSIPS's err_info_t).
public struct ErrorInfo: Sendable {
    /// 0: no error; 1: parse error; 2/3: private/shared memory; 4: failed assert (OpenSIPS's OSER_EC_*).
    public var errorClass = 0
    /// Severity, lower is worse: 1 critical .. 5 low (OSER_EL_*); parse errors are 3.
    public var level = 0
    public var info = ""
    /// The reply code and reason the core recommends answering with.
    public var replyCode = 0
    public var replyReason = ""

    public static let parserClass = 1
    public static let assertClass = 4
    public static let criticalLevel = 1
    public static let mediumLevel = 3

    /// A parse error, as OpenSIPS's parser reports it for the header that broke.
    public static func parse(_ info: String, _ code: Int, _ reason: String) -> ErrorInfo {
        ErrorInfo(errorClass: parserClass, level: mediumLevel, info: info, replyCode: code, replyReason: reason)
    }

    /// The error OpenSIPS's receive path records for a request it could not parse, from our parser's reason; nil for
    /// what OpenSIPS does not reject while reading the message (missing or repeated headers, a CSeq
    /// method that differs...: it routes those, we answer them 400 as before).
    static func forReceiveFailure(_ reason: String) -> ErrorInfo? {
        // Texts as OpenSIPS's get_hdr_field sets them (the backquote after CSeq is OpenSIPS's).
        if reason.contains("Via") { return .parse("error parsing Via", 400, "bad Via header") }
        if reason.hasPrefix("bad CSeq") { return .parse("error parsing CSeq`", 400, "bad CSeq header") }
        // OpenSIPS reads From only when the script asks: we reject it on arrival, so error_route runs before the
        // main route instead of from inside it.
        if reason == "bad From header" { return .parse("error parsing From header", 400, "bad header") }
        if reason == "bad To header" { return .parse("error parsing To header", 400, "bad header") }
        if reason == "bad Content-Length" { return .parse("error parsing Content-Length", 400, "bad Content-Length header") }
        switch reason {
        case "bad header name", "header line without a colon", "continuation line without a header",
             "headers not terminated by an empty line":
            return .parse("error parsing headers", 400, "bad headers")
        default:
            return nil
        }
    }
}

extension ScriptContext {
    /// Records an error on the current message (the core's set_err_info + set_err_reply); `error_route`, when the
    /// script has one, runs after the statement that raised it.
    public func raiseError(_ e: ErrorInfo) { errorInfo = e }
}

extension ScriptEngine {
    /// Runs `error_route` after a statement raised an error, as OpenSIPS checks after every action: not from
    /// error, onreply or local routes; the error is cleared afterwards, so it runs once per error. `exit`/`drop` in
    /// it stop the whole script; anything else goes on with the statement after the one that failed.
    func runErrorRouteIfNeeded(_ ctx: ScriptContext) {
        guard routes.error != nil else { return }
        switch ctx.routeType {
        case .error, .onreply, .local: return
        default: runErrorRouteNow(ctx)
        }
    }

    /// A request that failed to parse with its request line read: runs `error_route` on what could be read (OpenSIPS's
    /// receive_msg) and returns true; the message is then dropped whatever the route did. false (nothing run) when
    /// there is no error_route or OpenSIPS would not run it for this failure.
    func runErrorRoute(afterParseFailure error: SIPParseError, bytes: [UInt8], origin: SIPOrigin, ctx: ScriptContext) -> Bool {
        guard let route = routes.error, let info = ErrorInfo.forReceiveFailure(error.reason),
              let msg = SIPMessage.salvageRequest(bytes, cut: error.offset) else { return false }
        msg.number = ctx.worker.messageCount  // the number receive() gave these bytes
        ctx.reset(routeType: .error)
        ctx.message.load(sip: msg, origin: origin)
        ctx.errorInfo = info
        run(route, ctx)
        ctx.reset(routeType: .request)
        return true
    }
}

extension ScriptEngine {
    /// The globals the interpreter itself reads from the script: enable_asserts, abort_on_assert (a number, or
    /// yes/no as OpenSIPS's lexer takes them).
    public func applyScriptGlobals(_ globals: [GlobalSetting]) {
        func on(_ v: GlobalValue) -> Bool {
            switch v {
            case .int(let n): return n != 0
            case .identifier(let s), .string(let s), .raw(let s): return ["yes", "true", "on", "enable", "1"].contains(s.lowercased())
            }
        }
        for g in globals {
            switch g.name {
            case "enable_asserts": enableAsserts = on(g.value)
            case "abort_on_assert": abortOnAssert = on(g.value)
            default: break
            }
        }
    }

    /// OpenSIPS's run_error_route: error_route on the current message whatever the route (a failed assert calls it
    /// directly), then the error cleared. No error_route: only the clearing.
    func runErrorRouteNow(_ ctx: ScriptContext) {
        defer { ctx.errorInfo = ErrorInfo() }
        guard let route = routes.error else { return }
        // A failing assert inside error_route enters it again: OpenSIPS bounds that by its route nesting limit (its
        // level counts the top route as 1, our depth as 0, so the new level is depth + 2).
        guard ctx.depth + 2 <= RouteCallNode.maxDepth else {
            log.error("error_route: too many recursive routing table lookups (\(ctx.depth + 2)) giving up!")
            return
        }
        let savedType = ctx.routeType, savedFlow = ctx.flow
        ctx.routeType = .error
        ctx.flow = .normal
        ctx.depth += 1
        ctx.asTopRun {
            ctx.routeStack.append(route)
            _ = route.body.exec(ctx)
            ctx.routeStack.removeLast()
        }
        ctx.depth -= 1
        ctx.flow = ctx.flow == .exitScript ? .exitScript : savedFlow
        ctx.routeType = savedType
    }
}
