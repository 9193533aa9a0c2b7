// The `tw_append` module parameter: named lists of extra lines for t_write_req / t_write_unix, parsed at startup.
//
//   tw_append = name ':' [element (';' element)*]      element = [label '='] $pv
//
// A labelled element is written as "label: value" (nothing when the value is null); the only element without a label
// is `$rb`, which asks for the message body in the body line whatever the method (not as a "label:" line).
import SwitchyardPluginKit

/// One `tw_append` list, selected by t_write_req("action/name", ...).
struct TWAppend: Sendable {
    struct Element: Sendable {
        let label: String
        let spec: String
        let variable: SYVar
    }
    let name: String
    var addBody = false
    var elements: [Element] = []

    /// Parses one modparam value. `resolve` turns a variable's text into a handle (throws on an unknown one).
    /// Nil for an empty value (OpenSIPS ignores it); throws with the position of the first error.
    static func parse(_ text: String, resolve: (String) throws(PluginError) -> SYVar) throws(PluginError) -> TWAppend? {
        let u = Array(text.utf8)
        guard !u.isEmpty else { return nil }
        var i = 0
        func failure(_ why: String = "") -> PluginError {
            let near = i < u.count ? " ('\(Character(Unicode.Scalar(u[i])))')" : " (end of text)"
            return PluginError("parse error in <\(text)> around position \(i)\(near)\(why.isEmpty ? "" : ": " + why)")
        }
        func isSpace(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 || c == 11 || c == 12 }
        func skipSpaces() { while i < u.count, isSpace(u[i]) { i += 1 } }
        func slice(_ a: Int, _ b: Int) -> String { String(decoding: u[a..<b], as: UTF8.self) }

        // The list's name, then ':'.
        skipSpaces()
        guard i < u.count, u[i] != 58 else { throw failure("a name comes first") }
        let nameStart = i
        while i < u.count, u[i] != 58, !isSpace(u[i]) { i += 1 }
        guard i < u.count else { throw failure("':' expected after the name") }
        var list = TWAppend(name: slice(nameStart, i))
        skipSpaces()
        guard i < u.count, u[i] == 58 else { throw failure("':' expected after the name") }
        i += 1

        // The elements (none at all is a valid, empty list).
        while i < u.count {
            skipSpaces()
            guard i < u.count else { throw failure("an element expected") }
            let wordStart = i
            while i < u.count, u[i] != 61, u[i] != 59, !isSpace(u[i]) { i += 1 }  // '=' ';'
            guard i > wordStart else { throw failure("an element expected") }
            let word = slice(wordStart, i)
            skipSpaces()
            if i < u.count, u[i] != 61, u[i] != 59 { throw failure("'=' or ';' expected") }
            var label: String?
            if i < u.count, u[i] == 61 {
                label = word
                i += 1
                skipSpaces()
            } else {
                i = wordStart  // no label: the word is the variable itself
            }
            guard let end = TWAppend.variableEnd(u, from: i) else { throw failure("a variable ($name) expected") }
            let spec = slice(i, end)
            let variable = try resolve(spec)
            if let label {
                list.elements.append(Element(label: label, spec: spec, variable: variable))
            } else {
                guard TWAppend.isBody(spec) else {
                    throw failure("'\(spec)' needs a label (only $rb, the body, has none)")
                }
                list.addBody = true
            }
            i = end
            skipSpaces()
            if i < u.count {
                guard u[i] == 59 else { throw failure("';' expected between elements") }
                i += 1
                // A ';' must be followed by another element.
                skipSpaces()
                guard i < u.count else { throw failure("an element expected after ';'") }
            }
        }
        return list
    }

    /// Where the variable starting at `i` ends: `$name`, `$name(inner)` or `$(...)`, brackets balanced; nil when
    /// there is none (no '$', no name, an unclosed bracket).
    static func variableEnd(_ u: [UInt8], from start: Int) -> Int? {
        guard start < u.count, u[start] == 36 else { return nil }  // '$'
        var i = start + 1
        func balanced() -> Bool {
            var depth = 0
            while i < u.count {
                if u[i] == 40 { depth += 1 } else if u[i] == 41 {
                    depth -= 1
                    if depth == 0 { i += 1; return true }
                }
                i += 1
            }
            return false
        }
        if i < u.count, u[i] == 40 { return balanced() ? i : nil }
        let nameStart = i
        while i < u.count, isNameByte(u[i]) { i += 1 }
        guard i > nameStart else { return nil }
        if i < u.count, u[i] == 40 { return balanced() ? i : nil }
        return i
    }

    static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c == 46
    }

    /// `$rb`, `$rb(...)` or `$(rb...)`: OpenSIPS's message-body variable, the one element without a label.
    static func isBody(_ spec: String) -> Bool {
        var s = Substring(spec.dropFirst())
        if s.hasPrefix("(") { s = s.dropFirst() }
        guard s.hasPrefix("rb") else { return false }
        let rest = s.dropFirst(2)
        return rest.isEmpty || !isNameByte(rest.utf8.first!)
    }
}

/// Every `tw_append` list of the configuration, by name (compared case-insensitively, as OpenSIPS).
struct TWAppends: Sendable {
    private(set) var lists: [TWAppend] = []

    func find(_ name: Substring) -> TWAppend? {
        let key = name.lowercased()
        return lists.first { $0.name.lowercased() == key }
    }

    mutating func add(_ list: TWAppend) throws(PluginError) {
        guard find(Substring(list.name)) == nil else { throw PluginError("duplicated tw_append name <\(list.name)>") }
        lists.append(list)
    }
}
