/// Recursive-descent parser for the OpenSIPS 3.x script language (with the 2.4 forms the
/// FreeSWITCH article uses). It recovers at statement boundaries so one run reports every error.
public struct Parser {
    var tokens: [Token]
    var pos = 0
    let diagnostics: DiagnosticBag
    /// Depth of switch/while/for bodies, where `break` is allowed.
    var breakableDepth = 0
    /// Set once a block turns out not to be closed (end of file, or a route header inside a route):
    /// every enclosing block then ends where it is, so parsing resumes at the top level.
    var unwinding = false
    /// Only the first error at end of file is worth showing; the others follow from it.
    var reportedAtEOF = false
    /// How deep the recursive descent is in blocks, statements, conditions, expressions and calls.
    var nesting = 0
    /// Past this depth a file is refused rather than parsed: the descent (and the resolver and interpreter walking the
    /// tree after it) would otherwise recurse as deep as the file nests, and a file of '{' or '(' overflowed the stack.
    /// OpenSIPS's bison parser stops at its own stack limit too; real scripts nest a few levels.
    static let maxNesting = 200

    struct Bail: Error {}

    public init(tokens: [Token], diagnostics: DiagnosticBag) {
        self.tokens = tokens
        self.diagnostics = diagnostics
        // When the lexer already reported that the file ended inside a string or a comment,
        // "found end of file" errors would only repeat it.
        let mainFile = tokens.last?.location.file
        reportedAtEOF = diagnostics.errors.contains { $0.message.hasPrefix("unterminated ") && $0.location?.file == mainFile }
    }

    public static func parse(path: String, diagnostics: DiagnosticBag) -> ScriptAST {
        var p = Parser(tokens: Lexer.tokenize(path: path, diagnostics: diagnostics), diagnostics: diagnostics)
        return p.parseFile()
    }

    public static func parse(text: String, path: String = "<string>", diagnostics: DiagnosticBag) -> ScriptAST {
        var p = Parser(tokens: Lexer.tokenize(text: text, path: path, diagnostics: diagnostics), diagnostics: diagnostics)
        return p.parseFile()
    }

    // MARK: token helpers

    var current: Token { tokens[pos] }
    var atEOF: Bool { if case .eof = current.kind { return true } else { return false } }
    func peekToken(_ k: Int = 1) -> Token { tokens[min(pos + k, tokens.count - 1)] }

    @discardableResult
    mutating func advance() -> Token {
        let t = tokens[pos]
        if pos < tokens.count - 1 { pos += 1 }
        return t
    }

    mutating func accept(_ p: String) -> Bool {
        if current.isPunct(p) { advance(); return true }
        return false
    }

    mutating func expect(_ p: String, _ what: String? = nil) throws {
        guard current.isPunct(p) else {
            fail(current.location, "expected '\(p)'\(what.map { " \($0)" } ?? "") but found \(describe(current))")
            throw Bail()
        }
        advance()
    }

    func describe(_ t: Token) -> String {
        switch t.kind {
        case .eof: return "end of file"
        case .identifier(let s): return "'\(s)'"
        case .string(let s, _): return "string \"\(s)\""
        case .number(let n): return "number \(n)"
        case .pvar(let s): return "'\(s)'"
        case .dotted(let s): return "'\(s)'"
        case .punct(let p): return "'\(p)'"
        }
    }

    mutating func fail(_ loc: SourceLocation, _ message: String) {
        if unwinding { return }
        if case .eof = tokens[tokens.count - 1].kind, loc == tokens[tokens.count - 1].location {
            if reportedAtEOF { return }
            reportedAtEOF = true
        }
        diagnostics.error(loc, message)
    }

    /// Counts one level of recursion (undone by the caller's `defer { nesting -= 1 }`); past `maxNesting` the
    /// construct is an error and the statement is skipped.
    mutating func enterNested() throws {
        guard nesting < Parser.maxNesting else {
            fail(current.location, "nested too deeply: more than \(Parser.maxNesting) levels of blocks, statements, conditions, expressions or calls")
            throw Bail()
        }
        nesting += 1
    }

    /// `route[...] {` / `failure_route {`...: a route header, which can only start a top-level item.
    func isRouteHeader(_ k: Int = 0) -> Bool {
        guard let id = peekToken(k).identifier, Parser.routeKeywords.contains(id) else { return false }
        let next = peekToken(k + 1)
        return next.isPunct("[") || next.isPunct("{")
    }

    /// True when the block opened at `open` must end here without its '}': the parser is unwinding,
    /// or it reached the end of the file or a route header (reported once, then unwinding).
    mutating func cannotClose(_ open: SourceLocation) -> Bool {
        if unwinding { return true }
        if atEOF || isRouteHeader() {
            reportUnclosed(open)
            return true
        }
        return false
    }

