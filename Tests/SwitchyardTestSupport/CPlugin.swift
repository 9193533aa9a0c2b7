// Test plugins written in C, built as a third party would build them: against the repository's ABI headers only,
// with every warning an error.
import Foundation

public enum CPlugin {
    /// Compiles `source` (a path relative to the repository) into `<dir>/<its name>.so` and returns that path.
    public static func build(_ source: String, into dir: String) throws -> String {
        let src = Repo.root.appendingPathComponent(source).path
        let include = Repo.root.appendingPathComponent("Sources/SwitchyardABI/include").path
        let name = URL(fileURLWithPath: source).deletingPathExtension().lastPathComponent
        let out = "\(dir)/\(name).so"
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        cc.arguments = ["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-I", include, "-o", out, src]
        let pipe = Pipe()
        cc.standardOutput = pipe
        cc.standardError = pipe
        try cc.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        cc.waitUntilExit()
        guard cc.terminationStatus == 0 else { throw SippTestCase.SetupError("cc \(name).c failed:\n\(text)") }
        return out
    }
}
