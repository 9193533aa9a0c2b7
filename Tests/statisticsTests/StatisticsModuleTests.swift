import Foundation
import XCTest
import SwitchyardMI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The `statistics` plugin (Plugins/statistics, libstatistics.so of this build) driven from a script: declared
/// variables, update_stat/reset_stat, $stat reads and resets, groups, iterators, concurrent updates; values checked
/// through $stat (xlog) and through the server's statistics registry and MI.
final class StatisticsModuleTests: XCTestCase {
    private func harness(_ body: String, modparams: [String] = []) -> ServerHarness {
        ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "statistics.so"
        \(modparams.map { "modparam(\"statistics\", \($0))" }.joined(separator: "\n"))
        \(body)
        """)
    }

    private func start(_ h: ServerHarness, workers: Int = 2, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(h.prepare(workers: workers).map(\.description), [], file: file, line: line)
        try h.start()
    }

    private func mi(_ h: ServerHarness, _ method: String, _ params: String = "{}") -> JSONValue? {
        h.server.mi.dispatcher.response(toText: #"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#)
    }

    private func log(_ h: ServerHarness) -> String { h.messages.joined(separator: "\n") }

    // MARK: -

    func testDeclaredStatisticsStartAtZeroUpdateAndReset() throws {
        let h = harness("""
        startup_route {
            xlog("start calls=$stat(calls) active=$stat(active) failed=$stat(calls:failed) qualified=$stat(script:calls)");
            update_stat("calls", 5);
            update_stat("calls", -2);
            $var(n) = 10;
            update_stat("active", $var(n));
            update_stat("calls:failed", 1);
            xlog("after calls=$stat(calls) active=$stat(active) failed=$stat(calls:failed)");
            if (update_stat("calls", 0)) xlog("zero ok calls=$stat(calls)");
            reset_stat("calls");
            reset_stat("active");
            xlog("reset calls=$stat(calls) active=$stat(active)");
            update_stat("CALLS", 7);
            $stat(calls:failed) = 0;
            $stat(active) = 0;
            xlog("assigned calls=$stat(calls) failed=$stat(calls:failed) active=$stat(active)");
        }
        """, modparams: [#""variable", "calls""#, #""variable", "active/no_reset""#, #""variable", "calls:failed""#])
        try start(h)
        defer { h.stop() }
        let out = log(h)
        XCTAssertTrue(h.messages.contains("start calls=0 active=0 failed=0 qualified=0"), out)
        XCTAssertTrue(h.messages.contains("after calls=3 active=10 failed=1"), out)
        XCTAssertTrue(h.messages.contains("zero ok calls=3"), out)
        XCTAssertTrue(h.messages.contains("reset calls=0 active=10"), "no_reset survives reset_stat\n" + out)
        XCTAssertTrue(h.messages.contains("assigned calls=7 failed=0 active=10"), out)

        // The core registry holds them, grouped: declared without group → "script".
        XCTAssertEqual(h.server.stats.stat(group: "script", name: "calls")?.value, 7)
        XCTAssertEqual(h.server.stats.stat(group: "script", name: "active")?.value, 10)
        XCTAssertEqual(h.server.stats.stat(group: "calls", name: "failed")?.value, 0)

        // And MI sees them as group:name; no_reset is non-incremental and survives reset_statistics.
        let got = mi(h, "get_statistics", #"{"statistics":["script:","calls:failed"]}"#)?["result"]
        XCTAssertEqual(got?["script:calls"]?.intValue, 7)
        XCTAssertEqual(got?["script:active"]?.intValue, 10)
        XCTAssertEqual(got?["calls:failed"]?.intValue, 0)
        let listed = mi(h, "list_statistics", #"{"statistics":["script:"]}"#)?["result"]
        XCTAssertEqual(listed?["script:calls"]?.stringValue, "incremental")
        XCTAssertEqual(listed?["script:active"]?.stringValue, "non-incremental")
        XCTAssertNotNil(mi(h, "reset_statistics", #"{"statistics":["script:calls","script:active"]}"#)?["result"])
        XCTAssertEqual(h.server.stats.stat(group: "script", name: "calls")?.value, 0)
        XCTAssertEqual(h.server.stats.stat(group: "script", name: "active")?.value, 10)
    }

    func testUnknownStatisticsAreCreatedByUpdateAndResetButNotByReads() throws {
        let h = harness("""
        startup_route {
            xlog("unknown=$stat(nosuch)");
            if (update_stat("newone", 3)) xlog("created newone=$stat(newone) qualified=$stat(dynamic:newone)");
            if (reset_stat("fresh")) xlog("reset created fresh=$stat(fresh)");
            $stat(assigned) = 5;
            xlog("assigned=$stat(assigned)");
            if (update_stat("nogroup:x", 1)) xlog("nogroup accepted"); else xlog("nogroup refused");
            if (reset_stat("nogroup:x")) xlog("nogroup reset accepted"); else xlog("nogroup reset refused");
            if (update_stat("a:b:c", 1)) xlog("bad name accepted"); else xlog("bad name refused");
            $var(g) = "nogroup";
            xlog("computed=$stat($var(g):x)");
            xlog("done");
        }
        """)
        try start(h)
        defer { h.stop() }
        let out = log(h)
        XCTAssertTrue(h.messages.contains("unknown=<null>"), out)
        XCTAssertTrue(h.messages.contains("created newone=3 qualified=3"), out)
        XCTAssertTrue(h.messages.contains("reset created fresh=0"), out)
        XCTAssertTrue(h.messages.contains("assigned=0"), out)
        XCTAssertTrue(h.messages.contains { $0.contains("non-zero value - setting value to 0") }, out)
        XCTAssertTrue(h.messages.contains("nogroup refused"), out)
        XCTAssertTrue(h.messages.contains("nogroup reset refused"), out)
        XCTAssertTrue(h.messages.contains("bad name refused"), out)
        XCTAssertTrue(h.messages.contains("computed=<null>"), out)
        XCTAssertTrue(h.messages.contains { $0.contains("stat group 'nogroup' must be explicitly defined") }, out)

        // Created in "dynamic"; the read of $stat(nosuch) created nothing.
        XCTAssertEqual(h.server.stats.stat(group: "dynamic", name: "newone")?.value, 3)
        XCTAssertEqual(h.server.stats.stat(group: "dynamic", name: "fresh")?.value, 0)
        XCTAssertNil(h.server.stats.stat(named: "nosuch"))
        XCTAssertNil(h.server.stats.stat(group: "nogroup", name: "x"))
        let got = mi(h, "get_statistics", #"{"statistics":["dynamic:"]}"#)?["result"]
        XCTAssertEqual(got?["dynamic:newone"]?.intValue, 3)
        XCTAssertEqual(got?["dynamic:assigned"]?.intValue, 0)
    }

    func testGroupsWithVariablesInNamesAndIterators() throws {
        let h = harness("""
        event_route[E_REQ] {
            update_stat("method:$param(m)", 1);
            xlog("seen $param(m)=$stat(method:$param(m))");
        }
        event_route[E_DUMP] {
            stat_iter_init("method", "it");
            while (stat_iter_next($var(n), $var(v), "it")) xlog("iter $var(n)=$var(v)");
            if (stat_iter_init("nogroup", "it")) xlog("iter nogroup accepted"); else xlog("iter nogroup refused");
            stat_iter_init("method", "it");
            while (stat_iter_next($var(n), $var(v), "it")) reset_stat("method:$var(n)");
            xlog("dumped INVITE=$stat(method:INVITE) BYE=$stat(method:bye)");
        }
        """, modparams: [#""stat_groups", " method , packet,""#])
        try start(h, workers: 1)
        defer { h.stop() }
        for m in ["INVITE", "INVITE", "BYE", "INVITE"] {
            XCTAssertEqual(h.server.raiseEvent("E_REQ", [(name: "m", value: .str(m))]), 0)
        }
        XCTAssertTrue(h.waitFor("seen INVITE=3"), log(h))
        XCTAssertEqual(h.server.stats.stat(group: "method", name: "INVITE")?.value, 3)
        XCTAssertEqual(h.server.stats.stat(group: "method", name: "BYE")?.value, 1)
        let got = mi(h, "get_statistics", #"{"statistics":["method:"]}"#)?["result"]
        XCTAssertEqual(got?["method:INVITE"]?.intValue, 3)
        XCTAssertEqual(got?["method:BYE"]?.intValue, 1)

        XCTAssertEqual(h.server.raiseEvent("E_DUMP", []), 0)
        XCTAssertTrue(h.waitFor("dumped"), log(h))
        let iterated = h.messages.filter { $0.hasPrefix("iter ") }
        XCTAssertEqual(iterated, ["iter INVITE=3", "iter BYE=1", "iter nogroup refused"], log(h))
        XCTAssertTrue(h.messages.contains("dumped INVITE=0 BYE=0"), log(h))
    }

    func testConcurrentUpdatesFromAllWorkersSumExactly() throws {
        let workers = 4, events = 16, loops = 5000
        let h = harness("""
        event_route[E_HIT] {
            $var(i) = 0;
            while ($var(i) < \(loops)) {
                update_stat("hits", 1);
                update_stat("grp:$param(w)", 2);
                update_stat("gauge", -1);
                $var(i) = $var(i) + 1;
            }
            xlog("batch done");
        }
        event_route[E_READ] {
            xlog("total hits=$stat(hits) gauge=$stat(gauge) w0=$stat(grp:w0) w1=$stat(grp:w1)");
        }
        """, modparams: [#""variable", "hits""#, #""stat_groups", "grp""#])
        try start(h, workers: workers)
        defer { h.stop() }
        for e in 0..<events {
            XCTAssertEqual(h.server.raiseEvent("E_HIT", [(name: "w", value: .str("w\(e % 2)"))]), 0)
        }
        waitUntil(timeout: 60) { h.messages.filter { $0 == "batch done" }.count >= events }
        XCTAssertEqual(h.messages.filter { $0 == "batch done" }.count, events, log(h))

        let total = Int64(events * loops)
        XCTAssertEqual(h.server.stats.stat(group: "script", name: "hits")?.value, total)
        XCTAssertEqual(h.server.stats.stat(group: "dynamic", name: "gauge")?.value, -total)
        XCTAssertEqual(h.server.stats.stat(group: "grp", name: "w0")?.value, total)
        XCTAssertEqual(h.server.stats.stat(group: "grp", name: "w1")?.value, total)
        XCTAssertEqual(h.server.raiseEvent("E_READ", []), 0)
        XCTAssertTrue(h.waitFor("total hits=\(total) gauge=\(-total) w0=\(total) w1=\(total)"), log(h))
        let got = mi(h, "get_statistics", #"{"statistics":["hits","grp:"]}"#)?["result"]
        XCTAssertEqual(got?["script:hits"]?.intValue, total)
        XCTAssertEqual(got?["grp:w0"]?.intValue, total)
    }

    func testStartupErrors() throws {
        func errors(_ modparams: [String], _ body: String = "") -> String {
            harness(body, modparams: modparams).prepare(checkOnly: true).map(\.description).joined(separator: "\n")
        }
        XCTAssertTrue(errors([#""variable", "x/sticky""#]).contains("unsupported flag 'sticky'"))
        XCTAssertTrue(errors([#""variable", """#]).contains("empty statistic name"))
        XCTAssertTrue(errors([#""variable", "a:b:c""#]).contains("invalid statistic name 'a:b:c'"))
        XCTAssertTrue(errors([#""variable", "x""#, #""variable", "X/no_reset""#]).contains("is declared twice"))
        XCTAssertTrue(errors([#""stat_groups", "a, b:c""#]).contains("group name 'b:c' contains ':'"))
        let pv = errors([], "startup_route { xlog(\"$stat(nogroup:x)\"); }")
        XCTAssertTrue(pv.contains("stat group 'nogroup' must be explicitly defined"), pv)
        XCTAssertEqual(errors([#""stat_groups", "g""#], "startup_route { xlog(\"$stat(g:x) $stat(y)\"); }"), "")
    }
}