    /// The block opened at `open` cannot be closed: report it once and unwind to the top level.
    mutating func reportUnclosed(_ open: SourceLocation) {
        let at = open.file == current.location.file ? "line \(open.line)" : "\(open.file.path):\(open.line)"
        if atEOF {
            fail(current.location, "missing '}' at end of file: the '{' at \(at) is never closed")
        } else {
            fail(current.location, "missing '}' before this \(current.identifier ?? "route") block: the '{' at \(at) is never closed")
        }
        unwinding = true
    }

    // MARK: file level

    mutating func parseFile() -> ScriptAST {
        var ast = ScriptAST()
        while !atEOF {
            unwinding = false
            let start = pos
            do {
                try parseTopLevel(&ast)
            } catch {
                unwinding = false
                recoverTopLevel(from: start)
            }
        }
        return ast
    }

    /// Skips to the next plausible top-level item after an error.
    mutating func recoverTopLevel(from start: Int) {
        if pos == start { advance() }
        var depth = 0
        while !atEOF {
            let t = current
            if t.isPunct("{") { depth += 1 }
            if t.isPunct("}") {
                depth -= 1
                advance()
                if depth <= 0 { return }
                continue
            }
            if depth <= 0, let id = t.identifier, Parser.topLevelStarters.contains(id) || GlobalNames.known.contains(id),
               t.location.column == 1 || peekToken().isPunct("=") || peekToken().isPunct("[") || peekToken().isPunct("{") {
                return
            }
            // Top-level items start lines: any line that starts like an item (`word =`, `word {`,
            // `word(`, `$var`) is where the next error, if any, belongs.
            if depth <= 0, startsLine(pos), t.identifier != nil || { if case .pvar = t.kind { return true } else { return false } }() {
                let n = peekToken()
                if t.identifier == nil || n.isPunct("=") || n.isPunct("[") || n.isPunct("{") || n.isPunct("(") { return }
            }
            advance()
        }
    }

    /// After a `}`, a statement at top level usually means one '}' too many above it.
    var strayBraceHint: String {
        pos > 0 && tokens[pos - 1].isPunct("}") ? " (is there a '}' too many above?)" : ""
    }

    /// True when tokens[i] is the first token of its line.
    func startsLine(_ i: Int) -> Bool {
        guard i > 0 else { return true }
        let a = tokens[i - 1].location, b = tokens[i].location
        return a.file != b.file || a.line < b.line
    }

    static let routeKeywords: Set<String> = [
        "route", "failure_route", "onreply_route", "branch_route", "error_route",
        "local_route", "startup_route", "timer_route", "event_route",
    ]
    static let topLevelStarters: Set<String> = routeKeywords.union(["loadmodule", "modparam"])

    mutating func parseTopLevel(_ ast: inout ScriptAST) throws {
        let tok = current
        let afterBrace = strayBraceHint
        guard var word = tok.identifier else {
            if tok.isPunct(";") { advance(); return }
            if case .pvar = tok.kind {
                fail(tok.location, "unexpected \(describe(tok)) at top level: statements must be inside a route block\(afterBrace)")
                throw Bail()
            }
            if tok.isPunct("}") {
                fail(tok.location, "unexpected '}' at top level: there is no block to close (one '}' too many above?)")
                advance()
                return
            }
            fail(tok.location, "unexpected \(describe(tok)) at top level (expected a global parameter, loadmodule, modparam or a route block)")
            throw Bail()
        }
        // `mem-group` is the one global whose name is not an identifier.
        if word == "mem", peekToken().isPunct("-"), peekToken(2).isIdent("group") {
            advance(); advance()
            word = "mem-group"
        }
        switch word {
        case "loadmodule":
            advance()
            guard case .string(let name, _) = current.kind else {
                fail(current.location, "loadmodule needs a quoted module name")
                throw Bail()
            }
            advance()
            ast.modules.append(LoadModuleDecl(name: name, location: tok.location))
            _ = accept(";")
        case "modparam":
            advance()
            ast.modparams.append(try parseModparam(tok.location))
        case "route", "failure_route", "onreply_route", "branch_route", "error_route", "local_route",
             "startup_route", "timer_route", "event_route":
            advance()
            ast.routes.append(try parseRoute(keyword: word, tok.location))
        case "include_file", "import_file":
            try skipMisplacedInclude(word)
        default:
            advance()
            guard current.isPunct("=") else {
                if GlobalNames.known.contains(word) {
                    fail(tok.location, "global parameter '\(word)' needs a value: \(word) = ...")
                } else if current.isPunct("{") || current.isPunct("[") {
                    fail(tok.location, "'\(word)' is not a route kind (expected route, failure_route, onreply_route, branch_route, error_route, local_route, startup_route, timer_route or event_route)")
                } else if current.isPunct("(") {
                    fail(tok.location, "unexpected '\(word)(...)' at top level: statements must be inside a route block\(afterBrace)")
                } else {
                    fail(tok.location, "unexpected '\(word)' at top level (expected a global parameter, loadmodule, modparam or a route block)")
                }
                throw Bail()
            }
            advance()
            let g = try parseGlobal(name: word, tok.location)
            if !GlobalNames.known.contains(word) {
                let hint = GlobalNames.hint(forUnknown: word).map { " (\($0))" } ?? ""
                fail(tok.location, "unknown global parameter '\(word)'\(hint)")
            } else {
                ast.globals.append(g)
            }
        }
    }

