import Foundation

/// Turns configuration text into tokens. `include_file`/`import_file` lines are expanded here,
/// recursively, with each token keeping the file and line it really came from.
public struct Lexer {
    public static let maxIncludeDepth = 50

    /// Words that lex as numbers everywhere.
    static let booleanWords: [String: Int] = [
        "yes": 1, "true": 1, "on": 1, "enable": 1,
        "no": 0, "false": 0, "off": 0, "disable": 0,
    ]

    static let multiCharOps: [String] = [
        ":=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=",
        "==", "!=", "<=", ">=", "=~", "!~", "&&", "||", "<<", ">>",
    ]
    /// The same by first byte: the second bytes that complete an operator starting with it. A punctuation token looks
    /// at its own byte's entry only (it compared its byte with all 19 operators).
    static let multiCharOpsByFirstByte: [[(second: UInt8, op: String)]] = {
        var table = Array(repeating: [(second: UInt8, op: String)](), count: 256)
        for op in multiCharOps {
            let u = Array(op.utf8)
            table[Int(u[0])].append((u[1], op))
        }
        return table
    }()

    /// Tokenizes a file from disk.
    public static func tokenize(path: String, diagnostics: DiagnosticBag) -> [Token] {
        var stack: [String] = []
        var out: [Token] = []
        let main = lexFile(path: path, includedFrom: nil, stack: &stack, out: &out, diagnostics: diagnostics)
        out.append(Token(kind: .eof, location: endOfFile(main ?? SourceFile(path: path, text: "")), endLine: 0))
        return out
    }

    /// Tokenizes text given in memory (tests, `-` for stdin).
    public static func tokenize(text: String, path: String, diagnostics: DiagnosticBag) -> [Token] {
        var stack: [String] = [path]
        var out: [Token] = []
        let file = SourceFile(path: path, text: normalizedLineEnds(text))
        lexText(file, baseDir: FileManager.default.currentDirectoryPath, stack: &stack, out: &out, diagnostics: diagnostics)
        out.append(Token(kind: .eof, location: endOfFile(file), endLine: 0))
        return out
    }

    /// CRLF files are read as LF files, so lines and carets come out right (a Swift `Character`
    /// "\r\n" is not equal to "\n", which would otherwise glue every line of the file together).
    static func normalizedLineEnds(_ text: String) -> String {
        // A byte scan first: most files have no '\r', and Foundation's `contains` was a measurable part of every parse.
        hasCarriageReturn(text) && text.contains("\r\n") ? text.replacingOccurrences(of: "\r\n", with: "\n") : text
    }

    static func hasCarriageReturn(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { buf in
            guard let base = buf.baseAddress else { return false }
            return memchr(base, Int32(UInt8(ascii: "\r")), buf.count) != nil
        }
    }

