import Foundation
import XCTest
import SwitchyardTestSupport

extension Repo {
    /// This target's fixtures (C plugins, parser goldens).
    static var fixtures: URL { root.appendingPathComponent("Tests/SwitchyardCoreTests/Fixtures") }
}

/// Compiles C plugin fixtures with the system C compiler, as a third party would.
enum PluginBuilder {
    static let outDir: URL = {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("sy-plugins-\(getpid())")
        try? FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }()

    /// Builds Fixtures/plugins/<name>.c into <outDir>/<name>.so (once per test process).
    /// With `headerDir`, the source is built against the switchyard.h found there (a frozen older ABI) into `<output>.so`.
    @discardableResult
    static func build(_ name: String, headerDir: String? = nil, output: String? = nil) throws -> String {
        let out = outDir.appendingPathComponent("\(output ?? name).so").path
        if FileManager.default.fileExists(atPath: out) { return out }
        let src = Repo.fixtures.appendingPathComponent("plugins/\(name).c").path
        try run("/usr/bin/env", ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I", headerDir ?? Repo.header,
                                 "-o", out, src])
        return out
    }

    /// `nm -D --undefined-only` of a shared object: the symbol names it needs from outside.
    static func undefinedSymbols(_ path: String) throws -> [String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["nm", "-D", "--undefined-only", path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return text.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
    }

    static func run(_ exe: String, _ args: [String], cwd: String? = nil) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let errPipe = Pipe()
        p.standardError = errPipe
        p.standardOutput = errPipe
        try p.run()
        let out = errPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        if p.terminationStatus != 0 {
            throw NSError(domain: "build", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: "\(args.joined(separator: " ")): \(String(decoding: out, as: UTF8.self))"])
        }
    }
}
