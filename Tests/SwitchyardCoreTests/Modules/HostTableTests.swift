import Foundation
import XCTest
import SwitchyardMI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The host table as a plugin uses it: cross-module APIs, variables, timers, events from a
/// plugin thread, statistics, MI registration at run time.
final class HostTableTests: XCTestCase {
    var dir: String { PluginBuilder.outDir.path }

    func testCrossModuleAPIAndHostServices() throws {
        try PluginBuilder.build("api_provider")
        try PluginBuilder.build("api_consumer")
        // loadmodule order is the reverse of the dependency order: init must still bind.
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "api_consumer.so"
        loadmodule "api_provider"
        modparam("api_consumer", "bind_major", 1)  # set explicitly: the .so stays loaded between tests
        route[consumer_hook] { xlog("in the hook for $var(who)"); return(5); }
        event_route[E_CONSUMER_TICK] {
            if ($param(ticks) == 3) {
                $var(who) = "Alice";
                greet($var(out));
                xlog("tick 3: $var(out)");
                $var(code) = consumer_hook();
                xlog("hook returned $var(code)");
            }
        }
        """)
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("hook returned 5"), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains("tick 3: greetings, Alice"))
        XCTAssertTrue(h.messages.contains("in the hook for Alice"), "a module ran a script route (route_find/route_run)")
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("bound greeter v1") })
        let reply = h.server.mi.dispatcher.response(toText: #"{"jsonrpc":"2.0","method":"consumer_ticks","id":1}"#)
        XCTAssertGreaterThanOrEqual(reply?["result"]?["ticks"]?.intValue ?? 0, 3)
        XCTAssertNotNil(h.server.stats.stat(group: "api_consumer", name: "ticks"))
        XCTAssertEqual(h.server.apis.names, ["greeter"])
    }

    func testBindingAWrongMajorFailsInit() throws {
        try PluginBuilder.build("api_provider")
        try PluginBuilder.build("api_consumer")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "api_provider.so"
        loadmodule "api_consumer.so"
        modparam("api_consumer", "bind_major", 2)
        """)
        let errs = h.prepare().map(\.description).joined(separator: "\n")
        XCTAssertTrue(errs.contains("module api_consumer: init failed"), errs)
        XCTAssertTrue(h.messages.contains { $0.contains("cannot bind greeter: API 'greeter' is version 1.") && $0.contains(", major 2 was asked for") }, h.messages.joined(separator: "\n"))
    }

    func testLoadmoduleBothSpellingsFindSwiftPMPlugins() throws {
        let build = BinaryRunner.buildDirectory.path
        for spelling in ["statistics.so", "statistics", "libstatistics.so", "\(build)/libstatistics.so"] {
            let h = ServerHarness("mpath = \"\(build)\"\nloadmodule \"\(spelling)\"\n")
            XCTAssertEqual(h.prepare(checkOnly: true).map(\.description), [], spelling)
            XCTAssertEqual(h.server.modules.modules.first?.name, "statistics", spelling)
        }
    }

    func testCacheFunctionsNeedABackend() {
        let h = ServerHarness("route { cache_store(\"local\", \"k\", \"v\", 10); cache_raw_query(\"local\", \"x\"); }\n")
        let errs = h.prepare(checkOnly: true).map(\.description).joined(separator: "\n")
        XCTAssertTrue(errs.contains(":1:21: error: cache_store(): no cache backend 'local' is loaded (e.g. loadmodule \"cachedb_local.so\")"), errs)
        XCTAssertTrue(errs.contains("cache_raw_query(): no cache backend 'local' is loaded"), errs)
    }
}