    mutating func parseGlobal(name: String, _ loc: SourceLocation) throws -> GlobalSetting {
        if GlobalNames.rawValued.contains(name) {
            // socket = udp:127.0.0.1:5060 [as ...] [use_workers N] ... : keep the line's text as written.
            // (The lexer hands over such a line as one string; tokens are joined back otherwise.)
            let line = loc.line
            let file = loc.file
            guard !atEOF, current.location.line == line, current.location.file == file, !current.isPunct(";") else {
                fail(loc, "\(name) needs a value, e.g. \(name) = udp:127.0.0.1:5060")
                throw Bail()
            }
            var parts: [String] = []
            var lastEnd: (Int, Int)? = nil
            while !atEOF, current.location.line == line, current.location.file == file, !current.isPunct(";") {
                let t = advance()
                var piece: String
                switch t.kind {
                case .string(let s, _): piece = s
                default: piece = t.text
                }
                if let last = lastEnd, last.0 == t.location.line, t.location.column > last.1, !parts.isEmpty {
                    // Words separated by blanks stay separated; adjacent tokens (udp : 1.2.3.4) join.
                    let gap = t.location.column - last.1
                    if gap > 0 { piece = " " + piece }
                }
                parts.append(piece)
                lastEnd = (t.location.line, t.location.column + t.text.count)
            }
            _ = accept(";")
            return GlobalSetting(name: name, value: .raw(parts.joined()), location: loc)
        }
        let t = current
        switch t.kind {
        case .number(let n):
            advance(); _ = accept(";")
            return GlobalSetting(name: name, value: .int(n), location: loc)
        case .punct("-"):
            advance()
            guard case .number(let n) = current.kind else {
                fail(current.location, "expected a number after '-'")
                throw Bail()
            }
            advance(); _ = accept(";")
            return GlobalSetting(name: name, value: .int(-n), location: loc)
        case .string(var s, _):
            advance()
            // mpath = "/a" : "/b" (4.0 form) — keep as a colon-separated list.
            while current.isPunct(":"), case .string(let more, _) = peekToken().kind {
                advance(); advance()
                s += ":" + more
            }
            _ = accept(";")
            return GlobalSetting(name: name, value: .string(s), location: loc)
        case .identifier(let id):
            advance(); _ = accept(";")
            return GlobalSetting(name: name, value: .identifier(id), location: loc)
        case .dotted(let d):
            advance(); _ = accept(";")
            return GlobalSetting(name: name, value: .string(d), location: loc)
        default:
            if t.isPunct(";") || atEOF || t.location.line != loc.line {
                fail(loc, "global parameter '\(name)' needs a value: \(name) = ...")
            } else {
                fail(t.location, "bad value for global parameter '\(name)': \(describe(t))")
            }
            throw Bail()
        }
    }

    mutating func parseModparam(_ loc: SourceLocation) throws -> ModParamDecl {
        try expect("(", "after modparam")
        guard case .string(let module, _) = current.kind else {
            fail(current.location, "modparam: expected the module name as a quoted string")
            throw Bail()
        }
        advance()
        try expect(",")
        guard case .string(let param, _) = current.kind else {
            fail(current.location, "modparam: expected the parameter name as a quoted string")
            throw Bail()
        }
        advance()
        try expect(",")
        let valueLoc = current.location
        let value: LiteralValue
        switch current.kind {
        case .string(var s, _):
            advance()
            while case .string(let more, _) = current.kind { s += more; advance() }  // adjacent literals concatenate
            value = .string(s)
        case .number(let n):
            advance()
            value = .int(n)
        case .punct("-"):
            advance()
            guard case .number(let n) = current.kind else {
                fail(current.location, "modparam: expected a number after '-'")
                throw Bail()
            }
            advance()
            value = .int(-n)
        default:
            fail(current.location, "modparam: expected a string or an integer value, found \(describe(current))")
            throw Bail()
        }
        try expect(")", "to close modparam")
        _ = accept(";")
        return ModParamDecl(module: module, param: param, value: value, location: loc, valueLocation: valueLoc)
    }

    /// A route name: identifier, number, or quoted string.
    mutating func parseRouteName() throws -> String {
        let t = current
        switch t.kind {
        case .identifier(let s): advance(); return s
        case .number(let n): advance(); return String(n)
        case .string(let s, _): advance(); return s
        default:
            fail(t.location, "expected a route name, found \(describe(t))")
            throw Bail()
        }
    }

