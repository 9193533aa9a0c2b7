import Foundation
import XCTest
import SwitchyardABI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// ABI 1.8: each core hands its own host table whose `runtime` is that core; the rt_* entries reach it through the
/// handle (Fixtures/plugins/abi_1_8.c keeps no global); the runtime is built before any plugin code runs, so events
/// raised from module init and from a thread init() started are kept and delivered; a 1.7-built plugin still loads.
final class RuntimeABITests: XCTestCase {
    var dir: String { PluginBuilder.outDir.path }

    func testEachCoreHandsItsOwnRuntimeHandle() {
        let a = Server(configPath: "a.cfg"), b = Server(configPath: "b.cfg")
        XCTAssertNotNil(a.hostTable.pointee.runtime)
        XCTAssertNotEqual(a.hostTable.pointee.runtime, b.hostTable.pointee.runtime)
        XCTAssertNotEqual(a.hostTable, b.hostTable)
        XCTAssertTrue(HostBridge.runtime(a.hostTable.pointee.runtime) === a)
        XCTAssertTrue(HostBridge.runtime(b.hostTable.pointee.runtime) === b)
        XCTAssertNil(HostTable.shared.pointee.runtime, "the table for syntax checks has no core")
        XCTAssertEqual(a.hostTable.pointee.header.abi_minor, UInt32(SY_ABI_MINOR))
        XCTAssertEqual(Int(a.hostTable.pointee.header.struct_size), MemoryLayout<sy_host_api>.stride)
    }

