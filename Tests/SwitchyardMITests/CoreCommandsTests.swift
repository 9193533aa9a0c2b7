import Foundation
import Synchronization
import XCTest
@testable import SwitchyardMI

/// Records what the core commands asked the server to do.
private final class FakeServer: Sendable {
    let logLevelCalls = Mutex<[String]>([])
    let killed = Atomic<Bool>(false)
}

final class CoreCommandsTests: XCTestCase {
    private let start = Date(timeIntervalSince1970: 1_700_000_000)
    private let server = FakeServer()
    private var dispatcher: MIDispatcher!

    override func setUpWithError() throws {
        let server = self.server
        let hooks = MICoreHooks(
            serverVersion: "OpenSIPS (3.6.8 (x86_64/linux)) Switchyard 0.1.0",
            revision: "abc123",
            startTime: start,
            now: { [start] in start.addingTimeInterval(125.9) },
            processes: {
                [MIProcessInfo(id: 0, pid: 100, type: "attendant", logLevel: 3),
                 MIProcessInfo(id: 1, pid: 101, type: "UDP receiver", logLevel: 2)]
            },
            setLogLevel: { level, pid in
                server.logLevelCalls.withLock { $0.append("\(level)/\(pid.map(String.init) ?? "all")") }
                return pid == nil || pid == 101
            },
            kill: { server.killed.store(true, ordering: .relaxed) },
            modules: { [MIModuleInfo(name: "mi_fifo", version: "0.1.0", abi: "1.1", path: "/usr/lib/switchyard/mi_fifo.so")] },
            workingDirectory: { "/" },
            argv: ["switchyard", "-f", "modules.conf"]
        )
        let registry = MIRegistry()
        try registry.registerCoreCommands(hooks: hooks, stats: StatsRegistry())
        dispatcher = MIDispatcher(registry: registry)
    }

    /// The `result` of a call, or the whole `error` object.
    private func mi(_ method: String, _ params: String = "{}", file: StaticString = #filePath, line: UInt = #line) -> JSONValue? {
        let request = #"{"jsonrpc":"2.0","id":"4711","method":"\#(method)","params":\#(params)}"#
        guard let text = dispatcher.handle(request), let reply = try? JSONValue(parsing: text) else {
            XCTFail("no reply", file: file, line: line)
            return nil
        }
        XCTAssertEqual(reply["id"], "4711", file: file, line: line)
        return reply["result"] ?? reply["error"]
    }

    func testWhichListsFlatAndQualifiedNames() throws {
        let names = try XCTUnwrap(mi("which")?.arrayValue).map { $0.stringValue }
        XCTAssertFalse(names.contains(nil), "which must return plain strings")
        let expected = ["which", "help", "ps", "log_level", "kill", "version", "uptime", "pwd", "arg", "list_modules",
                        "get_statistics", "list_statistics", "reset_statistics", "reset_all_statistics",
                        "core:which", "core:help", "core:ps", "core:log_level", "core:kill", "core:version",
                        "core:uptime", "core:pwd", "core:arg", "core:list_modules",
                        "statistics:get", "statistics:list", "statistics:reset", "statistics:reset_all"]
        XCTAssertEqual(names, expected)
    }

    func testWhichCommandRecipes() {
        XCTAssertEqual(mi("which", #"{"command":"log_level"}"#), [[], ["level"], ["level", "pid"]])
        XCTAssertEqual(mi("which", #"["core:log_level"]"#), [[], ["level"], ["level", "pid"]])
        XCTAssertEqual(mi("which", #"["get_statistics"]"#), [["statistics"]])
        XCTAssertEqual(mi("which", #"["nope"]"#), ["code": 404, "message": "unknown MI command"])
    }

    func testPs() {
        XCTAssertEqual(mi("ps"), ["Processes": [["ID": 0, "PID": 100, "Type": "attendant"],
                                                ["ID": 1, "PID": 101, "Type": "UDP receiver"]]])
        XCTAssertEqual(mi("core:ps"), mi("ps"))
    }

    func testVersion() {
        XCTAssertEqual(mi("version"), ["Server": "OpenSIPS (3.6.8 (x86_64/linux)) Switchyard 0.1.0"])
        XCTAssertEqual(mi("version", #"["yes"]"#), ["Server": "OpenSIPS (3.6.8 (x86_64/linux)) Switchyard 0.1.0", "git": "abc123"])
        XCTAssertEqual(mi("core:version", #"{"revision":1}"#)?["git"], "abc123")
    }

    func testUptime() {
        XCTAssertEqual(mi("uptime"), ["Now": .string(CTime.format(start.addingTimeInterval(125.9))),
                                      "Up since": .string(CTime.format(start)),
                                      "Up time": "125 [sec]"])
    }

    func testCTimeFormat() {
        XCTAssertEqual(CTime.format(start, utc: true), "Tue Nov 14 22:13:20 2023")
        XCTAssertEqual(CTime.format(Date(timeIntervalSince1970: 1_699_000_000), utc: true), "Fri Nov  3 08:26:40 2023")
        XCTAssertEqual(CTime.format(Date(timeIntervalSince1970: 1_698_900_000.7), utc: true), "Thu Nov  2 04:40:00 2023")
    }

    func testPwdArgListModules() {
        XCTAssertEqual(mi("pwd"), ["WD": "/"])
        XCTAssertEqual(mi("arg"), ["switchyard", "-f", "modules.conf"])
        XCTAssertEqual(mi("list_modules"), ["Modules": [["Name": "mi_fifo", "Version": "0.1.0", "ABI": "1.1",
                                                         "Path": "/usr/lib/switchyard/mi_fifo.so"]]])
    }

    func testLogLevel() {
        XCTAssertEqual(mi("log_level"), ["Processes": [["PID": 100, "Log level": 3, "Type": "attendant"],
                                                       ["PID": 101, "Log level": 2, "Type": "UDP receiver"]]])
        // opensips-cli sends positional values as strings: `mi log_level 4`, `mi log_level 1 101`.
        XCTAssertEqual(mi("log_level", #"["4"]"#), ["New global log level": 4])
        XCTAssertEqual(mi("log_level", #"["1","101"]"#), ["Log level": 1])
        XCTAssertEqual(mi("log_level", #"{"level":-1,"pid":999}"#),
                       ["code": -32602, "message": "Invalid params", "data": "Bad PID"])
        XCTAssertEqual(mi("log_level", #"["x"]"#),
                       ["code": -32602, "message": "Invalid params", "data": "Bad type for parameter 'level'"])
        XCTAssertEqual(server.logLevelCalls.withLock { $0 }, ["4/all", "1/101", "-1/999"])
    }

    func testKill() {
        XCTAssertEqual(mi("kill"), "OK")
        XCTAssertTrue(server.killed.load(ordering: .relaxed))
    }

    func testHelp() {
        XCTAssertEqual(mi("help"), "Usage: help mi_cmd - returns information about 'mi_cmd'")
        XCTAssertEqual(mi("help", #"["ps"]"#), ["Help": "Lists the server's processes", "Exported by": "core"])
        XCTAssertEqual(mi("help", #"{"mi_cmd":"statistics:get"}"#)?["Exported by"], "statistics")
        XCTAssertEqual(mi("help", #"["nope"]"#), ["code": 404, "message": "unknown MI command"])
    }

    func testCoreCommandsRegisterOnlyOnce() {
        XCTAssertThrowsError(try dispatcher.registry.registerCoreCommands(hooks: MICoreHooks(serverVersion: "x"),
                                                                         stats: StatsRegistry()))
    }
}
