import Foundation

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
    /// lines up under the same character. An ASCII prefix (the usual case) is one byte per character: the blanks are
    /// made at once and the tabs put back (appending Characters one at a time cost a noticeable share of every
    /// diagnostic on long lines).
    static func caretPadding(_ line: String, characters: Int) -> String {
        var line = line
        let ascii: [UInt8]? = line.withUTF8 { buf in
            let n = min(characters, buf.count)
            // The byte after the prefix too: a combining mark there joins the prefix's last character.
            guard isASCII(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buf[..<min(n + 1, buf.count)]))) else { return nil }
            var pad = [UInt8](repeating: UInt8(ascii: " "), count: n)
            guard let base = buf.baseAddress else { return pad }
            var i = 0
            while i < n, let hit = memchr(base + i, Int32(UInt8(ascii: "\t")), n - i) {
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                pad[at] = UInt8(ascii: "\t")
                i = at + 1
            }
            return pad
        }
        guard let ascii else { return caretPaddingByCharacter(line, characters: characters) }
        return String(decoding: ascii, as: UTF8.self)
    }

    /// True when no byte has its high bit set; eight bytes at a time.
    static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i + 8 <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            i += 8
        }
        while i < bytes.count {
            if bytes[i] & 0x80 != 0 { return false }
            i += 1
        }
        return true
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
