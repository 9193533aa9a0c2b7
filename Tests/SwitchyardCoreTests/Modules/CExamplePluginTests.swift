import Foundation
import XCTest
import SwitchyardMI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The third-party plugin in plain C (Examples/c-plugin), built with its Makefile against the
/// installed header only, loaded into a server, called from a script and over MI.
final class CExamplePluginTests: XCTestCase {
    static let built: Result<String, Error> = {
        let dir = PluginBuilder.outDir.appendingPathComponent("c-example").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let src = Repo.root.appendingPathComponent("Examples/c-plugin").path
        do {
            // Copy the example out of the tree so the build leaves no file behind in the repository.
            for f in ["example.c", "Makefile"] {
                let to = "\(dir)/\(f)"
                try? FileManager.default.removeItem(atPath: to)
                try FileManager.default.copyItem(atPath: "\(src)/\(f)", toPath: to)
            }
            try PluginBuilder.run("/usr/bin/env", ["make", "-s", "SWITCHYARD_INCLUDE=\(Repo.header)"], cwd: dir)
            return .success(dir)
        } catch {
            return .failure(error)
        }
    }()

    func testScriptAndMI() throws {
        let dir = try CExamplePluginTests.built.get()
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "example.so"
        modparam("example", "greeting", "hi there")
        modparam("example", "max_repeat", 5)
        event_route[E_RUN] {
            example_repeat("$param(word)", $param(n), $var(out));
            xlog("out=[$var(out)] calls=$example(calls) greeting=$example(greeting)");
            if (example_repeat("x", 0, $var(out))) xlog("zero ok?"); else xlog("zero refused");
        }
        """)
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.raiseEvent("E_RUN", [(name: "word", value: .str("ab")), (name: "n", value: .int(3))]), 0)
        XCTAssertTrue(h.waitFor("zero refused"), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains("out=[ab ab ab] calls=1 greeting=hi there"), h.messages.joined(separator: "\n"))

        let status = h.server.mi.handle(#"{"jsonrpc":"2.0","method":"example_status","id":1}"#)
        XCTAssertEqual(status, #"{"jsonrpc":"2.0","result":{"greeting":"hi there","calls":2},"id":1}"#)
        let stats = h.server.mi.handle(#"{"jsonrpc":"2.0","method":"get_statistics","params":{"statistics":["example:"]},"id":"s"}"#)
        XCTAssertEqual(stats, #"{"jsonrpc":"2.0","result":{"example:calls":2},"id":"s"}"#)
        let reset = h.server.mi.handle(#"{"jsonrpc":"2.0","method":"example_status","params":["1"],"id":2}"#)
        XCTAssertEqual(reset, #"{"jsonrpc":"2.0","result":"OK","id":2}"#)
        let which = h.server.mi.handle(#"{"jsonrpc":"2.0","method":"which","params":{"command":"example_status"},"id":3}"#)
        XCTAssertEqual(which, #"{"jsonrpc":"2.0","result":[[],["reset"]],"id":3}"#)
    }

    func testBadModparamNamesModuleParamAndReason() throws {
        let dir = try CExamplePluginTests.built.get()
        let h = ServerHarness("mpath = \"\(dir)\"\nloadmodule \"example.so\"\nmodparam(\"example\", \"max_repeat\", 500)\n")
        let errs = h.prepare(checkOnly: true).map(\.description).joined(separator: "\n")
        XCTAssertTrue(errs.contains(":3:35: error: module example, parameter 'max_repeat': max_repeat must be between 1 and 100, got 500"), errs)
    }

    /// No plugin of this build, nor the C example, needs a symbol from the core.
    func testPluginsNeedNoCoreSymbol() throws {
        let dir = try CExamplePluginTests.built.get()
        var plugins = ["\(dir)/example.so"]
        let build = BinaryRunner.buildDirectory.path
        let products = (try? FileManager.default.contentsOfDirectory(atPath: build)) ?? []
        for f in products where f.hasPrefix("lib") && f.hasSuffix(".so") { plugins.append("\(build)/\(f)") }
        XCTAssertGreaterThan(plugins.count, 1, "expected the Swift plugins of this build in \(build)")
        for p in plugins {
            let proc = Process()
            proc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            proc.arguments = ["nm", "-D", "--undefined-only", p]
            let pipe = Pipe()
            proc.standardOutput = pipe
            try proc.run()
            let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            proc.waitUntilExit()
            XCTAssertEqual(proc.terminationStatus, 0)
            let core = out.split(separator: "\n").filter { $0.contains("SwitchyardCore") || $0.contains("SwitchyardMI") || $0.contains("14SwitchyardCore") }
            XCTAssertEqual(core, [], "\(p) needs core symbols")
        }
    }
}