    mutating func parseRoute(keyword: String, _ loc: SourceLocation) throws -> RouteDecl {
        let kind: RouteKind
        switch keyword {
        case "route": kind = .request
        case "failure_route": kind = .failure
        case "onreply_route": kind = .onreply
        case "branch_route": kind = .branch
        case "error_route": kind = .error
        case "local_route": kind = .local
        case "startup_route": kind = .startup
        case "timer_route": kind = .timer
        default: kind = .event
        }
        var name: String? = nil
        var interval: Int? = nil
        var mode: String? = nil
        if accept("[") {
            name = try parseRouteName()
            let commaLoc = current.location
            if accept(",") {
                if kind == .timer {
                    guard case .number(let n) = current.kind else {
                        fail(current.location, "timer_route needs an interval in seconds: timer_route[name, seconds]")
                        throw Bail()
                    }
                    let nloc = advance().location
                    if n <= 0 { fail(nloc, "timer_route interval must be positive, got \(n)") }
                    interval = n
                } else if kind == .event {
                    guard let m = current.identifier, m == "sync" || m == "async" else {
                        fail(current.location, "event_route mode must be 'sync' or 'async'")
                        throw Bail()
                    }
                    advance()
                    mode = m
                } else {
                    fail(commaLoc, "unexpected ',' in \(keyword) name (only timer_route and event_route take a second value)")
                    throw Bail()
                }
            }
            try expect("]", "after the route name")
        }
        if kind == .request, name == "0" { name = nil }
        switch kind {
        case .timer:
            if name == nil || interval == nil { fail(loc, "timer_route needs a name and an interval: timer_route[name, seconds]") }
        case .event:
            if name == nil { fail(loc, "event_route needs an event name: event_route[E_NAME]") }
        case .failure, .branch:
            if name == nil { fail(loc, "\(keyword) needs a name: \(keyword)[name]") }
        case .startup, .local, .error:
            if name != nil { fail(loc, "\(keyword) takes no name") }
        default: break
        }
        let body = try parseBlock()
        return RouteDecl(kind: kind, name: name, body: body, location: loc, timerInterval: interval, eventMode: mode)
    }

    // MARK: statements

    mutating func parseBlock() throws -> [Stmt] {
        let open = current.location
        try expect("{", "to open a block")
        var stmts: [Stmt] = []
        while !current.isPunct("}") {
            if cannotClose(open) { return stmts }
            let start = pos
            do {
                let s = try parseStatement()
                stmts.append(s)
            } catch {
                recoverStatement(from: start)
            }
        }
        advance()
        return stmts
    }

    /// Skip to the end of the broken statement: past the next ';' at this nesting, or to a '}' that closes it.
    mutating func recoverStatement(from start: Int) {
        if unwinding { return }
        // A statement refused at its '{' (nested too deeply) is skipped with its whole block: the '{' is counted below.
        if pos == start, !current.isPunct("{") { advance() }
        var depth = 0
        while !atEOF {
            let t = current
            // A route header is never part of a statement: the enclosing block lacks its '}'.
            if depth == 0, isRouteHeader() { return }
            if t.isPunct("(") || t.isPunct("{") || t.isPunct("[") { depth += 1 }
            if t.isPunct(")") || t.isPunct("]") { depth = max(0, depth - 1) }
            if t.isPunct("}") {
                if depth == 0 { return }
                depth -= 1
                if depth == 0 { advance(); return }
            }
            if t.isPunct(";") && depth == 0 { advance(); return }
            advance()
        }
    }

    /// Where OpenSIPS's parser would reduce the statement just parsed (see SourceLocation.traceLine): the line it has
    /// read up to, and the line of a token after it that we took as part of it (the optional `;` after a block).
    var stmtEnd: (line: Int, lookahead: Int?) = (0, nil)

    mutating func parseStatement() throws -> Stmt {
        let s = try parseStatementBody()
        switch s {
        case .ifElse, .whileLoop, .forEach, .switchStmt, .block: return s  // they set stmtEnd and their trace line
        default:
            stmtEnd = (tokens[max(pos - 1, 0)].endLine, nil)
            return Self.stamped(s, traceLine: stmtEnd.line)
        }
    }

    /// A simple statement with the line OpenSIPS's parser stamps on its action: the line it has read up to when the
    /// statement completes (a call spread over lines traces the line of its end, not of its name).
    static func stamped(_ s: Stmt, traceLine l: Int) -> Stmt {
        switch s {
        case .call(let c): return .call(CallExpr(name: c.name, args: c.args, location: c.location.withTraceLine(l)))
        case .assign(let a):
            return .assign(AssignStmt(target: a.target, targetLocation: a.targetLocation, op: a.op, value: a.value,
                                      location: a.location.withTraceLine(l)))
        case .returnStmt(let v, let loc): return .returnStmt(v, loc.withTraceLine(l))
        case .exit(let loc): return .exit(loc.withTraceLine(l))
        case .drop(let loc): return .drop(loc.withTraceLine(l))
        case .breakStmt(let loc): return .breakStmt(loc.withTraceLine(l))
        case .assertStmt(let c, let d, let loc): return .assertStmt(c, d, loc.withTraceLine(l))
        default: return s
        }
    }

