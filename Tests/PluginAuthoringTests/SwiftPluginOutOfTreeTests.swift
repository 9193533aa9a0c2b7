import Foundation
import XCTest

/// The Swift plugin of docs/writing-a-plugin.md §2, built as a separate package in a temporary folder that depends
/// on this checkout's SwitchyardPluginKit product by path, then loaded into a real switchyard process.
/// The Package.swift and Hello.swift are the docs' own code blocks, so the docs cannot drift from what builds.
final class SwiftPluginOutOfTreeTests: XCTestCase {
    /// The ```swift block of the docs whose first line is `marker`.
    private func docBlock(startingWith marker: String) throws -> String {
        let doc = try String(contentsOfFile: Repo.path("docs/writing-a-plugin.md"), encoding: .utf8)
        for part in doc.components(separatedBy: "```swift\n").dropFirst() {
            let code = part.components(separatedBy: "```").first ?? ""
            if code.hasPrefix(marker) { return code }
        }
        throw XCTSkip("no ```swift block starting with \(marker) in docs/writing-a-plugin.md")
    }

    func testDocsSmallestSwiftPluginBuildsAndLoads() throws {
        let top = try temporaryFolder(self, "swift")
        // The docs' layout: the plugin next to a Switchyard checkout called `switchyard` (its package identity).
        try FileManager.default.createSymbolicLink(atPath: "\(top)/switchyard", withDestinationPath: Repo.root.path)
        let pkg = "\(top)/hello-plugin"
        try FileManager.default.createDirectory(atPath: "\(pkg)/Sources/Hello", withIntermediateDirectories: true)
        try docBlock(startingWith: "// swift-tools-version").write(toFile: "\(pkg)/Package.swift", atomically: true, encoding: .utf8)
        let hello = try docBlock(startingWith: "// Sources/Hello/Hello.swift")
        try hello.write(toFile: "\(pkg)/Sources/Hello/Hello.swift", atomically: true, encoding: .utf8)
        let lines = hello.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.count
        XCTAssertLessThanOrEqual(lines, 12, "the smallest Swift plugin stays small")

        // A nested build of one small package; the outer `swift test` already holds the build lock. The checkout's
        // own pins (when it has them) fix the versions of its dependencies, so the build resolves nothing afresh
        // and works offline from SwiftPM's cache.
        var args = ["swift", "build"]
        let pins = Repo.root.appendingPathComponent("Package.resolved").path
        if FileManager.default.fileExists(atPath: pins) {
            try FileManager.default.copyItem(atPath: pins, toPath: "\(pkg)/Package.resolved")
            args.append("--disable-automatic-resolution")
        }
        let build = try command(args, cwd: pkg, timeout: 900)
        XCTAssertEqual(build.status, 0, build.output)
        let so = "\(pkg)/.build/debug/libhello.so"
        XCTAssertTrue(FileManager.default.fileExists(atPath: so), build.output)

        let nm = try command(["nm", "-D", "--undefined-only", so])
        let core = nm.output.split(separator: "\n").filter { $0.contains("SwitchyardCore") || $0.contains("SwitchyardMI") }
        XCTAssertEqual(core, [], "no core symbol")

        let server = try ServerProcess(config: """
        mpath = "\(pkg)/.build/debug"
        loadmodule "hello.so"
        startup_route {
            hello("world", $var(out));
            xlog("L_NOTICE", "plugin said: $var(out)\\n");
        }
        """, folder: top)
        defer { server.stop() }
        XCTAssertTrue(server.waitFor("plugin said: hello, world"), server.output)
        XCTAssertEqual(server.stop(), 0, server.output)
    }
}