    /// Where "end of file" errors point: just past the last non-blank character of the main file,
    /// the same whether the file was read from disk or given as text.
    static func endOfFile(_ file: SourceFile) -> SourceLocation {
        // From the end, over the file's own lines and their bytes (no second split, no array of scalars per line):
        // the column counts characters (scalars) as the scanner does, and blanks are ASCII.
        for number in stride(from: file.lineCount, through: 1, by: -1) {
            let bytes = file.lineBytes(number)
            guard let last = bytes.lastIndex(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") && $0 != UInt8(ascii: "\r") })
            else { continue }
            var column = 1
            for b in bytes[...last] where b & 0xC0 != 0x80 { column += 1 }
            return SourceLocation(file: file, line: number, column: column)
        }
        return SourceLocation(file: file, line: 1, column: 1)
    }

    @discardableResult
    static func lexFile(path: String, includedFrom: SourceLocation?, stack: inout [String], out: inout [Token], diagnostics: DiagnosticBag) -> SourceFile? {
        guard let data = FileManager.default.contents(atPath: path) else {
            diagnostics.error(includedFrom, "cannot read config file '\(path)'")
            return nil
        }
        if data.contains(0) {
            diagnostics.error(includedFrom, "config file '\(path)' contains a NUL byte")
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            diagnostics.error(includedFrom, "config file '\(path)' is not valid UTF-8")
            return nil
        }
        stack.append(path)
        defer { stack.removeLast() }
        let dir = (path as NSString).deletingLastPathComponent
        let file = SourceFile(path: path, text: normalizedLineEnds(text))
        lexText(file, baseDir: dir.isEmpty ? "." : dir, stack: &stack, out: &out, diagnostics: diagnostics)
        return file
    }

    static func lexText(_ file: SourceFile, baseDir: String, stack: inout [String], out: inout [Token], diagnostics: DiagnosticBag) {
        var scanner = Scanner(file: file, diagnostics: diagnostics)
        while let tok = scanner.next() {
            // include_file "x" is recognised only as the first word of a physical line.
            if case .identifier(let word) = tok.kind, word == "include_file" || word == "import_file", scanner.tokenStartsLine {
                // Look at the next token without taking it: if it is not the file name, it may
                // start the next line's item and must still be lexed normally.
                var probe = scanner
                let pathTok = probe.next()
                guard let pathTok, case .string(let incPath, _) = pathTok.kind else {
                    diagnostics.error(tok.location, "\(word) needs a quoted file name: \(word) \"file.cfg\"")
                    // The whole line is the directive: skip what is left of it.
                    if let pathTok, pathTok.location.line == tok.location.line { scanner.skipRestOfLine() }
                    continue
                }
                scanner = probe
                scanner.skipRestOfLine()
                guard stack.count < maxIncludeDepth else {
                    diagnostics.error(tok.location, "\(word): include depth exceeds \(maxIncludeDepth) (recursive include?)")
                    continue
                }
                let fm = FileManager.default
                var resolved = incPath
                if !incPath.hasPrefix("/") && !fm.fileExists(atPath: incPath) {
                    resolved = (baseDir as NSString).appendingPathComponent(incPath)
                }
                if stack.contains(resolved) {
                    diagnostics.error(tok.location, "\(word): '\(incPath)' includes itself")
                    continue
                }
                lexFile(path: resolved, includedFrom: tok.location, stack: &stack, out: &out, diagnostics: diagnostics)
                continue
            }
            // `socket = ...` / `listen = ...` / `alias = ...`: the value is a socket spec, not script
            // tokens (IPv6 groups such as 0db8 or 2a02 are not numbers). Hand it over as written.
            if case .identifier(let word) = tok.kind, word == "socket" || word == "listen" || word == "alias", scanner.tokenStartsLine {
                var probe = scanner
                if let eq = probe.next(), eq.isPunct("="), eq.location.line == tok.location.line {
                    scanner = probe
                    out.append(tok)
                    out.append(eq)
                    if let raw = scanner.rawValue() { out.append(raw) }
                    continue
                }
            }
            out.append(tok)
        }
    }
}

/// Character-level scanner over one file.
struct Scanner {
    let file: SourceFile
    let diagnostics: DiagnosticBag
    let bytes: [UInt8]
    var pos = 0
    var line = 1
    var lineStart = 0
    /// The column of `pos`, kept up to date by `advance()`: recounting it from the line's start for every token made a
    /// long line cost the square of its length.
    private(set) var column = 1
    /// True when the last returned token was the first token on its line.
    private(set) var tokenStartsLine = false
    private var lastTokenLine = 0

    init(file: SourceFile, diagnostics: DiagnosticBag) {
        self.file = file
        self.diagnostics = diagnostics
        self.bytes = Array(file.text.utf8)
    }

    var location: SourceLocation { SourceLocation(file: file, line: line, column: column) }

    func recountColumn(at offset: Int) -> Int {
        // Columns count characters, not bytes, so carets line up with what an editor shows.
        var col = 1
        var i = lineStart
        while i < offset {
            let b = bytes[i]
            if b & 0xC0 != 0x80 { col += 1 }
            i += 1
        }
        return col
    }

    func peek(_ k: Int = 0) -> UInt8? { pos + k < bytes.count ? bytes[pos + k] : nil }

    mutating func advance() {
        let b = bytes[pos]
        if b == UInt8(ascii: "\n") {
            line += 1
            lineStart = pos + 1
            column = 1
        } else if b & 0xC0 != 0x80 {
            column += 1
        }
        pos += 1
    }

    /// The rest of the line up to a comment or ';' (outside quotes), as one string token with the
    /// double quotes removed (`udp:"host":5060` is `udp:host:5060`); nil when there is nothing.
    mutating func rawValue() -> Token? {
        while let c = peek(), c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") { advance() }
        let loc = location
        let start = pos
        var quoted = false
        while let c = peek(), c != UInt8(ascii: "\n") {
            if c == UInt8(ascii: "\"") { quoted.toggle() }
            if !quoted, c == UInt8(ascii: "#") || c == UInt8(ascii: ";") || (c == UInt8(ascii: "/") && (peek(1) == UInt8(ascii: "*") || peek(1) == UInt8(ascii: "/"))) { break }
            advance()
        }
        var text = String(decoding: bytes[start..<pos], as: UTF8.self)
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        guard !text.isEmpty else { return nil }
        text.removeAll { $0 == "\"" }
        return Token(kind: .string(text, singleQuoted: false), location: loc, endLine: line, endColumn: location.column)
    }

    mutating func skipRestOfLine() {
        while let c = peek(), c != UInt8(ascii: "\n") { advance() }
    }

