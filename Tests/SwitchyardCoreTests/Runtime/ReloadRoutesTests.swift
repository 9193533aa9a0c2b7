import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// `reload_routes`: errors keep the running routes and are listed with file:line:col; module changes are refused;
/// a good script is swapped in under a flood of ESL events (esl-simulator) and SIP calls (sipp) without losing an
/// event or failing a call, and the new routes are seen at work afterwards.
final class ReloadRoutesTests: XCTestCase {
    private func mi(_ h: ServerHarness, _ method: String, _ params: String = "{}") -> String {
        h.server.mi.dispatcher.response(toText: #"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#)?.description ?? "(no reply)"
    }

    private func stat(_ h: ServerHarness, _ name: String) -> Int {
        h.server.stats.select([name]).first.map { Int($0.value) } ?? -1
    }

    private func write(_ h: ServerHarness, _ text: String) throws {
        try text.write(toFile: h.path, atomically: true, encoding: .utf8)
    }

    private func waitUntil(_ timeout: TimeInterval, _ cond: () -> Bool) -> Bool {
        SwitchyardTestSupport.waitUntil(timeout: timeout, cond)
    }

    private static func script(_ version: String, extraModule: String = "", param: String = "v") -> String {
        """
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "statistics.so"
        \(extraModule)
        modparam("statistics", "variable", "\(param)1")
        modparam("statistics", "variable", "v2")
        event_route[E_RELOAD_TEST] {
            update_stat("\(version)", 1);
        }
        """
    }

    func testErrorsAndModuleChangesKeepTheRunningRoutes() throws {
        let h = ServerHarness(Self.script("v1"))
        XCTAssertEqual(h.prepare().map(\.description), [])
        try h.start()
        defer { h.stop() }
        func raise() { _ = h.server.raiseEvent("E_RELOAD_TEST", []) }
        raise()
        XCTAssertTrue(waitUntil(5) { stat(h, "v1") == 1 })

        // Unknown function and a syntax error: refused, with every error and its place.
        try write(h, Self.script("v2").replacingOccurrences(of: "update_stat(\"v2\", 1);", with: "no_such_fn(1);\n    $var(x = 1;"))
        let bad = mi(h, "reload_routes")
        XCTAssertTrue(bad.contains("\"code\":500") && bad.contains("Failed to reload routes"), bad)
        XCTAssertTrue(bad.contains("\(h.path):"), bad)
        raise()
        XCTAssertTrue(waitUntil(5) { stat(h, "v1") == 2 }, "the old route still runs")
        XCTAssertEqual(stat(h, "v2"), 0)

        // A resolve error alone (the file parses): refused with its line and column.
        try write(h, Self.script("v2").replacingOccurrences(of: "update_stat(\"v2\", 1);", with: "no_such_fn(1);"))
        let unknown = mi(h, "reload_routes")
        XCTAssertTrue(unknown.contains("\(h.path):7:5"), unknown)
        XCTAssertTrue(unknown.contains("no_such_fn"), unknown)

        // A changed modparam and an added module: refused, with the reason.
        try write(h, Self.script("v2", param: "w"))
        let param = mi(h, "reload_routes")
        XCTAssertTrue(param.contains(#"modparam(\"statistics\", \"variable\", \"w1\")"#) && param.contains("needs a restart"), param)
        try write(h, Self.script("v2", extraModule: #"loadmodule "json.so""#))
        let module = mi(h, "reload_routes")
        XCTAssertTrue(module.contains("loadmodule \\\"json.so\\\"") && module.contains("needs a restart"), module)
        raise()
        XCTAssertTrue(waitUntil(5) { stat(h, "v1") == 3 })

        // A good script: OK, and the next event runs the new route.
        try write(h, Self.script("v2"))
        XCTAssertTrue(mi(h, "reload_routes").contains(#""result":"OK""#))
        raise()
        XCTAssertTrue(waitUntil(5) { stat(h, "v2") == 1 })
        XCTAssertEqual(stat(h, "v1"), 3)
        XCTAssertTrue(mi(h, "core:reload_routes").contains(#""result":"OK""#), "the 4.0 name")
        XCTAssertTrue(h.messages.contains { $0.contains("reload_routes refused") }, "a refused reload is logged")
    }

    /// A flood of ESL events and a run of SIP calls, with reload_routes in the middle of both.
    func testReloadUnderEventFloodAndCalls() throws {
        guard let sippPath = LocalPorts.which("sipp") else { throw XCTSkip("sipp is not on PATH (sip-tester)") }
        let sim = try SimulatorProcess(arguments: ["--port", "0", "--password", "ClueCon"])
        defer { sim.kill() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sy-reload-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let proxyPort = LocalPorts.freeUDPPort(), uasPort = LocalPorts.freeUDPPort(avoid: [proxyPort])
        let uacPort = LocalPorts.freeUDPPort(avoid: [proxyPort, uasPort])
        func script(_ v: String) -> String {
            """
            mpath = "\(BinaryRunner.buildDirectory.path)"
            socket = udp:127.0.0.1:\(proxyPort)
            loadmodule "proto_udp.so"
            loadmodule "statistics.so"
            loadmodule "freeswitch.so"
            loadmodule "freeswitch_scripting.so"
            modparam("statistics", "variable", "ev_v1")
            modparam("statistics", "variable", "ev_v2")
            modparam("statistics", "variable", "sip_v1")
            modparam("statistics", "variable", "sip_v2")
            modparam("freeswitch_scripting", "fs_subscribe", "fs://:ClueCon@127.0.0.1:\(sim.port)?DTMF")
            route {
                update_stat("sip_\(v)", 1);
                $du = "sip:127.0.0.1:\(uasPort)";
                forward();
            }
            event_route[E_FREESWITCH] {
                update_stat("ev_\(v)", 1);
            }
            """
        }
        let h = ServerHarness(script("v1"))
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [])
        try h.start()
        defer { h.stop() }
        XCTAssertTrue(waitUntil(10) { ((try? sim.commandLines()) ?? []).contains { $0.line == "event json DTMF" } }, "subscribed")

        let uas = try SippProcess.untraced(sipp: sippPath, name: "uas", dir: dir,
                                        args: ["-sf", Repo.sipScenario("uas.xml"), "-i", "127.0.0.1", "-p", String(uasPort)])
        defer { uas.stop() }
        XCTAssertTrue(LocalPorts.waitFor(uasPort, timeout: 10) { uas.process.isRunning })
        let calls = 300
        let uac = try SippProcess.untraced(sipp: sippPath, name: "uac", dir: dir, args: [
            "-sf", Repo.sipScenario("uac.xml"), "-s", "1000", "-i", "127.0.0.1", "-p", String(uacPort),
            "127.0.0.1:\(proxyPort)", "-m", String(calls), "-r", "100", "-rp", "1000",
            "-recv_timeout", "5000", "-timeout", "60s",
        ])
        defer { uac.stop() }

        // Events: 20 floods of 500 DTMF events from another thread while the calls run.
        let floods = 20, perFlood = 500
        let flooding = DispatchSemaphore(value: 0)
        Thread {
            for _ in 0..<floods { _ = try? sim.control("flood \(perFlood)") }
            flooding.signal()
        }.start()

        // Reload once both kinds of work are under way on the old routes.
        XCTAssertTrue(waitUntil(30) { stat(h, "ev_v1") >= 2000 && stat(h, "sip_v1") >= 100 },
                      "ev_v1 \(stat(h, "ev_v1")), sip_v1 \(stat(h, "sip_v1"))")
        try write(h, script("v2"))
        let reply = mi(h, "reload_routes")
        XCTAssertTrue(reply.contains(#""result":"OK""#), reply)

        XCTAssertEqual(flooding.wait(timeout: .now() + 60), .success)
        let status = uac.wait(timeout: 90)
        XCTAssertEqual(status, 0, uac.screenAndErrors)
        XCTAssertEqual(uac.stat("SuccessfulCall(C)"), calls, uac.screenAndErrors)
        XCTAssertEqual(uac.stat("FailedCall(C)"), 0, uac.screenAndErrors)
        // Every event ran exactly one of the two routes: none lost, none run twice.
        let total = floods * perFlood
        XCTAssertTrue(waitUntil(30) { stat(h, "ev_v1") + stat(h, "ev_v2") >= total })
        XCTAssertEqual(stat(h, "ev_v1") + stat(h, "ev_v2"), total)
        XCTAssertEqual(stat(h, "core:events_dropped"), 0)
        // The new routes were at work after the reload.
        XCTAssertGreaterThan(stat(h, "ev_v2"), 0)
        XCTAssertGreaterThan(stat(h, "sip_v2"), 0)
    }
}