    mutating func parseStatementBody() throws -> Stmt {
        try enterNested()
        defer { nesting -= 1 }
        let tok = current
        let loc = tok.location
        switch tok.kind {
        case .punct(";"):
            advance()
            return .empty
        case .punct("{"):
            let body = try parseBlock()
            let close = tokens[max(pos - 1, 0)].endLine
            stmtEnd = (close, current.isPunct(";") ? current.endLine : nil)
            _ = accept(";")
            return .block(body, loc)
        case .pvar(let pv):
            advance()
            guard let op = assignOp(current) else {
                fail(current.location, "expected an assignment operator after '\(pv)', found \(describe(current))")
                throw Bail()
            }
            advance()
            let value = try parseExpr()
            try endStatement()
            return .assign(AssignStmt(target: pv, targetLocation: loc, op: op, value: value, location: loc))
        case .identifier(let word):
            switch word {
            case "if": return try parseIf()
            case "switch": return try parseSwitch()
            case "while":
                advance()
                try expect("(", "after while")
                let cond = try parseCondition()
                try expect(")", "to close the while condition")
                breakableDepth += 1
                defer { breakableDepth -= 1 }
                let body = try parseStatement()
                return .whileLoop(cond, body, loc.withTraceLine(stmtEnd.line))
            case "for": return try parseFor()
            case "return": return try parseReturn()
            case "assert":
                advance()
                try expect("(", "after assert")
                let cond = try parseCondition()
                // OpenSIPS's grammar has only assert(exp, "string"): the description is required.
                guard accept(",") else {
                    fail(current.location, "assert() takes a condition and a description string: assert(cond, \"text\"), found \(describe(current))")
                    throw Bail()
                }
                guard case .string(let desc, _) = current.kind else {
                    fail(current.location, "assert(): the description must be a string, found \(describe(current))")
                    throw Bail()
                }
                advance()
                try expect(")", "to close assert")
                try endStatement()
                return .assertStmt(cond, desc, loc)
            case "exit", "drop":
                advance()
                if accept("(") {
                    guard current.isPunct(")") else {
                        fail(current.location, "\(word) takes no arguments, found \(describe(current))")
                        throw Bail()
                    }
                    advance()
                }
                try endStatement()
                return word == "exit" ? .exit(loc) : .drop(loc)
            case "break":
                advance()
                if breakableDepth == 0 { fail(loc, "'break' outside a switch, while or for") }
                try endStatement()
                return .breakStmt(loc)
            case "else":
                fail(loc, "'else' without a matching 'if'")
                throw Bail()
            case "case", "default":
                fail(loc, "'\(word)' outside a switch")
                // Skip the label only: what follows it is ordinary statements.
                advance()
                if word == "case" {
                    _ = accept("-")
                    switch current.kind {
                    case .number, .string, .pvar, .identifier: advance()
                    default: break
                    }
                }
                _ = accept(":")
                return .empty
            case "include_file", "import_file":
                try skipMisplacedInclude(word)
                return .empty
            default:
                let call = try parseCall()
                try endStatement()
                return .call(call)
            }
        default:
            fail(loc, "unexpected \(describe(tok)) (expected a statement)")
            throw Bail()
        }
    }

    /// `include_file` is only recognised as the first word of a line.
    mutating func skipMisplacedInclude(_ word: String) throws {
        fail(current.location, "\(word) must be the first word on its line (it is handled before parsing, line by line)")
        advance()
        if case .string = current.kind { advance() }
        _ = accept(";")
    }

    mutating func endStatement() throws {
        if accept(";") { return }
        // OpenSIPS accepts a missing ';' right before a closing brace.
        if current.isPunct("}") { return }
        // A ';' missing at the end of a line is reported where it belongs: right after that line's last token.
        if pos > 0, case let prev = tokens[pos - 1], prev.endColumn > 0,
           prev.location.file == current.location.file, prev.endLine < current.location.line {
            fail(SourceLocation(file: prev.location.file, line: prev.endLine, column: prev.endColumn),
                 "expected ';' at the end of the line (the next line starts with \(describe(current)))")
            throw Bail()
        }
        fail(current.location, "expected ';' but found \(describe(current))")
        throw Bail()
    }

    func assignOp(_ t: Token) -> AssignOp? {
        guard case .punct(let p) = t.kind else { return nil }
        return AssignOp(rawValue: p)
    }

    mutating func parseIf() throws -> Stmt {
        let loc = advance().location
        try expect("(", "after if")
        let cond = try parseCondition()
        try expect(")", "to close the if condition")
        let thenS = try parseStatement()
        var elseS: Stmt? = nil
        // Without else, OpenSIPS reduces once it has read the next token (to see it is no `else`).
        var reduced = stmtEnd.lookahead ?? current.endLine
        if current.isIdent("else") {
            advance()
            elseS = try parseStatement()
            reduced = stmtEnd.line
        } else {
            stmtEnd = (reduced, nil)
        }
        return .ifElse(cond, thenS, elseS, loc.withTraceLine(reduced))
    }

