import Foundation
import XCTest
import SwitchyardABI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// ABI 1.10 pseudo-variable contexts served by a C plugin (Fixtures/plugins/abi_1_10.c): the core reads any variable
/// against the bytes it hands over, with transformations; no message or an error reads NULL.
final class PVContextABITests: XCTestCase {
    var dir: String { PluginBuilder.outDir.path }

    func testACPluginServesContexts() throws {
        try PluginBuilder.build("abi_1_10")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_10.so"
        event_route[E_CTX] {
            xlog("CTX rs=$(<fixed>rs) rr=$(<fixed>rr) xc=$(<fixed>hdr(X-C)) len=$(<fixed>hdr(X-C){s.len}) empty=$(<empty>rs) broken=$(<broken>rr)");
        }
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("contexts=0") }, h.messages.joined(separator: "\n"))
        XCTAssertEqual(h.server.modules.module(named: "abi110")?.abiVersion, "\(SY_ABI_MAJOR).\(SY_ABI_MINOR)") // built against the current header
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.raiseEvent("E_CTX", []), 0)
        XCTAssertTrue(h.waitFor("CTX "), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("CTX rs=503 rr=Service Unavailable xc=from C len=6 empty=<null> broken=<null>") },
                      h.messages.joined(separator: "\n"))
    }

    /// Bytes that do not parse are parsed, and logged, once per run however often the run reads them.
    func testUnparsableMessageIsParsedOncePerRun() throws {
        try PluginBuilder.build("abi_1_10")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_10.so"
        event_route[E_BAD] {
            xlog("BAD rs=$(<garbled>rs) rr=$(<garbled>rr) to=$(<garbled>hdr(To)) run=$param(n)");
        }
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        try h.start()
        defer { h.stop() }
        for n in 1...2 {
            XCTAssertEqual(h.server.raiseEvent("E_BAD", [("n", .int(n))]), 0)
            XCTAssertTrue(h.waitFor("BAD rs=<null> rr=<null> to=<null> run=\(n)"), h.messages.joined(separator: "\n"))
        }
        let errors = h.messages.filter { $0.contains("module abi110 handed over a message that does not parse") }
        XCTAssertEqual(errors.count, 2, h.messages.joined(separator: "\n"))
    }

    /// A misspelt context is a startup error at its line.
    func testUnknownContextNamesWhereItIsWritten() throws {
        try PluginBuilder.build("abi_1_10")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_10.so"
        route { xlog("$(<fixd>rs)"); }
        """)
        let errors = h.prepare(workers: 1).map(\.description)
        XCTAssertEqual(errors.count, 1, "\(errors)")
        XCTAssertTrue(errors.first?.contains(":3:") ?? false, "\(errors)")
        XCTAssertTrue(errors.first?.contains("unknown pseudo-variable context <fixd> in $(<fixd>rs)") ?? false, "\(errors)")
    }
}
