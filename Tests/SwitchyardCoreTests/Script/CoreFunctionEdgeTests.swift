import XCTest
import SwitchyardTestSupport
@testable import SwitchyardCore

/// Edge cases of the core functions: OpenSIPS's 32 branch flags, IPv6 hosts compared as addresses, an alias that
/// does not parse, set_advertised_* with an empty value.
final class CoreFunctionEdgeTests: XCTestCase {
    func testAtMost32BranchFlags() {
        let calls = (0..<33).map { "    setbflag(\"F\($0)\");\n" }.joined()
        let diagnostics = DiagnosticBag()
        let engine = ScriptEngine(log: CoreLog(level: LogLevels.debug, xlogLevel: LogLevels.debug, sink: .collector(LogCollector())))
        let ast = Parser.parse(text: "route {\n" + calls + "}\n", path: "flags.cfg", diagnostics: diagnostics)
        var r = Resolver(engine: engine, diagnostics: diagnostics, varHandles: engine.varHandles)
        r.resolve(routes: ast.routes)
        let errors = diagnostics.errors.map(\.description)
        XCTAssertEqual(errors.count, 1, errors.joined(separator: "\n"))
        XCTAssertTrue(errors.first?.contains("flags.cfg:34:") == true, errors.joined())
        XCTAssertTrue(errors.first?.contains("too many branch flags (at most 32 names)") == true, errors.joined())
    }

    func testIPv6HostsComparedAsAddresses() {
        XCTAssertEqual(MiscFunctions.normalizedHost("0:0:0:0:0:0:0:1"), MiscFunctions.normalizedHost("[::1]"))
        XCTAssertEqual(MiscFunctions.normalizedHost("[2001:DB8::0:1]"), "2001:db8::1")
        XCTAssertEqual(MiscFunctions.normalizedHost("Example.COM"), "example.com")
    }

    func testBadAliasStopsStartupAtItsLine() {
        let h = ServerHarness("log_level = 3\nalias = udp:1.2.3.4:99999\nroute { exit; }\n")
        let errors = h.prepare(checkOnly: true).map(\.description)
        XCTAssertTrue(errors.contains { $0.contains(":2:") && $0.contains("bad alias \"udp:1.2.3.4:99999\"") },
                      errors.joined(separator: "\n"))
    }

    func testEmptyAdvertisedValuesAreUnset() {
        let h = ScriptHarness("""
        route {
            set_advertised_address("sip.example.com");
            set_advertised_port("5099");
            set_advertised_address("");
            set_advertised_port("");
        }
        """)
        h.run()
        XCTAssertNil(h.ctx.message.via.advertisedAddress)
        XCTAssertNil(h.ctx.message.via.advertisedPort)
        XCTAssertTrue(h.ctx.message.via.isDefault)
    }
}
