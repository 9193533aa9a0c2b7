/// A startup error (or warning) tied to a place in the configuration.
public struct Diagnostic: Sendable, Error, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning, note }
    public let location: SourceLocation?
    public let severity: Severity
    public let message: String

    public init(_ location: SourceLocation?, _ message: String, severity: Severity = .error) {
        self.location = location
        self.message = message
        self.severity = severity
    }

    /// `file:line:col: error: message`, then the line and a caret under the column.
    public var description: String {
        // No password of a URL is ever shown, in the message or the quoted line.
        let message = PasswordMask.mask(self.message).text
        guard let loc = location else { return "\(severity.rawValue): \(message)" }
        let (text, column) = PasswordMask.mask(loc.lineText)
        let caret = Diagnostic.caretPadding(text, characters: max(0, column(loc.column) - 1))
        return "\(loc): \(severity.rawValue): \(message)\n    \(text)\n    \(caret)^"
    }

    /// What goes before the caret: one blank per character of the line's first `characters`, tabs kept so the caret
    /// lines up under the same character. An ASCII prefix (the usual case) is one byte per character and is done on
    /// bytes; appending Characters one at a time cost a noticeable share of every diagnostic on long lines.
    static func caretPadding(_ line: String, characters: Int) -> String {
        var pad: [UInt8] = []
        pad.reserveCapacity(characters)
        // The byte after the prefix too: a combining mark there joins the prefix's last character.
        for b in line.utf8.prefix(characters + 1) {
            guard b < 0x80 else { return caretPaddingByCharacter(line, characters: characters) }
            if pad.count < characters { pad.append(b == UInt8(ascii: "\t") ? b : UInt8(ascii: " ")) }
        }
        return String(decoding: pad, as: UTF8.self)
    }

    private static func caretPaddingByCharacter(_ line: String, characters: Int) -> String {
        var pad: [UInt8] = []
        for ch in line.prefix(characters) { pad.append(ch == "\t" ? UInt8(ascii: "\t") : UInt8(ascii: " ")) }
        return String(decoding: pad, as: UTF8.self)
    }
}

/// Collects every diagnostic of a run, so an operator sees all errors of a file at once.
public final class DiagnosticBag: @unchecked Sendable {
    // Only used on the startup thread.
    public private(set) var items: [Diagnostic] = []

    public init() {}

    public func error(_ loc: SourceLocation?, _ message: String) {
        items.append(Diagnostic(loc, message))
    }

    public func warning(_ loc: SourceLocation?, _ message: String) {
        items.append(Diagnostic(loc, message, severity: .warning))
    }

    public func append(_ d: Diagnostic) { items.append(d) }

    public var hasErrors: Bool { items.contains { $0.severity == .error } }
    public var errors: [Diagnostic] { items.filter { $0.severity == .error } }
}

/// Thrown when startup must stop; carries every collected error.
public struct ConfigErrors: Error, CustomStringConvertible, Sendable {
    public let diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
