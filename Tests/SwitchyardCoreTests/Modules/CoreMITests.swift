import Foundation
import XCTest
import SwitchyardMI
@testable import SwitchyardCore
import SwitchyardTestSupport

/// Core MI commands wired to a real server: shapes opensips-cli reads.
final class CoreMITests: XCTestCase {
    func testCoreCommandsOnARunningServer() throws {
        let h = ServerHarness("route { exit; }\nevent_route[E_X] { xlog(\"x\"); }\n")
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        defer { h.stop() }
        let mi = h.server.mi
        func call(_ method: String, _ params: String = "{}") -> JSONValue? {
            mi.dispatcher.response(toText: #"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#)
        }
        let version = call("version")?["result"]?["Server"]?.stringValue ?? ""
        XCTAssertTrue(version.hasPrefix("OpenSIPS (3.6.8 ("), version)
        XCTAssertTrue(version.hasSuffix("Switchyard 0.1.0"), version)
        // opensips-cli's diagnose module matches this regular expression.
        XCTAssertNotNil(version.range(of: #"^OpenSIPS \(\d\.\d\.\d.*"#, options: .regularExpression), version)
        let which = call("which")?["result"]?.arrayValue?.compactMap(\.stringValue) ?? []
        for c in ["which", "ps", "version", "uptime", "log_level", "get_statistics", "list_statistics", "reset_statistics", "kill", "list_modules", "core:ps"] {
            XCTAssertTrue(which.contains(c), "which lacks \(c)")
        }
        let ps = call("ps")?["result"]?["Processes"]?.arrayValue ?? []
        XCTAssertEqual(ps.count, 2 + 2, "attendant, 2 workers, timer")
        XCTAssertEqual(ps.first?["Type"]?.stringValue, "attendant")
        XCTAssertEqual(call("log_level", #"["4"]"#)?["result"]?["New global log level"]?.intValue, 4)
        XCTAssertEqual(h.server.log.level, 4)
        XCTAssertEqual(call("log_level", #"{"level":2,"pid":1}"#)?["error"]?["data"]?.stringValue, "Bad PID")
        let up = call("uptime")?["result"]
        XCTAssertNotNil(up?["Up since"]?.stringValue)
        XCTAssertTrue(up?["Up time"]?.stringValue?.hasSuffix(" [sec]") ?? false)
        _ = h.server.raiseEvent("E_X", [])
        XCTAssertTrue(h.waitFor("x"))
        let stats = call("get_statistics", #"{"statistics":["core:"]}"#)?["result"]
        XCTAssertEqual(stats?["core:events_raised"]?.intValue, 1)
        XCTAssertEqual(stats?["core:events_dropped"]?.intValue, 0)
        XCTAssertEqual(call("list_modules")?["result"]?["Modules"]?.arrayValue?.count, 0)
    }

    func testKillStopsTheServer() throws {
        let h = ServerHarness("event_route[E_X] { xlog(\"x\"); }\n")
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        let reply = h.server.mi.handle(#"{"jsonrpc":"2.0","method":"kill","id":9}"#)
        XCTAssertEqual(reply, #"{"jsonrpc":"2.0","result":"OK","id":9}"#)
        let done = DispatchSemaphore(value: 0)
        let server = h.server
        DispatchQueue.global().async { server.waitForStop(); done.signal() }
        XCTAssertEqual(done.wait(timeout: .now() + 5), .success, "kill must ask the server to stop")
        h.stop()
    }

    func testEventQueueFullDropsAndCounts() throws {
        let h = ServerHarness("event_queue_size = 2\nudp_workers = 1\nmax_while_loops = 1000000\nevent_route[E_SLOW] { $var(i) = 0; while ($var(i) < 200000) { $var(i) = $var(i) + 1; } }\n")
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        try h.start()
        var dropped = 0
        for _ in 0..<50 where h.server.raiseEvent("E_SLOW", []) < 0 { dropped += 1 }
        XCTAssertGreaterThan(dropped, 0)
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), dropped)
        XCTAssertEqual(h.messages.filter { $0.contains("event queue full") }.count, 1, "logged at most once a second")
        h.stop()
    }

    func testWaitingRaiseAppliesBackpressureInsteadOfDropping() throws {
        let h = ServerHarness("event_queue_size = 2\nmax_while_loops = 1000000\nevent_route[E_SLOW] { $var(i) = 0; while ($var(i) < 20000) { $var(i) = $var(i) + 1; } xlog(\"done $param(n)\"); }\n")
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        try h.start()
        for n in 0..<20 {
            XCTAssertEqual(h.server.raiseEventWaiting("E_SLOW", [(name: "n", value: .int(n))], timeoutMS: 0), 0)
        }
        XCTAssertTrue(h.waitFor("done 19", timeout: 20))
        h.stop()
        XCTAssertEqual(h.server.bus?.dropped.load(ordering: .relaxed), 0)
        XCTAssertEqual(h.messages.filter { $0.hasPrefix("done ") }.count, 20, "every event ran, in order of raising")
    }
}
