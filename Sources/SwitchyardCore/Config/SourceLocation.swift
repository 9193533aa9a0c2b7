import Foundation

/// Where a token or construct came from, so every diagnostic can say `file:line:col`.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public let file: SourceFile
    public let line: Int
    public let column: Int
    /// The line script_trace prints for a statement: OpenSIPS's parser stamps every action with the line it has read
    /// up to when it reduces the rule, the end of the statement (or the token after an `if` without `else`, read to
    /// look for one). nil: `line`. Not part of equality.
    public var traceLine: Int? = nil

    public static func == (a: SourceLocation, b: SourceLocation) -> Bool {
        a.file == b.file && a.line == b.line && a.column == b.column
    }

    func withTraceLine(_ l: Int) -> SourceLocation {
        var c = self
        c.traceLine = l
        return c
    }

    public init(file: SourceFile, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file.path):\(line):\(column)" }

    /// The text of the line this location points into (for the caret display).
    public var lineText: String { file.line(line) }
}

/// One configuration file's text, kept so diagnostics can quote the offending line.
public final class SourceFile: Sendable, Equatable {
    public let path: String
    public let text: String
    private let lines: [Substring]

    public init(path: String, text: String) {
        self.path = path
        self.text = text
        // Split on the '\n' byte: splitting on the Character "\n" ran grapheme breaking over the whole file for every
        // file read (and every fuzz input). The pieces are the lines the scanner counts (it counts '\n' bytes): a '\n'
        // followed by a combining mark is one Character, which the Character split did not cut, so the quoted line was
        // not the one the location named. "\r\n" (normalised by the lexer before) splits too; `line(_:)` drops the
        // '\r'. The '\n's are found by memchr (UTF-8 offsets become indices of the text's UTF-8 view, which are valid
        // String indices: a '\n' is one scalar).
        var offsets: [Int] = []
        var copy = text
        copy.withUTF8 { buf in
            guard let base = buf.baseAddress else { return }
            var i = 0
            while i < buf.count, let hit = memchr(base + i, Int32(UInt8(ascii: "\n")), buf.count - i) {
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                offsets.append(at)
                i = at + 1
            }
        }
        var lines: [Substring] = []
        lines.reserveCapacity(offsets.count + 1)
        let utf8 = text.utf8
        var start = utf8.startIndex
        for offset in offsets {
            let newline = utf8.index(utf8.startIndex, offsetBy: offset)
            lines.append(text[start..<newline])
            start = utf8.index(after: newline)
        }
        lines.append(text[start..<utf8.endIndex])
        self.lines = lines
    }

    /// How many lines the text has (a text ending in '\n' has an empty last line).
    public var lineCount: Int { lines.count }

    public func line(_ number: Int) -> String {
        guard number >= 1, number <= lines.count else { return "" }
        var l = lines[number - 1]
        if l.hasSuffix("\r") { l = l.dropLast() }
        return String(l)
    }

    /// The bytes of a line as stored (a trailing '\r' kept); empty past the end.
    func lineBytes(_ number: Int) -> Substring.UTF8View {
        guard number >= 1, number <= lines.count else { return Substring().utf8 }
        return lines[number - 1].utf8
    }

    public static func == (a: SourceFile, b: SourceFile) -> Bool { a === b }
}