    mutating func skipTrivia() {
        while let c = peek() {
            switch c {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                advance()
            case UInt8(ascii: "#"):
                skipRestOfLine()
            case UInt8(ascii: "\\") where peek(1) == UInt8(ascii: "\n"):
                advance(); advance()
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "/"):
                // Not a comment in any OpenSIPS version. Say so once, then
                // skip the line as the author meant, instead of a cascade of errors about '/'.
                diagnostics.error(location, "'//' is not a comment in OpenSIPS scripts: use '#' or '/* ... */'")
                skipRestOfLine()
            case UInt8(ascii: "/") where peek(1) == UInt8(ascii: "*"):
                let start = location
                advance(); advance()
                var depth = 1  // /* */ comments nest
                while depth > 0 {
                    guard let d = peek() else {
                        diagnostics.error(start, "unterminated /* comment (comments nest: every '/*' needs its own '*/')")
                        return
                    }
                    if d == UInt8(ascii: "/"), peek(1) == UInt8(ascii: "*") { depth += 1; advance(); advance() }
                    else if d == UInt8(ascii: "*"), peek(1) == UInt8(ascii: "/") { depth -= 1; advance(); advance() }
                    else { advance() }
                }
            default:
                return
            }
        }
    }

    // One unsigned comparison per class (not two per range): these run for every byte of every word, and under the
    // fuzzer every comparison is also a call.
    static func isIdentStart(_ c: UInt8) -> Bool {
        (c | 0x20) &- 97 < 26  // 'A'...'Z' land on 'a'...'z', no other byte does
    }
    static func isIdentChar(_ c: UInt8) -> Bool {
        isIdentStart(c) || isDigit(c) || c == UInt8(ascii: "_")
    }
    static func isDigit(_ c: UInt8) -> Bool { c &- 48 < 10 }

    mutating func next() -> Token? {
        skipTrivia()
        guard let c = peek() else { return nil }
        let loc = location
        tokenStartsLine = loc.line != lastTokenLine
        lastTokenLine = loc.line
        func make(_ k: TokenKind) -> Token { Token(kind: k, location: loc, endLine: line, endColumn: location.column) }

        if Scanner.isIdentStart(c) {
            let start = pos
            while let d = peek(), Scanner.isIdentChar(d) { advance() }
            let word = String(decoding: bytes[start..<pos], as: UTF8.self)
            if let n = Lexer.booleanWords[word] { return make(.number(n)) }
            return make(.identifier(word))
        }
        if Scanner.isDigit(c) {
            return make(lexNumber(loc))
        }
        if c == UInt8(ascii: "\"") || c == UInt8(ascii: "'") {
            return make(lexString(quote: c, loc))
        }
        if c == UInt8(ascii: "$") {
            return make(.pvar(lexPVar(loc)))
        }
        if let second = peek(1) {
            for (completing, op) in Lexer.multiCharOpsByFirstByte[Int(c)] where completing == second {
                advance(); advance()
                return make(.punct(op))
            }
        }
        advance()
        return make(.punct(String(UnicodeScalar(c))))
    }

    mutating func lexNumber(_ loc: SourceLocation) -> TokenKind {
        let start = pos
        // Dotted words (IPv4 addresses) are their own token.
        var i = pos
        var sawDot = false
        while i < bytes.count, Scanner.isDigit(bytes[i]) || (bytes[i] == UInt8(ascii: ".") && i + 1 < bytes.count && Scanner.isDigit(bytes[i + 1])) {
            if bytes[i] == UInt8(ascii: ".") { sawDot = true }
            i += 1
        }
        if sawDot {
            while pos < i { advance() }
            return .dotted(String(decoding: bytes[start..<pos], as: UTF8.self))
        }
        if peek() == UInt8(ascii: "0"), let x = peek(1), x == UInt8(ascii: "x") || x == UInt8(ascii: "X") {
            advance(); advance()
            let hs = pos
            while let d = peek(), Scanner.isDigit(d) || (d | 0x20 >= 97 && d | 0x20 <= 102) { advance() }
            let digits = String(decoding: bytes[hs..<pos], as: UTF8.self)
            // Letters glued to the number belong to the same (bad) word: "0xZZ" is one error, not two.
            let glued = pos
            while let d = peek(), Scanner.isIdentChar(d) { advance() }
            let word = String(decoding: bytes[start..<pos], as: UTF8.self)
            guard glued == pos, !digits.isEmpty else {
                diagnostics.error(loc, "malformed hexadecimal number '\(word)'")
                return .number(0)
            }
            guard let v = Int(digits, radix: 16) else {
                diagnostics.error(loc, "number '\(word)' is too large")
                return .number(0)
            }
            return .number(v)
        }
        while let d = peek(), Scanner.isDigit(d) { advance() }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        if let d = peek(), Scanner.isIdentChar(d) {
            while let d = peek(), Scanner.isIdentChar(d) { advance() }
            diagnostics.error(loc, "malformed number '\(String(decoding: bytes[start..<pos], as: UTF8.self))'")
            return .number(0)
        }
        // A leading 0 means octal, as in C and OpenSIPS (010 is 8).
        if text.count > 1, text.hasPrefix("0") {
            guard let v = Int(text.dropFirst(), radix: 8) else {
                diagnostics.error(loc, "malformed octal number '\(text)'")
                return .number(0)
            }
            return .number(v)
        }
        guard let v = Int(text) else {
            diagnostics.error(loc, "number '\(text)' is too large")
            return .number(0)
        }
        return .number(v)
    }

