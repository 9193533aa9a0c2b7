import XCTest
import SwitchyardSIP
import SwitchyardABI
@testable import SwitchyardCore

/// `$(<ctx>pv)`: the context prefix parsed by the core, resolved against the contexts modules register, the inner
/// variable read on the context's message (index and transformations still working), unknown contexts refused.
final class PVContextTests: XCTestCase {
    static let reply = Array("""
    SIP/2.0 503 Service Unavailable\r
    Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1\r
    From: <sip:a@x>;tag=1\r
    To: <sip:b@x>;tag=2\r
    Call-ID: ctx@test\r
    CSeq: 1 INVITE\r
    X-Foo: bar baz\r
    X-Foo: second\r
    Content-Length: 0\r
    \r

    """.utf8)

    static func register(_ engine: ScriptEngine) throws {
        let msg = try SIPMessage.parse(reply)
        try engine.register(pvContext: PVContext(name: "reply", module: "test", source: .native { _ in
            ScriptMessage(sip: msg, origin: nil)
        }))
        try engine.register(pvContext: PVContext(name: "nothing", module: "test", source: .native { _ in nil }))
    }

    func testInnerVariableReadsTheContextMessage() {
        let h = ScriptHarness("""
        route {
            xlog("rs=$(<reply>rs) rr=$(<reply>rr) foo=$(<reply>hdr(X-Foo)) len=$(<reply>hdr(X-Foo){s.len}) last=$(<reply>hdr(X-Foo)[-1]) ci=$(<reply>ci)\\n");
            for ($var(h) in $(<reply>hdr(X-Foo)[*])) { xlog("each=$var(h)\\n"); }
            xlog("none=$(<nothing>rs) nolen=$(<nothing>rs{s.len}) own=$ru rs=$rs\\n");
        }
        """, setup: Self.register)
        h.run()
        XCTAssertEqual(h.output, ["rs=503 rr=Service Unavailable foo=bar baz len=7 last=second ci=ctx@test",
                                  "each=bar baz", "each=second",
                                  "none=<null> nolen=<null> own=sip:user@dummy.com rs=<null>"])
    }

    func testContextVariablesAreReadOnly() {
        let errs = diagnosticsOf("route { $(<reply>rs) = 1; }", setup: Self.register)
        XCTAssertEqual(errs.count, 1, "\(errs)")
    }

    func testUnknownContextIsAConfigError() {
        let errs = diagnosticsOf("route {\n  xlog(\"$(<replies>rs)\\n\");\n}\n", setup: Self.register)
        XCTAssertEqual(errs.count, 1, "\(errs)")
        XCTAssertTrue(errs.first?.hasPrefix("2:") ?? false, "\(errs)")
        XCTAssertTrue(errs.first?.contains("unknown pseudo-variable context <replies> in $(<replies>rs)") ?? false, "\(errs)")
        // No module registered it: the same script without the registration.
        XCTAssertTrue(diagnosticsOf("route { $var(x) = $(<reply>rr); }").first?.contains("context <reply>") ?? false)
    }

    /// ABI 1.10 appended `pv_contexts` after the 1.9 exports table (192 bytes on LP64).
    func testExportsLayoutOf110() {
        XCTAssertGreaterThanOrEqual(SY_ABI_MINOR, 10)
        XCTAssertEqual(MemoryLayout<sy_module_exports>.offset(of: \sy_module_exports.pv_contexts), 192)
        XCTAssertEqual(MemoryLayout<sy_module_exports>.size, 208)
        XCTAssertEqual(MemoryLayout<sy_pv_context_export>.size, 24)
        XCTAssertEqual(ABIReader.requiredExportsSize(minor: 9), 192)
        XCTAssertEqual(ABIReader.requiredExportsSize(minor: 10), 208)
    }

    /// ABI 1.11 appended `fixup` after the 1.10 function export (64 bytes on LP64).
    func testFuncExportLayoutOf111() {
        XCTAssertGreaterThanOrEqual(SY_ABI_MINOR, 11)
        XCTAssertEqual(MemoryLayout<sy_func_export>.offset(of: \sy_func_export.fixup), 64)
        XCTAssertEqual(MemoryLayout<sy_func_export>.size, 72)
    }

    func testRegisteringAContextTwiceIsRefused() throws {
        let engine = ScriptEngine(log: CoreLog(sink: .collector(LogCollector())))
        try Self.register(engine)
        XCTAssertThrowsError(try engine.register(pvContext: PVContext(name: "reply", module: "other", source: .native { _ in nil })))
    }
}
