/// Where a token or construct came from, so every diagnostic can say `file:line:col`.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public let file: SourceFile
    public let line: Int
    public let column: Int

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
        self.lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    public func line(_ number: Int) -> String {
        guard number >= 1, number <= lines.count else { return "" }
        var l = lines[number - 1]
        if l.hasSuffix("\r") { l = l.dropLast() }
        return String(l)
    }

    public static func == (a: SourceFile, b: SourceFile) -> Bool { a === b }
}