    /// With two cores in one process, sip_local_target uses the sockets of the core its handle names.
    func testLocalTargetUsesTheCoreOfTheHandle() throws {
        let portA = LocalPorts.freeUDPPort(), portB = LocalPorts.freeUDPPort(avoid: [portA])
        func core(_ port: Int) -> ServerHarness {
            ServerHarness(plugins: "socket = udp:127.0.0.1:\(port)\nloadmodule \"proto_udp.so\"\n")
        }
        let a = core(portA), b = core(portB)
        XCTAssertEqual(a.prepare().map(\.description), [])
        XCTAssertEqual(b.prepare().map(\.description), []) // b is now the process-wide core
        try a.start()
        defer { a.stop() }
        try b.start()
        defer { b.stop() }
        func via(_ h: ServerHarness) -> (Int32, String) {
            let t = h.server.hostTable.pointee
            var target = sy_sip_target()
            var buf = [CChar](repeating: 0, count: 128)
            var n = 0
            var uri = Array("sip:127.0.0.1:5999".utf8)
            let rc = uri.withUnsafeMutableBufferPointer { u in
                t.sip_local_target!(t.runtime, sy_str(s: UnsafeRawPointer(u.baseAddress!).assumingMemoryBound(to: CChar.self),
                                                      len: u.count), sy_str(s: nil, len: 0), &target, &buf, buf.count, &n)
            }
            return (rc, String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        XCTAssertEqual(via(a).0, 0)
        XCTAssertEqual(via(a).1, "SIP/2.0/UDP 127.0.0.1:\(portA)")
        XCTAssertEqual(via(b).1, "SIP/2.0/UDP 127.0.0.1:\(portB)")
    }

    /// The handle outlives its core: once stopped, a call through it (a plugin thread that outlived stop()) finds no
    /// core and does nothing.
    func testRuntimeHandleFindsNoCoreAfterStop() throws {
        let h = ServerHarness("")
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        let t = h.server.hostTable.pointee
        XCTAssertTrue(HostBridge.runtime(t.runtime) === h.server)
        XCTAssertEqual(t.rt_log_enabled!(t.runtime, -1), 1)
        h.stop()
        XCTAssertNil(HostBridge.runtime(t.runtime))
        XCTAssertEqual(t.rt_log_enabled!(t.runtime, -1), 0)
        XCTAssertNil(t.rt_timer_add!(t.runtime, "late", 10, { _ in }, nil))
        XCTAssertEqual(t.rt_event_raise!(t.runtime, "E_LATE", nil, 0), -1)
        XCTAssertEqual(t.rt_mi_dispatch!(t.runtime, "{}", 2, { _, _, _ in XCTFail("no reply after stop") }, nil), 0)
        XCTAssertNil(t.rt_route_find_kind!(t.runtime, UInt32(SY_ROUTE_REQUEST.rawValue), "any"))
        XCTAssertNil(t.rt_stat_register!(t.runtime, "late", "counter", 0))
        XCTAssertNil(t.rt_sip_ctx_open_request!(t.runtime, "OPTIONS sip:a SIP/2.0\r\n\r\n", 25, UInt32(SY_ROUTE_LOCAL.rawValue), nil))
        var target = sy_sip_target()
        var buf = [CChar](repeating: 0, count: 64)
        var n = 0
        XCTAssertEqual(t.sip_local_target!(t.runtime, sy_str(s: nil, len: 0), sy_str(s: nil, len: 0), &target, &buf, buf.count, &n), -6)
    }

    func testRuntimeHandleEntriesAndEarlyEventsAreDelivered() throws {
        try runtimeHandlePlugin(output: "abi_1_8", headerDir: nil, version: "1.\(SY_ABI_MINOR)")
    }

    /// Built against the frozen 1.8 header (Fixtures/plugins/abi_1_8): loads and works on later cores.
    func testA18BuiltPluginStillLoads() throws {
        try runtimeHandlePlugin(output: "abi_1_8_built_1_8", headerDir: Repo.fixtures.appendingPathComponent("plugins/abi_1_8").path,
                                version: "1.8")
    }

    private func runtimeHandlePlugin(output: String, headerDir: String?, version: String) throws {
        try PluginBuilder.build("abi_1_8", headerDir: headerDir, output: output)
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "\(output).so"
        event_route[E_EARLY] { xlog("early event via $param(via)"); }
        event_route[E_TICK18] { xlog("tick via the runtime handle"); }
        """)
        XCTAssertEqual(h.prepare().map(\.description), [])
        // Raised during module init, before a single worker runs: kept in the queue, not dropped.
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("init raise rc=0") }, h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("runtime=set") }, h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("rt_sip_request rc=-1") }, "no SIP transport: \(h.messages)")
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("early event via init"), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.waitFor("early event via thread"), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.waitFor("tick via the runtime handle"), h.messages.joined(separator: "\n"))
        XCTAssertEqual(h.server.modules.module(named: "abi18")?.abiVersion, version)
    }

    func testStartupRouteEventIsKept() throws {
        let h = ServerHarness("""
        startup_route { raise_event("E_AT_STARTUP", $avp(none)); }
        event_route[E_AT_STARTUP] { xlog("startup event delivered"); }
        """)
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("startup event delivered"), h.messages.joined(separator: "\n"))
    }

    func testA17BuiltPluginStillLoads() throws {
        let frozen = Repo.fixtures.appendingPathComponent("plugins/abi_1_7").path
        try PluginBuilder.build("abi_1_6", headerDir: frozen, output: "abi_1_6_built_1_7")
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "abi_1_6_built_1_7.so"
        modparam("abi16", "limit", 7)
        event_route[E_COUNT17] { abi16_count(); xlog("counted on 1.7 plugin: $rc"); }
        """)
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertEqual(h.server.modules.module(named: "abi16")?.abiVersion, "1.7")
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("limit=7") }, h.messages.joined(separator: "\n"))
        XCTAssertEqual(h.server.raiseEvent("E_COUNT17", []), 0)
        XCTAssertTrue(h.waitFor("counted on 1.7 plugin"), h.messages.joined(separator: "\n"))
    }

    /// The tm API table (1.1) carries its module: a C consumer (Fixtures/plugins/tm_consumer.c) calls the module_*
    /// entries with api->module; the 1.0 entry keeps working.
    func testTmAPICarriesItsModuleHandle() throws {
        try PluginBuilder.build("tm_consumer")
        let build = BinaryRunner.buildDirectory.path
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "tm_consumer.so"
        loadmodule "\(build)/libtm.so"
        """)
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        defer { h.stop() }
        let log = h.messages.joined(separator: "\n")
        for line in ["module set rc=1", "handle request_in rc=0", "handle bad types rc=-2", "handle state rc=-1",
                     "old request_in rc=0", "handle uac rc=-2"] {
            XCTAssertTrue(h.messages.contains { $0.hasSuffix(line) }, "\(line) in:\n\(log)")
        }
    }
    /// A sy_timer names the core that added it: timer_remove stops the timer in that core, even once another core has
    /// become the process-wide one (which the handle-less entries reach).
    func testTimerRemoveReachesTheCoreThatAddedIt() throws {
        let a = ServerHarness(""), b = ServerHarness("")
        XCTAssertEqual(a.prepare().map(\.description), [])
        XCTAssertEqual(b.prepare().map(\.description), []) // b is now the process-wide core
        let ta = a.server.hostTable.pointee, tb = b.server.hostTable.pointee
        let onA = ta.rt_timer_add!(ta.runtime, "on-a", 60_000, { _ in }, nil)
        let onB = tb.rt_timer_add!(tb.runtime, "on-b", 60_000, { _ in }, nil)
        XCTAssertNotNil(onA)
        XCTAssertTrue(a.server.timers.names.contains("on-a"))
        ta.timer_remove!(onA)
        XCTAssertFalse(a.server.timers.names.contains("on-a"))
        XCTAssertTrue(b.server.timers.names.contains("on-b"), "another core's timer is left alone")
        tb.timer_remove!(onB)
        XCTAssertFalse(b.server.timers.names.contains("on-b"))
    }

    /// A sy_timer removed twice (a 1.8 plugin removing in both stop and destroy), removed after its server stopped, or
    /// never handed out does nothing: the handle is a key into the live handles, not memory the first remove freed.
    func testTimerRemoveTwiceOrAfterStopDoesNothing() throws {
        let a = ServerHarness("")
        XCTAssertEqual(a.prepare().map(\.description), [])
        let ta = a.server.hostTable.pointee
        let before = TimerHandle.liveCount
        let once = ta.rt_timer_add!(ta.runtime, "twice", 60_000, { _ in }, nil)
        let kept = ta.rt_timer_add!(ta.runtime, "kept", 60_000, { _ in }, nil)
        let late = ta.rt_timer_add!(ta.runtime, "late", 60_000, { _ in }, nil)
        XCTAssertEqual(TimerHandle.liveCount, before + 3)
        ta.timer_remove!(once)
        ta.timer_remove!(once)
        XCTAssertFalse(a.server.timers.names.contains("twice"))
        XCTAssertTrue(a.server.timers.names.contains("kept"), "a second remove reached another timer")
        XCTAssertEqual(TimerHandle.liveCount, before + 2)
        ta.timer_remove!(OpaquePointer(bitPattern: 2)) // never handed out (keys are odd)
        XCTAssertTrue(a.server.timers.names.contains("kept"))
        a.stop()
        ta.timer_remove!(late)
        ta.timer_remove!(late)
        ta.timer_remove!(kept)
        XCTAssertEqual(TimerHandle.liveCount, before)
    }

    /// The 1.9 entries and the module handles of the cachedb 1.2 and DB 1.1 tables, from a C plugin that keeps no
    /// global (Fixtures/plugins/abi_1_9.c): cache_local and db_sqlite of this build serve it through their handles.
    func testHandleEntriesOfABI19AndModuleHandlesOfCachedbAndDB() throws {
        try handleEntriesPlugin(output: "abi_1_9", headerDir: nil)
    }

    /// Built against the frozen 1.9 header (Fixtures/plugins/abi_1_9): loads and works on a 1.10 core.
    func testA19BuiltPluginStillLoads() throws {
        try handleEntriesPlugin(output: "abi_1_9_built_1_9", headerDir: Repo.fixtures.appendingPathComponent("plugins/abi_1_9").path)
    }

    private func handleEntriesPlugin(output: String, headerDir: String?) throws {
        try PluginBuilder.build("abi_1_9", headerDir: headerDir, output: output)
        let build = BinaryRunner.buildDirectory.path
        let db = FileManager.default.temporaryDirectory.appendingPathComponent("abi19-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: db) }
        let h = ServerHarness("""
        mpath = "\(dir)"
        loadmodule "\(build)/libcache_local.so"
        loadmodule "\(build)/libdb_sqlite.so"
        loadmodule "\(output).so"
        modparam("abi19", "db_url", "sqlite://\(db)")
        failure_route[abi19_fail] { exit; }
        route[abi19_req] { xlog("abi19 request route ran"); return(7); }
        event_route[E_ABI19] { abi19_run(); xlog("abi19_run returned $rc"); abi19_stop(); }
        """)
        XCTAssertEqual(h.prepare().map(\.description), [])
        let log = { h.messages.joined(separator: "\n") }
        for line in ["cachedb fetch=from-module-open", "db rows=1", "stat=set", "failure route=found"] {
            XCTAssertTrue(h.messages.contains { $0.hasSuffix(line) }, "\(line) in:\n\(log())")
        }
        XCTAssertTrue(h.server.timers.names.contains("abi19-tick"))
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(h.waitFor("mi reply"), log())
        XCTAssertTrue(h.messages.contains { $0.contains("mi reply") && $0.contains("abi19:handled") }, log())
        XCTAssertEqual(h.server.raiseEvent("E_ABI19", []), 0)
        XCTAssertTrue(h.waitFor("timer removed"), log())
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("abi19 request route ran") }, log())
        XCTAssertTrue(h.messages.contains { $0.hasSuffix("abi19_run returned 7") }, log())
        XCTAssertFalse(h.server.timers.names.contains("abi19-tick"))
        XCTAssertEqual(h.server.stats.counter(group: "abi19", name: "handled")?.value, 1)
    }
}
