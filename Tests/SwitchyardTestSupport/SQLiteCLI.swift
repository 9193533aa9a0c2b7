import Foundation

/// The sqlite3 CLI as a second process on a test's database file: building fixtures from the modules' schema files,
/// and changing or reading tables while a server has them open.
public enum SQLiteCLI {
    /// Runs `sql` (fed on stdin) on `path`; the rows it prints, one `a|b|c` line each. Throws sqlite3's error text.
    @discardableResult
    public static func run(_ path: String, _ sql: String) throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["sqlite3", path]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        p.standardInput = input
        p.standardOutput = output
        p.standardError = errors
        try p.run()
        input.fileHandleForWriting.write(Data(sql.utf8))
        try input.fileHandleForWriting.close()
        let out = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            throw NSError(domain: "sqlite3", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: err])
        }
        return out.split(separator: "\n").map(String.init)
    }
}
