/// `dst_blacklist = name:{ rules }` (or the same in quotes) as the config parser hands it over: one list, or an error
/// at the line and column of the offending text.
enum BlacklistConfig {
    static func parse(_ text: String, at loc: SourceLocation, diagnostics: DiagnosticBag) -> (name: String, rules: [BlacklistRule])? {
        do throws(BlacklistParser.Failure) {
            return try BlacklistParser.list(text)
        } catch {
            diagnostics.error(column(of: text, error.offset, in: loc), "bad dst_blacklist: \(error.message)")
            return nil
        }
    }

    /// The column of the value's character `offset` on the line as written: the value's text after the `=` is
    /// looked up on the line (quotes and blanks between tokens may differ), falling back to the global's column.
    static func column(of text: String, _ offset: Int, in loc: SourceLocation) -> SourceLocation {
        let line = Array(loc.lineText.utf8)
        let value = Array(text.utf8)
        let start = max(0, loc.column - 1)
        guard let eq = line[min(start, line.count)...].firstIndex(of: UInt8(ascii: "=")) else { return loc }
        // Walk the line and the value together, skipping on the line what the parser dropped (quotes, blanks).
        var li = eq + 1, vi = 0
        while li < line.count, vi < min(offset, value.count) {
            if line[li] == value[vi] { vi += 1; li += 1; continue }
            li += 1
        }
        while li < line.count, line[li] == 32 || line[li] == 9 || line[li] == 34 { li += 1 }
        guard vi == min(offset, value.count) else { return loc }
        return SourceLocation(file: loc.file, line: loc.line, column: li + 1)
    }
}
