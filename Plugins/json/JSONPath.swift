// The `$json(...)` name grammar, parsed once at startup (as OpenSIPS's json module reads it):
//
//   spec  := NAME { seg } [ '.keys' | '.values' ]
//   seg   := '/' KEY | '[' INDEX ']'
//   NAME  := bytes up to the first '/', '[' or '.'                     (never a variable: issue #1382)
//   KEY   := bytes up to the next '/', '[' or '.', taken literally (spaces count, may be empty)
//          | '$...' a variable whose value is the key (a '/', '[' or '.' inside its parentheses does not end it)
//   INDEX := blanks only → append ("[]", only for writing)
//          | '$...' a variable whose value must be an int
//          | a signed decimal integer (negative counts from the end)
//
// After ']' only '/', '[', '.' or the end may follow; '.' must be followed by exactly `keys` or `values` and end the
// spec, so a key containing a dot needs a variable segment: `$var(k) = "b.c"; $json(a/$var(k))`.
import SwitchyardPluginKit

/// A parsed `$json(...)` / `$json_compact(...)` / `$json_pretty(...)` name.
struct JSONPath: Sendable {
    enum Step: Sendable {
        case key(String)
        case keyVariable(SYVar, spec: String)
        case index(Int)
        case indexVariable(SYVar, spec: String)
        case append
    }

    /// A step with its variable evaluated.
    enum Resolved: Sendable {
        case key(String)
        case index(Int)
        case append
    }

    enum Iteration: Sendable {
        case none
        case keys
        case values
    }

    /// The text between the parentheses, for log lines.
    let text: String
    /// The document name and its slot in every worker's document table.
    let name: String
    let slot: Int
    let steps: [Step]
    let iteration: Iteration
    /// `steps` already resolved when no step holds a variable (nil otherwise).
    let staticSteps: [Resolved]?

    init(text: String, name: String, slot: Int, steps: [Step], iteration: Iteration) {
        self.text = text
        self.name = name
        self.slot = slot
        self.steps = steps
        self.iteration = iteration
        var resolved: [Resolved]? = []
        for step in steps {
            switch step {
            case .key(let k): resolved?.append(.key(k))
            case .index(let i): resolved?.append(.index(i))
            case .append: resolved?.append(.append)
            case .keyVariable, .indexVariable: resolved = nil
            }
        }
        staticSteps = resolved
    }

    /// Parses `inner`; `slot` interns the document name, `varParse` resolves a variable segment (startup only).
    static func parse(_ inner: String, slot: (String) -> Int,
                      varParse: (String) throws(PluginError) -> SYVar) throws(PluginError) -> JSONPath {
        let b = Array(inner.utf8)
        let n = b.count
        func text(_ r: Range<Int>) -> String { String(decoding: b[r], as: UTF8.self) }
        func isSeparator(_ c: UInt8) -> Bool { c == UInt8(ascii: "/") || c == UInt8(ascii: "[") || c == UInt8(ascii: ".") }
        func fail(_ why: String) -> PluginError { PluginError("$json(\(inner)): \(why)") }

        var i = 0
        while i < n, !isSeparator(b[i]) { i += 1 }
        let name = text(0..<i)
        guard !name.isEmpty else { throw fail("missing the document name before the path") }
        if b[0] == UInt8(ascii: "$") {
            throw fail("the document name cannot be a variable (only path segments can: $json(doc/$var(key)))")
        }

        var steps: [Step] = []
        var iteration = Iteration.none
        while i < n {
            switch b[i] {
            case UInt8(ascii: "/"):
                i += 1
                let start = i
                if i < n, b[i] == UInt8(ascii: "$") {
                    // A variable key: up to the next separator outside its brackets.
                    var depth = 0
                    while i < n {
                        let c = b[i]
                        if c == UInt8(ascii: "(") || c == UInt8(ascii: "{") { depth += 1 }
                        if c == UInt8(ascii: ")") || c == UInt8(ascii: "}") { depth -= 1 }
                        if depth <= 0, isSeparator(c) { break }
                        i += 1
                    }
                    let spec = text(start..<i)
                    do {
                        steps.append(.keyVariable(try varParse(spec), spec: spec))
                    } catch {
                        throw fail("bad variable '\(spec)' as a key: \(error)")
                    }
                } else {
                    while i < n, !isSeparator(b[i]) { i += 1 }
                    steps.append(.key(text(start..<i)))
                }
            case UInt8(ascii: "["):
                i += 1
                let start = i
                var depth = 0
                while i < n {
                    let c = b[i]
                    if c == UInt8(ascii: "]"), depth == 0 { break }
                    if c == UInt8(ascii: "(") || c == UInt8(ascii: "{") || c == UInt8(ascii: "[") { depth += 1 }
                    if c == UInt8(ascii: ")") || c == UInt8(ascii: "}") || c == UInt8(ascii: "]") { depth -= 1 }
                    i += 1
                }
                guard i < n else { throw fail("mismatched '[' (missing ']')") }
                let raw = text(start..<i)
                i += 1
                let content = raw.trimmingBlanks()
                if content.isEmpty {
                    steps.append(.append)
                } else if content.hasPrefix("$") {
                    do {
                        steps.append(.indexVariable(try varParse(content), spec: content))
                    } catch {
                        throw fail("bad variable '\(content)' as an index: \(error)")
                    }
                } else if let index = Int(content) {
                    steps.append(.index(index))
                } else {
                    throw fail("index value is not an integer: [\(raw)]")
                }
            case UInt8(ascii: "."):
                let suffix = text((i + 1)..<n)
                switch suffix {
                case "keys": iteration = .keys
                case "values": iteration = .values
                default:
                    throw fail("bad iterator type '.\(suffix)' (expected .keys or .values; "
                               + "a key containing '.' needs a variable segment: $var(k) = \"b.c\"; $json(a/$var(k)))")
                }
                i = n
            default:
                let c = String(decoding: [b[i]], as: UTF8.self)
                throw fail("unexpected character '\(c)' at position \(i) (after ']' comes '/', '[', '.' or the end)")
            }
        }
        return JSONPath(text: inner, name: name, slot: slot(name), steps: steps, iteration: iteration)
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    func trimmingBlanks() -> String {
        let u = Array(utf8)
        var lo = 0
        var hi = u.count
        while lo < hi, u[lo] == 0x20 || u[lo] == 0x09 { lo += 1 }
        while hi > lo, u[hi - 1] == 0x20 || u[hi - 1] == 0x09 { hi -= 1 }
        return String(decoding: u[lo..<hi], as: UTF8.self)
    }
}
