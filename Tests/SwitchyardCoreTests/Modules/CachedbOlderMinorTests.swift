import Foundation
import XCTest
import SwitchyardABI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// A cache backend built against the frozen cachedb 1.2 header (Fixtures/plugins/cachedb_1_2.c with -I abi_1_9):
/// the 1.3 core binds it, its store/fetch work, and cache_raw_query takes the 1.2 raw_query path (strings, a nil
/// element as a NULL AVP) without reading raw_query_typed past the table's 96 bytes (they hold 0xFF there).
final class CachedbOlderMinorTests: XCTestCase {
    func testA12BackendWorksWithThe13Core() throws {
        try PluginBuilder.build("cachedb_1_2", headerDir: Repo.fixtures.appendingPathComponent("plugins/abi_1_9").path)
        let h = ServerHarness("""
        mpath = "\(PluginBuilder.outDir.path)"
        loadmodule "cachedb_1_2.so"
        event_route[E_CDB] {
            cache_store("legacy12", "k", "v1");
            $var(s) = $rc;
            cache_fetch("legacy12", "k", $var(v));
            xlog("L_NOTICE", "C store $var(s) fetch $rc $var(v)\\n");
            $avp(r) = "earlier";
            cache_raw_query("legacy12", "PING x", "$avp(r)");
            xlog("L_NOTICE", "C raw $rc [$(avp(r)[0])] [$(avp(r)[1])] [$(avp(r)[2])] [$(avp(r)[3])] [$(avp(r)[4])]\\n");
            xlog("L_NOTICE", "C done\\n");
        }
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        let log = { h.messages.joined(separator: "\n") }
        XCTAssertEqual(h.server.modules.module(named: "cdb12")?.abiVersion, "1.9")
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("table size=96") }, log())
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.raiseEvent("E_CDB", []), 0)
        XCTAssertTrue(h.waitFor("C done"), log())
        let lines = h.messages.compactMap { l in l.range(of: "C ").map { String(l[$0.lowerBound...]) } }
            .filter { $0.hasPrefix("C store") || $0.hasPrefix("C raw") }
        XCTAssertEqual(lines, ["C store 1 fetch 1 v1", "C raw 1 [PING x] [5] [] [<null>] [earlier]"], log())
    }
}