    mutating func parseSwitch() throws -> Stmt {
        let loc = advance().location
        try expect("(", "after switch")
        let subjLoc = current.location
        var subject: String? = nil
        if case .pvar(let pv) = current.kind {
            subject = pv
            advance()
        } else {
            // Reported, then the body is still checked.
            fail(current.location, "switch needs a variable to test, found \(describe(current))")
            while !atEOF && !current.isPunct(")") && !current.isPunct("{") { advance() }
        }
        try expect(")", "after the switch variable")
        let open = current.location
        try expect("{", "to open the switch body")
        var cases: [SwitchCase] = []
        breakableDepth += 1
        defer { breakableDepth -= 1 }
        var sawDefault = false
        var sawCase = false
        while !current.isPunct("}") {
            if cannotClose(open) { break }
            let cloc = current.location
            var label: SwitchLabel? = nil
            if current.isIdent("case") {
                advance()
                sawCase = true
                switch current.kind {
                case .number(let n): advance(); label = .int(n)
                case .punct("-") where { if case .number = peekToken().kind { return true } else { return false } }():
                    advance()
                    if case .number(let n) = current.kind { label = .int(-n) }
                    advance()
                case .string(let s, _): advance(); label = .string(s)
                default:
                    fail(current.location, "case label must be an integer or a string, found \(describe(current))")
                    // Skip the bad label, up to its ':' on the same line.
                    let line = current.location.line
                    while !atEOF, current.location.line == line, !current.isPunct(":"), !current.isPunct("}") { advance() }
                }
                if sawDefault { fail(cloc, "'case' after 'default' (default must come last)") }
            } else if current.isIdent("default") {
                advance()
                if sawDefault { fail(cloc, "duplicate 'default' in switch") }
                sawDefault = true
                label = .defaultLabel
            } else {
                // A statement before the first label: report it and skip it.
                fail(current.location, "expected 'case' or 'default' in switch, found \(describe(current))")
                recoverStatement(from: pos)
                continue
            }
            if !accept(":") {
                fail(current.location, "expected ':' after the case label but found \(describe(current))")
            }
            var body: [Stmt] = []
            while !current.isIdent("case") && !current.isIdent("default") && !current.isPunct("}") {
                if cannotClose(open) { break }
                let start = pos
                do { body.append(try parseStatement()) } catch { recoverStatement(from: start) }
            }
            if let label { cases.append(SwitchCase(label: label, body: body, location: cloc)) }
        }
        if unwinding { return subject.map { .switchStmt($0, subjLoc, cases, loc) } ?? .empty }
        advance()
        if !sawCase {
            fail(loc, "switch needs at least one 'case'")
        }
        stmtEnd = (tokens[max(pos - 1, 0)].endLine, nil)
        return subject.map { .switchStmt($0, subjLoc, cases, loc.withTraceLine(stmtEnd.line)) } ?? .empty
    }

    mutating func parseFor() throws -> Stmt {
        let loc = advance().location
        // Both "for ($it in $coll[*])" and the "for each" spelling some users write.
        if current.isIdent("each") { advance() }
        try expect("(", "after for")
        let itLoc = current.location
        guard case .pvar(let it) = current.kind else {
            fail(current.location, "for needs an iterator variable: for ($var(it) in $(avp(x)[*]))")
            throw Bail()
        }
        advance()
        guard current.isIdent("in") else {
            fail(current.location, "expected 'in' in for loop, found \(describe(current))")
            throw Bail()
        }
        advance()
        let collLoc = current.location
        guard case .pvar(let coll) = current.kind else {
            fail(current.location, "for needs a collection variable with [*]")
            throw Bail()
        }
        advance()
        try expect(")", "to close the for header")
        breakableDepth += 1
        defer { breakableDepth -= 1 }
        let body = try parseStatement()
        return .forEach(it, itLoc, coll, collLoc, body, loc.withTraceLine(stmtEnd.line))
    }

    mutating func parseReturn() throws -> Stmt {
        let loc = advance().location
        var values: [Expr?] = []
        if accept("(") {
            if !current.isPunct(")") {
                while true {
                    if current.isPunct(",") { values.append(nil) }  // return(, v1): default code
                    else { values.append(try parseExpr()) }
                    if accept(",") {
                        if values.isEmpty { values.append(nil) }
                        continue
                    }
                    break
                }
            }
            try expect(")", "to close return(")
        } else if !current.isPunct(";") && !current.isPunct("}") {
            values.append(try parseExpr())
        }
        try endStatement()
        return .returnStmt(values, loc)
    }

    // MARK: calls

