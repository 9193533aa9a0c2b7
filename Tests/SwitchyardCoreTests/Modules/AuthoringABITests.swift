import Foundation
import XCTest
import SwitchyardABI
import SwitchyardMI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// What ABI 1.6 gives plugin authors (Fixtures/plugins/abi_1_6.c): a one-line entry (the core checks the
/// major), NULL variables skipped or passed with SY_P_NULLABLE, int variables as decimal strings, NUL-terminated
/// argument strings, omitted exports fields, atomic_add from many workers, the MI reply builder, quoted integers
/// for INT modparams.
final class AuthoringABITests: XCTestCase {
    var dir: String { PluginBuilder.outDir.path }

    private func started(_ body: String, file: StaticString = #filePath, line: UInt = #line) throws -> ServerHarness {
        try PluginBuilder.build("abi_1_6")
        let h = ServerHarness("mpath = \"\(dir)\"\nloadmodule \"abi_1_6.so\"\n" + body)
        XCTAssertEqual(h.prepare(workers: 4).map(\.description), [], file: file, line: line)
        try h.start()
        addTeardownBlock { h.stop() }
        return h
    }

    private func mi(_ h: ServerHarness, _ method: String, _ params: String = "{}") -> String? {
        h.server.mi.handle(#"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#)
    }

    func testQuotedIntegerModparamAndOneLineEntry() throws {
        let h = try started(#"modparam("abi16", "limit", " 44 ")"#)
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("limit=44") }, h.messages.joined(separator: "\n"))
        XCTAssertEqual(h.server.modules.module(named: "abi16")?.abiVersion, "1.\(SY_ABI_MINOR)")
    }

    func testNullVariablesAndStringForms() throws {
        let h = try started("""
        modparam("abi16", "limit", 1)
        event_route[E_ARGS] {
            $var(n) = -12;
            abi16_show($var(n), $var(o)); xlog("int as str: $var(o)");
            abi16_show($var(unset), $var(o)); xlog("nullable: $var(o)");
            abi16_show("lit", $var(o)); xlog("literal: $var(o)");
            $var(o) = "untouched";
            abi16_strict($var(unset), $var(o)); xlog("strict: rc=$rc out=$var(o)");
            abi16_strict("x", $var(o)); xlog("strict set: rc=$rc out=$var(o)");
            abi16_count(); xlog("count rc>0: $rc");
        }
        """)
        XCTAssertEqual(h.server.raiseEvent("E_ARGS", []), 0)
        XCTAssertTrue(h.waitFor("count rc>0"), h.messages.joined(separator: "\n"))
        let log = h.messages.joined(separator: "\n")
        XCTAssertTrue(h.messages.contains("int as str: str:-12|nul=1"), log)
        XCTAssertTrue(h.messages.contains("nullable: null"), log)
        XCTAssertTrue(h.messages.contains("literal: str:lit|nul=1"), log)
        XCTAssertTrue(h.messages.contains("strict: rc=-1 out=untouched"), "a NULL variable skips the handler: \(log)")
        XCTAssertEqual(h.messages.filter { $0.contains("abi16_strict(): $var(unset) is NULL") }.count, 1, log)
        XCTAssertTrue(h.messages.contains("strict set: rc=1 out=called"), log)
    }

    func testAtomicAddFromManyWorkers() throws {
        let h = try started("""
        modparam("abi16", "limit", 1)
        event_route[E_COUNT] { abi16_count(); if ($param(last) == 1) xlog("last counted"); }
        """)
        let before = mi(h, "abi16_count").flatMap { Self.result($0)?.intValue } ?? -1
        XCTAssertGreaterThanOrEqual(before, 0)
        let n = 2_000
        for i in 1...n {
            // A full queue refuses the event: raise it again once a worker has taken one.
            XCTAssertTrue(waitUntil(timeout: 10, poll: 0.001) { h.server.raiseEvent("E_COUNT", [(name: "last", value: .int(i == n ? 1 : 0))]) >= 0 })
        }
        XCTAssertTrue(h.waitFor("last counted", timeout: 20))
        // The last event may finish before earlier ones on other workers: wait for the count to settle.
        var after = -1 as Int64
        waitUntil(timeout: 10, poll: 0.005) {
            after = mi(h, "abi16_count").flatMap { Self.result($0)?.intValue } ?? -1
            return after == before + Int64(n)
        }
        XCTAssertEqual(after, before + Int64(n), "four workers added 1 each time, none lost")
        XCTAssertEqual(mi(h, "abi16_count", #"{"reset":1}"#).flatMap { Self.result($0)?.intValue }, after, "atomic_swap returns the old value")
        XCTAssertEqual(mi(h, "abi16_count").flatMap { Self.result($0)?.intValue }, 0)
    }

    func testMIReplyBuilder() throws {
        let h = try started(#"modparam("abi16", "limit", 1)"#)
        let tree = mi(h, "abi16_build")
        let v = tree.flatMap { Self.result($0) }
        XCTAssertEqual(v?["s"]?.stringValue, "q\"b\\s\n\u{0}z", tree ?? "")
        XCTAssertEqual(v?["c"]?.stringValue, "C string")
        XCTAssertEqual(v?["i"]?.intValue, -5)
        XCTAssertEqual(v?["t"]?.boolValue, true)
        XCTAssertEqual(v?["f"]?.boolValue, false)
        XCTAssertEqual(v?["n"]?.isNull, true)
        XCTAssertEqual(v?["z"]?.isNull, true)
        XCTAssertEqual(v?["arr"], [1, ["k": 2], []] as JSONValue)
        XCTAssertEqual(v?.objectValue?.keys, ["s", "c", "i", "t", "f", "n", "z", "arr"])
        XCTAssertTrue(tree?.contains(#""s":"q\"b\\s\n\u0000z""#) ?? false, tree ?? "")

        XCTAssertEqual(mi(h, "abi16_build", #"{"mode":"misuse"}"#), #"{"jsonrpc":"2.0","result":{"a":[]},"id":1}"#)
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("misuse -1 -1 0 -1 0 -1 0 -1") }, h.messages.joined(separator: "\n"))
        XCTAssertEqual(mi(h, "abi16_build", #"{"mode":"error"}"#),
                       #"{"jsonrpc":"2.0","error":{"code":400,"message":"Bad thing","data":"after building"},"id":1}"#)
        XCTAssertEqual(mi(h, "abi16_build", #"{"mode":"json"}"#).flatMap { Self.result($0)?["i"]?.intValue }, -5,
                       "mi_reply_json after the builder started is ignored")
    }

    static func result(_ text: String) -> JSONValue? {
        (try? JSONParser().parse(text))?["result"]
    }
}
