import Dispatch
import XCTest
@testable import SwitchyardMI

final class StatisticsTests: XCTestCase {
    private var stats: StatsRegistry!
    private var dispatcher: MIDispatcher!
    private var rcvRequests: Stat!
    private var waitingUDP: Stat!

    override func setUpWithError() throws {
        stats = StatsRegistry()
        rcvRequests = try stats.register(group: "core", name: "rcv_requests")
        _ = try stats.register(group: "core", name: "rcv_replies")
        _ = try stats.register(group: "core", name: "secret", flags: .hidden)
        waitingUDP = try stats.register(group: "net", name: "waiting_udp", flags: .noReset)
        _ = try stats.register(group: "shmem", name: "used_size", flags: .noReset) { 2_048_000 }
        _ = try stats.register(group: "load", name: "load") { 7 }
        _ = try stats.register(group: "tm", name: "RCV_requests")   // same bare name, later group
        rcvRequests.update(12)
        waitingUDP.set(3)
        let registry = MIRegistry()
        try registry.registerStatisticsCommands(stats)
        dispatcher = MIDispatcher(registry: registry)
    }

    private func mi(_ method: String, _ params: String = "{}") -> JSONValue? {
        guard let text = dispatcher.handle(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)","params":\#(params)}"#),
              let reply = try? JSONValue(parsing: text) else { return nil }
        return reply["result"] ?? reply["error"]
    }

    private let notFound: JSONValue = ["code": 404, "message": "Statistics Not Found"]

    func testGetAll() {
        XCTAssertEqual(mi("get_statistics", #"[["all"]]"#), [
            "core:rcv_requests": 12, "core:rcv_replies": 0, "net:waiting_udp": 3, "shmem:used_size": 2_048_000,
            "load:load": 7, "tm:RCV_requests": 0,
        ])
    }

    func testGetGroupAndBareNames() {
        XCTAssertEqual(mi("get_statistics", #"{"statistics":["core:"]}"#), ["core:rcv_requests": 12, "core:rcv_replies": 0])
        // Registration order, not selector order; duplicates collapse.
        XCTAssertEqual(mi("get_statistics", #"[["load","NET:","waiting_udp"]]"#), ["net:waiting_udp": 3, "load:load": 7])
        // Case-insensitive, first match in any group.
        XCTAssertEqual(mi("get_statistics", #"[["RCV_REQUESTS"]]"#), ["core:rcv_requests": 12])
        // Hidden stats are left out of `all`/`group:` but readable by name.
        XCTAssertEqual(mi("get_statistics", #"[["secret"]]"#), ["core:secret": 0])
        // Our extension: exact `group:name`.
        XCTAssertEqual(mi("get_statistics", #"[["tm:rcv_requests","nothing"]]"#), ["tm:RCV_requests": 0])
    }

    func testGetErrors() {
        XCTAssertEqual(mi("get_statistics", #"[["nothing","nogroup:"]]"#), notFound)
        XCTAssertEqual(mi("get_statistics", #"["all"]"#),
                       ["code": -32602, "message": "Invalid params", "data": "Bad type for parameter 'statistics'"])
        XCTAssertEqual(mi("get_statistics", #"[[]]"#),
                       ["code": -32602, "message": "Invalid params", "data": "Empty array in parameter 'statistics'"])
        XCTAssertEqual(mi("statistics:get", #"[["load"]]"#), ["load:load": 7])
    }

    func testList() {
        XCTAssertEqual(mi("list_statistics"), [
            "core:rcv_requests": "incremental", "core:rcv_replies": "incremental", "net:waiting_udp": "non-incremental",
            "shmem:used_size": "non-incremental", "load:load": "non-incremental", "tm:RCV_requests": "incremental",
        ])
        XCTAssertEqual(mi("list_statistics", #"[["shmem:","rcv_replies"]]"#),
                       ["core:rcv_replies": "incremental", "shmem:used_size": "non-incremental"])
        XCTAssertEqual(mi("list_statistics", #"[["all"]]"#), notFound)
    }

    func testResetAndResetAll() {
        _ = stats.stat(named: "rcv_replies")?.update(5)
        XCTAssertEqual(mi("reset_statistics", #"[["rcv_requests","waiting_udp","load"]]"#), "OK")
        XCTAssertEqual(rcvRequests.value, 0)
        XCTAssertEqual(waitingUDP.value, 3, "noReset stats are not reset")
        XCTAssertEqual(stats.stat(named: "rcv_replies")?.value, 5)
        XCTAssertEqual(mi("reset_statistics", #"[["core:"]]"#), notFound, "only single names")
        XCTAssertEqual(mi("reset_all_statistics"), "OK")
        XCTAssertEqual(stats.stat(group: "CORE", name: "rcv_replies")?.value, 0)
        XCTAssertEqual(waitingUDP.value, 3)
        XCTAssertEqual(stats.stat(group: "load", name: "load")?.value, 7)
    }

    func testRegistrationRules() throws {
        XCTAssertThrowsError(try stats.register(group: "core", name: "RCV_REQUESTS")) { error in
            XCTAssertEqual(error as? StatsError, .duplicate("core:RCV_REQUESTS"))
        }
        XCTAssertThrowsError(try stats.register(group: "a:b", name: "x"))
        XCTAssertThrowsError(try stats.register(group: "a", name: ""))
        let fn = try stats.register(group: "x", name: "f") { 1 }
        XCTAssertTrue(fn.flags.contains(.isFunction))
        fn.update(10)
        fn.reset()
        XCTAssertEqual(fn.value, 1)
        XCTAssertEqual(stats.groups, ["core", "net", "shmem", "load", "tm", "x"])
    }

    func testGetOrCreateCounter() throws {
        let created = try XCTUnwrap(stats.counter(group: "dyn", name: "hits"))
        created.increment()
        XCTAssertTrue(stats.counter(group: "DYN", name: "HITS") === created)
        XCTAssertTrue(stats.counter(group: "core", name: "rcv_requests") === rcvRequests)
        XCTAssertNil(stats.counter(group: "load", name: "load"), "a function stat is not a counter")
        XCTAssertNil(stats.counter(group: "bad:", name: "x"))
        XCTAssertEqual(mi("get_statistics", #"[["dyn:"]]"#), ["dyn:hits": 1])
    }

    func testConcurrentUpdates() throws {
        let counter = try stats.register(group: "t", name: "c")
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 { counter.increment() }
            counter.update(-1)
        }
        XCTAssertEqual(counter.value, 79_992)
    }
}