    mutating func parseCall() throws -> CallExpr {
        try enterNested()
        defer { nesting -= 1 }
        let tok = advance()
        guard let name = tok.identifier else { throw Bail() }
        guard accept("(") else {
            fail(tok.location, "command calls need '()': write \(name)()")
            throw Bail()
        }
        var args: [CallArg] = []
        let concatStrings = name == "xlog" || name == "xdbg" || name == "log"
        if accept(")") { return CallExpr(name: name, args: args, location: tok.location) }
        while true {
            let t = current
            if t.isPunct(",") || t.isPunct(")") {
                args.append(.omitted(t.location))
            } else {
                switch t.kind {
                case .string(var s, _):
                    advance()
                    if concatStrings { while case .string(let more, _) = current.kind { s += more; advance() } }
                    args.append(.string(s, t.location))
                case .number(let n): advance(); args.append(.int(n, t.location))
                case .punct("-"):
                    advance()
                    guard case .number(let n) = current.kind else {
                        fail(current.location, "expected a number after '-' in arguments of \(name)()")
                        throw Bail()
                    }
                    advance(); args.append(.int(-n, t.location))
                case .pvar(let p): advance(); args.append(.pv(p, t.location))
                case .identifier where (name == "async" || name == "launch") && args.isEmpty && peekToken().isPunct("("):
                    args.append(.call(try parseCall()))
                case .identifier(let id):
                    advance()
                    if id == "NULL" || id == "null" { args.append(.null(t.location)) }
                    else { args.append(.identifier(id, t.location)) }
                case .dotted(let d):
                    fail(t.location, "'\(d)' must be quoted in a function argument: \"\(d)\"")
                    advance()
                    args.append(.string(d, t.location))
                default:
                    fail(t.location, "unexpected \(describe(t)) in arguments of \(name)()")
                    throw Bail()
                }
            }
            if accept(",") { continue }
            try expect(")", "to close the arguments of \(name)()")
            break
        }
        return CallExpr(name: name, args: args, location: tok.location)
    }

    // MARK: conditions (&& and || share one level, left-associative)

    mutating func parseCondition() throws -> Expr {
        var left = try parseCondUnary()
        while true {
            let loc = current.location
            if current.isPunct("&&") || current.isIdent("and") {
                advance()
                left = .and(left, try parseCondUnary(), loc)
            } else if current.isPunct("||") || current.isIdent("or") {
                advance()
                left = .or(left, try parseCondUnary(), loc)
            } else {
                return left
            }
        }
    }

    mutating func parseCondUnary() throws -> Expr {
        try enterNested()
        defer { nesting -= 1 }
        let loc = current.location
        if current.isPunct("!") || current.isIdent("not") {
            advance()
            return .not(try parseCondUnary(), loc)
        }
        return try parseCondPrimary()
    }

    func compareOp(_ t: Token) -> CompareOp? {
        guard case .punct(let p) = t.kind else { return nil }
        return CompareOp(rawValue: p)
    }

    mutating func parseCondPrimary() throws -> Expr {
        let t = current
        let loc = t.location
        switch t.kind {
        case .punct("("):
            advance()
            let e = try parseCondition()
            try expect(")", "to close the parenthesis")
            return e
        case .punct("["):
            advance()
            let e = try parseExpr()
            try expect("]", "to close the [ ] test")
            return .test(e, loc)
        case .punct("{"):
            return .block(try parseBlock(), loc)
        case .pvar(let pv):
            advance()
            try refuseArithmetic(after: pv)
            if let op = compareOp(current) {
                let opLoc = advance().location
                let rhs = try parseCompareRHS()
                if case .punct(let p) = current.kind, BinaryOp(rawValue: p) != nil {
                    fail(current.location, "unexpected '\(p)' after the value compared with: the right side of a comparison is a single value (compute it into a variable first)")
                    throw Bail()
                }
                return .compare(op, .pv(pv, loc), rhs, opLoc)
            }
            if let aop = assignOp(current) {
                advance()
                let v = try parseExpr()
                return .assign(AssignStmt(target: pv, targetLocation: loc, op: aop, value: v, location: loc))
            }
            return .pv(pv, loc)
        case .number(let n):
            advance()
            if let op = compareOp(current) {
                fail(loc, "the left side of a comparison must be a variable (OpenSIPS syntax): write $x \(op.rawValue) \(n)")
                throw Bail()
            }
            return .int(n, loc)
        case .string(let s, _):
            advance()
            if let op = compareOp(current) {
                fail(loc, "the left side of a comparison must be a variable (OpenSIPS syntax): write $x \(op.rawValue) \"\(s)\"")
                throw Bail()
            }
            fail(loc, "a string \"\(s)\" is not a condition")
            throw Bail()
        case .identifier(let id):
            if id == "NULL" || id == "null" {
                advance()
                if let op = compareOp(current) {
                    fail(loc, "the left side of a comparison must be a variable (OpenSIPS syntax): write $x \(op.rawValue) NULL")
                } else {
                    fail(loc, "NULL is not a condition")
                }
                throw Bail()
            }
            // `method == "INVITE"`, `src_ip == ...`, `msg:len > 10`: 1.x/2.x keywords.
            let isLegacy = compareOp(peekToken()) != nil
                || (peekToken().isPunct(":") && peekToken(2).identifier != nil && compareOp(peekToken(3)) != nil)
            if isLegacy {
                var word = id
                if peekToken().isPunct(":"), let rest = peekToken(2).identifier { word += ":" + rest }
                let pv = Parser.legacyKeywordPVs[word].map { " (in 3.x '\(word)' is \($0))" } ?? ""
                fail(loc, "'\(word)' is not a variable: the left side of a comparison must be a pseudo-variable\(pv)")
                throw Bail()
            }
            return .call(try parseCall())
        default:
            fail(loc, "unexpected \(describe(t)) in condition")
            throw Bail()
        }
    }