    mutating func lexString(quote: UInt8, _ loc: SourceLocation) -> TokenKind {
        advance()
        var out: [UInt8] = []
        let single = quote == UInt8(ascii: "'")
        while true {
            guard let c = peek() else {
                diagnostics.error(loc, "unterminated string: no closing \(single ? "'" : "\"") before the end of the file")
                break
            }
            if c == quote { advance(); break }
            if c == UInt8(ascii: "\\") && !single {
                guard let e = peek(1) else { advance(); continue }
                switch e {
                case UInt8(ascii: "n"): out.append(10); advance(); advance()
                case UInt8(ascii: "r"): out.append(13); advance(); advance()
                case UInt8(ascii: "t"): out.append(9); advance(); advance()
                case UInt8(ascii: "a"): out.append(7); advance(); advance()
                case UInt8(ascii: "\""): out.append(34); advance(); advance()
                case UInt8(ascii: "\\"): out.append(92); advance(); advance()
                case UInt8(ascii: "\n"): advance(); advance()  // line continuation
                case UInt8(ascii: "x"):
                    var digits: [UInt8] = []
                    var k = 2
                    while digits.count < 2, let h = peek(k), Scanner.isDigit(h) || (h | 0x20 >= 97 && h | 0x20 <= 102) { digits.append(h); k += 1 }
                    if digits.isEmpty { out.append(92); advance() }
                    else {
                        out.append(UInt8(String(decoding: digits, as: UTF8.self), radix: 16)!)
                        for _ in 0..<k { advance() }
                    }
                case 48...55:
                    // Octal needs two or three digits: a lone \1 stays literal (regex back-references).
                    var digits: [UInt8] = []
                    var k = 1
                    while digits.count < 3, let o = peek(k), o >= 48 && o <= 55 { digits.append(o); k += 1 }
                    if digits.count >= 2, let v = Int(String(decoding: digits, as: UTF8.self), radix: 8), v < 256 {
                        out.append(UInt8(v))
                        for _ in 0..<k { advance() }
                    } else {
                        out.append(92); advance()
                    }
                default:
                    out.append(92); advance()  // unknown escapes are kept verbatim ("\." stays \.)
                }
                continue
            }
            out.append(c)
            advance()
        }
        return .string(String(decoding: out, as: UTF8.self), singleQuoted: single)
    }

    /// `$name`, `$name(inner)`, `$(long form...)`, `$$`. Parentheses nest.
    mutating func lexPVar(_ loc: SourceLocation) -> String {
        let start = pos
        advance()  // $
        if peek() != UInt8(ascii: "(") {
            while let c = peek(), Scanner.isIdentChar(c) || c == UInt8(ascii: ".") { advance() }
        }
        guard peek() == UInt8(ascii: "(") else { return String(decoding: bytes[start..<pos], as: UTF8.self) }
        var depth = 0
        var firstSemicolon: Int? = nil
        while let c = peek() {
            if c == UInt8(ascii: "(") { depth += 1 }
            if c == UInt8(ascii: ")") { depth -= 1; if depth == 0 { advance(); break } }
            if c == UInt8(ascii: "\n") { break }
            if c == UInt8(ascii: ";"), firstSemicolon == nil { firstSemicolon = pos }
            advance()
        }
        if depth == 0 { return String(decoding: bytes[start..<pos], as: UTF8.self) }
        // Unbalanced: the variable most likely ends at the statement's ';' (same line, so the line
        // bookkeeping is unchanged). Report it once, and hand the parser the repaired name so the
        // rest of the statement parses and the resolver does not report it a second time.
        if let s = firstSemicolon {
            pos = s
            column = recountColumn(at: s)
        }
        var text = String(decoding: bytes[start..<pos], as: UTF8.self)
        while let last = text.last, last == " " || last == "\t" || last == "\r" { text.removeLast() }
        diagnostics.error(loc, "unbalanced parentheses in pseudo-variable '\(text)': a ')' is missing")
        let missing = text.filter { $0 == "(" }.count - text.filter { $0 == ")" }.count
        return text + String(repeating: ")", count: max(0, missing))
    }
}