    /// 1.x/2.x condition keywords and the pseudo-variables that replaced them.
    static let legacyKeywordPVs: [String: String] = [
        "method": "$rm", "uri": "$ru", "status": "$rs", "src_ip": "$si", "src_port": "$sp",
        "dst_ip": "$Ri", "dst_port": "$Rp", "proto": "$pr", "af": "$af", "from_uri": "$fu",
        "to_uri": "$tu", "msg:len": "$ml",
    ]

    /// Conditions compare a variable with a value; arithmetic there needs the `[ ]` test operator.
    mutating func refuseArithmetic(after pv: String) throws {
        guard case .punct(let p) = current.kind, BinaryOp(rawValue: p) != nil else { return }
        fail(current.location, "unexpected '\(p)' in a condition: the left side of a comparison is a variable; arithmetic needs the test operator, e.g. [\(pv) \(p) ...]")
        throw Bail()
    }

    mutating func parseCompareRHS() throws -> Expr {
        let t = current
        switch t.kind {
        case .pvar(let p): advance(); return .pv(p, t.location)
        case .string(let s, _): advance(); return .string(s, t.location)
        case .number(let n): advance(); return .int(n, t.location)
        case .dotted(let d): advance(); return .string(d, t.location)
        case .punct("-"):
            advance()
            guard case .number(let n) = current.kind else {
                fail(current.location, "expected a number after '-'")
                throw Bail()
            }
            advance()
            return .int(-n, t.location)
        case .identifier(let id) where id == "NULL" || id == "null":
            advance()
            return .null(t.location)
        case .punct("("), .punct("["):
            return try parseExprAtom()
        default:
            fail(t.location, "expected a variable, string, number or NULL after the comparison operator, found \(describe(t))")
            throw Bail()
        }
    }

    // MARK: expressions (+ - * / % one level; bitwise one level lower)

    mutating func parseExpr() throws -> Expr {
        var left = try parseArith()
        while case .punct(let p) = current.kind, let op = BinaryOp(rawValue: p), op.isBitwise {
            let loc = advance().location
            left = .binary(op, left, try parseArith(), loc)
        }
        return left
    }

    mutating func parseArith() throws -> Expr {
        var left = try parseExprUnary()
        while case .punct(let p) = current.kind, let op = BinaryOp(rawValue: p), !op.isBitwise {
            let loc = advance().location
            left = .binary(op, left, try parseExprUnary(), loc)
        }
        return left
    }

    mutating func parseExprUnary() throws -> Expr {
        try enterNested()
        defer { nesting -= 1 }
        let loc = current.location
        if accept("~") { return .bitNot(try parseExprUnary(), loc) }
        if current.isPunct("-") {
            guard case .number(let n) = peekToken().kind else {
                let next = peekToken()
                var shown = next.text
                if case .pvar(let p) = next.kind { shown = p }
                fail(loc, "unary minus only applies to numbers: write 0 - \(shown)")
                throw Bail()
            }
            advance(); advance()
            return .int(-n, loc)
        }
        return try parseExprAtom()
    }

    mutating func parseExprAtom() throws -> Expr {
        let t = current
        let loc = t.location
        switch t.kind {
        case .number(let n): advance(); return .int(n, loc)
        case .string(let s, _): advance(); return .string(s, loc)
        case .dotted(let d): advance(); return .string(d, loc)
        case .pvar(let p):
            advance()
            // `$x = $y == 1;`: a comparison whose left side is a variable is a value (0/1) without parentheses too.
            if let op = compareOp(current) {
                advance()
                return .compare(op, .pv(p, loc), try parseCompareRHS(), loc)
            }
            return .pv(p, loc)
        case .punct("("):
            advance()
            var e = try parseExpr()
            if let op = compareOp(current) {
                advance()
                e = .compare(op, e, try parseCompareRHS(), loc)
            }
            try expect(")", "to close the parenthesis")
            return e
        case .punct("["):
            advance()
            let e = try parseExpr()
            try expect("]")
            return e
        case .identifier(let id):
            if id == "NULL" || id == "null" { advance(); return .null(loc) }
            return .call(try parseCall())
        default:
            fail(loc, "expected a value (number, string, variable, NULL or function call) but found \(describe(t))")
            throw Bail()
        }
    }
}
