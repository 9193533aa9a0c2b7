import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The prometheus module (Plugins/prometheus) on httpd: the text format, names, types, label rules and group modes,
/// the FreeSWITCH box, event queue and drouting gateway figures, and a real Prometheus server scraping it. Every port
/// is kernel-assigned (LocalPorts.freePorts).
final class PrometheusTests: XCTestCase {
    /// A server with httpd on a free port (`avoid`: ports the test keeps for something else): the harness and the port.
    private func server(_ extra: String, avoid: Set<Int> = [], file: StaticString = #filePath, line: UInt = #line) throws
        -> (ServerHarness, Int) {
        let (h, port, errors) = ServerHarness.launched(avoid: avoid) { httpPort in """
        loadmodule "httpd.so"
        loadmodule "prometheus.so"
        loadmodule "statistics.so"
        modparam("httpd", "port", \(httpPort))
        modparam("statistics", "variable", "greetings")
        modparam("statistics", "variable", "calls@gw1")
        modparam("statistics", "variable", "calls@gw2")
        startup_route {
            update_stat("greetings", 3);
            update_stat("calls@gw1", 5);
            update_stat("calls@gw2", 7);
        }
        \(extra)
        """ }
        XCTAssertEqual(errors, [], file: file, line: line)
        guard errors.isEmpty else { throw XCTSkip("server did not start") }
        addTeardownBlock { h.stop() }
        return (h, port)
    }

    private func get(_ port: Int, _ path: String = "/metrics", method: String = "GET") -> HTTPClient.Response? {
        guard let c = HTTPClient(port: port) else { return nil }
        c.send("\(method) \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        return c.response()
    }

    func testTextFormatNamesAndTypes() throws {
        let (_, port) = try server(#"modparam("prometheus", "statistics", "all")"#)
        let r = try XCTUnwrap(get(port))
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        let lines = r.body.split(separator: "\n").map(String.init)
        // A script statistic (group "script") is a counter; function statistics (the event queue) are gauges.
        XCTAssertTrue(lines.contains("# TYPE opensips_greetings counter"), r.body)
        XCTAssertTrue(lines.contains("opensips_greetings 3"), r.body)
        XCTAssertTrue(lines.contains("# TYPE opensips_event_queue_depth gauge"), r.body)
        XCTAssertTrue(lines.contains { $0.hasPrefix("opensips_event_queue_depth ") }, r.body)
        XCTAssertTrue(lines.contains("# TYPE opensips_events_per_sec gauge"), r.body)
        XCTAssertTrue(lines.contains("# TYPE opensips_processes_number gauge"), r.body)
        // '@' is not allowed in a metric name: it becomes '_'.
        XCTAssertTrue(lines.contains("opensips_calls_gw1 5"), r.body)
        // Every sample line follows its TYPE line, and every name is valid.
        for l in lines where !l.hasPrefix("#") {
            XCTAssertNotNil(l.range(of: #"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9]+$"#, options: .regularExpression), l)
        }
        XCTAssertEqual(get(port, method: "POST")?.status, 405)
    }

    func testSelectionGroupModesAndLabels() throws {
        let (_, port) = try server("""
        modparam("prometheus", "statistics", "script: load:")
        modparam("prometheus", "prefix", "sy")
        modparam("prometheus", "group_mode", 1)
        modparam("prometheus", "root", "/prom/")
        modparam("prometheus", "labels", "script: /^(.*)@(.*)$/\\\\1:gw=\\"\\\\2\\"/")
        """)
        let r = try XCTUnwrap(get(port, "/prom"))
        XCTAssertEqual(r.status, 200)
        let lines = r.body.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("sy_script_greetings 3"), r.body)
        XCTAssertTrue(lines.contains("sy_load_processes_number 4"), r.body)
        // Two statistics merged by the labels rule under one name, one TYPE line.
        XCTAssertEqual(lines.filter { $0 == "# TYPE sy_script_calls counter" }.count, 1, r.body)
        XCTAssertTrue(lines.contains(#"sy_script_calls{gw="gw1"} 5"#), r.body)
        XCTAssertTrue(lines.contains(#"sy_script_calls{gw="gw2"} 7"#), r.body)
        XCTAssertFalse(r.body.contains("event_queue_depth"), "core: was not selected")
        XCTAssertEqual(get(port, "/metrics")?.status, 404)
    }

    func testGroupAsLabel() throws {
        let (_, port) = try server("""
        modparam("prometheus", "statistics", "greetings")
        modparam("prometheus", "group_mode", 2)
        modparam("prometheus", "group_prefix", "sy_")
        """)
        let r = try XCTUnwrap(get(port))
        XCTAssertTrue(r.body.contains(#"opensips_greetings{group="sy_script"} 3"#), r.body)
        XCTAssertEqual(r.body.split(separator: "\n").filter { !$0.hasPrefix("#") }.count, 1, r.body)
    }

    func testNoStatisticsSelectedAnswersAnEmptyPage() throws {
        let (_, port) = try server("")
        let r = try XCTUnwrap(get(port))
        XCTAssertEqual(r.status, 200)
        XCTAssertEqual(r.body, "\n", "OpenSIPS ends every page with an empty line")
    }

    /// The page exactly as OpenSIPS's prometheus module lays it out: the groups and names of `statistics`, the last
    /// named first; the metrics a labels rule merged at the end, the newest statistic first; an empty line at the end.
    func testPageLaidOutAsOpenSIPS() throws {
        let (_, port) = try server("""
        modparam("prometheus", "statistics", "script: load:")
        modparam("prometheus", "statistics", "processes_number greetings")
        modparam("prometheus", "labels", "script: /^(.*)@(.*)$/\\\\1:gw=\\"\\\\2\\"/")
        """)
        let r = try XCTUnwrap(get(port))
        XCTAssertEqual(r.body, """
        # TYPE opensips_processes_number gauge
        opensips_processes_number 4
        # TYPE opensips_greetings counter
        opensips_greetings 3
        # TYPE opensips_calls counter
        opensips_calls{gw="gw2"} 7
        opensips_calls{gw="gw1"} 5


        """)
    }

    /// The script route OpenSIPS 3.6 runs on every scrape: its metrics (HELP and TYPE lines, labelled samples) follow
    /// the statistics; the functions refuse to run anywhere else.
    private static let scriptRoute = """
        modparam("prometheus", "script_route", "prom")
        route[prom] {
            prometheus_declare_stat("sy_calls", "counter", "Calls seen by the script");
            prometheus_push_stat(5, "gw", "a");
            prometheus_push_stat(7, "gw", "b");
            prometheus_declare_stat("sy_temperature");
            prometheus_push_stat(3);
        }
        """

    func testScriptRouteAddsItsMetrics() throws {
        let (h, port) = try server("""
        modparam("prometheus", "statistics", "greetings")
        \(Self.scriptRoute)
        """)
        let r = try XCTUnwrap(get(port))
        XCTAssertEqual(r.body, """
        # TYPE opensips_greetings counter
        opensips_greetings 3
        # HELP sy_calls Calls seen by the script
        # TYPE sy_calls counter
        sy_calls{gw="a"} 5
        sy_calls{gw="b"} 7
        # TYPE sy_temperature gauge
        sy_temperature 3


        """)
        // Twice: each scrape starts a fresh page.
        XCTAssertEqual(try XCTUnwrap(get(port)).body, r.body)
        XCTAssertFalse(h.messages.contains { $0.contains("ERROR") }, h.messages.joined(separator: "\n"))
    }

    func testScriptRouteMustExist() {
        let h = ServerHarness(plugins: """
        loadmodule "httpd.so"
        loadmodule "prometheus.so"
        modparam("httpd", "port", \(LocalPorts.freePorts(1)[0]))
        modparam("prometheus", "script_route", "missing")
        """)
        let errors = h.launch()
        XCTAssertFalse(errors.isEmpty)
        XCTAssertTrue(h.messages.contains { $0.contains("Prometheus route <missing> not defined!") }, h.messages.joined(separator: "\n"))
        h.stop()
    }

    func testBadLabelsRuleIsRefused() {
        let h = ServerHarness(plugins: """
        loadmodule "httpd.so"
        loadmodule "prometheus.so"
        modparam("httpd", "port", \(LocalPorts.freePorts(1)[0]))
        modparam("prometheus", "labels", "core: not-a-rule")
        """)
        XCTAssertFalse(h.launch().isEmpty)
        h.stop()
    }

    /// FreeSWITCH box figures (a box nobody answers: connected 0) and drouting gateway states, as labelled metrics.
    func testFreeSwitchAndDroutingFigures() throws {
        // Nobody listens on these: the gateway's address (never sent to) and the FreeSWITCH box that never answers.
        let dead = LocalPorts.freePorts(2)
        let (gwPort, boxPort) = (dead[0], dead[1])
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sy-prom-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let schema = HTTPDRepo.root.appendingPathComponent("Plugins/drouting/schema/sqlite.sql").path
        let seed = "\(dir)/seed.sql"
        try (try String(contentsOfFile: schema, encoding: .utf8)
             + "\nINSERT INTO dr_gateways (gwid, type, address) VALUES ('gw9', 0, '127.0.0.1:\(gwPort)');\n")
            .write(toFile: seed, atomically: true, encoding: .utf8)
        let (h, port) = try server("""
        loadmodule "freeswitch.so"
        loadmodule "freeswitch_scripting.so"
        loadmodule "db_sqlite.so"
        loadmodule "drouting.so"
        modparam("freeswitch_scripting", "fs_subscribe", "fs://:ClueCon@127.0.0.1:\(boxPort)?DTMF")
        modparam("db_sqlite", "init_sql", "\(seed)")
        modparam("drouting", "db_url", "sqlite://\(dir)/dr.db")
        modparam("prometheus", "statistics", "freeswitch: drouting: core:")
        modparam("prometheus", "labels", "freeswitch: /^(.*)@(.*)$/\\\\1:box=\\"\\\\2\\"/")
        modparam("prometheus", "labels", "drouting: /^(.*)@(.*)$/\\\\1:gwid=\\"\\\\2\\"/")
        event_route[E_NOBODY] { xlog("x"); }
        """, avoid: Set(dead))
        _ = h
        var body = ""
        waitUntil(timeout: 20, poll: 0.2) { // the figures are refreshed every second
            body = get(port)?.body ?? ""
            return body.contains("opensips_connected{") && body.contains("opensips_gw_active{")
        }
        let lines = body.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains(#"opensips_connected{box="127.0.0.1_\#(boxPort)"} 0"#), body)
        XCTAssertTrue(lines.contains("# TYPE opensips_heartbeat_ms gauge"), body)
        XCTAssertTrue(lines.contains(#"opensips_gw_active{gwid="gw9"} 1"#), body)
        XCTAssertTrue(lines.contains("opensips_gateways_active 1"), body)
        XCTAssertTrue(lines.contains { $0.hasPrefix("opensips_event_queue_depth ") }, body)
        XCTAssertTrue(lines.contains { $0.hasPrefix("opensips_events_per_sec ") }, body)
    }

    /// dispatcher destination states (one destination loaded inactive) as labelled gauges, with the dispatcher
    /// README's `labels` rules.
    func testDispatcherStates() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sy-prom-ds-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let schema = HTTPDRepo.root.appendingPathComponent("Plugins/dispatcher/schema/sqlite.sql").path
        let seed = "\(dir)/seed.sql"
        try (try String(contentsOfFile: schema, encoding: .utf8)
             + "\nINSERT INTO dispatcher (setid, destination, state) VALUES (4, 'sip:10.0.0.1', 0), (4, 'sip:10.0.0.2:5070', 1);\n")
            .write(toFile: seed, atomically: true, encoding: .utf8)
        let (h, port) = try server("""
        loadmodule "db_sqlite.so"
        loadmodule "dispatcher.so"
        modparam("db_sqlite", "init_sql", "\(seed)")
        modparam("dispatcher", "db_url", "sqlite://\(dir)/ds.db")
        modparam("prometheus", "statistics", "dispatcher:")
        modparam("prometheus", "labels", "dispatcher: /^([^@]*)@([0-9]+)_(.*)$/\\\\1:set=\\"\\\\2\\",dst=\\"\\\\3\\"/")
        modparam("prometheus", "labels", "dispatcher: /^([^@]*)@([0-9]+)$/\\\\1:set=\\"\\\\2\\"/")
        event_route[E_NOBODY] { xlog("x"); }
        """)
        _ = h
        var body = ""
        waitUntil(timeout: 10, poll: 0.2) { // the figures are refreshed every second
            body = get(port)?.body ?? ""
            return body.contains(#"opensips_dst_active{set="4",dst="10.0.0.2_5070"} 0"#)
        }
        let lines = body.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("# TYPE opensips_dst_active gauge"), body)
        XCTAssertTrue(lines.contains(#"opensips_dst_active{set="4",dst="10.0.0.1"} 1"#), body)
        XCTAssertTrue(lines.contains(#"opensips_dst_active{set="4",dst="10.0.0.2_5070"} 0"#), body)
        XCTAssertTrue(lines.contains(#"opensips_set_inactive{set="4"} 1"#), body)
        XCTAssertTrue(lines.contains("opensips_destinations_active 1"), body)
    }

    // MARK: - A real Prometheus

    func testRealPrometheusScrapesSwitchyard() throws {
        guard let prometheus = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            XCTFail("prometheus is not installed (Debian package `prometheus`; .ci/run installs it)")
            return
        }
        let (_, port) = try server("""
        modparam("prometheus", "statistics", "all")
        \(Self.scriptRoute)
        """)
        let prometheusPort = LocalPorts.freePorts(1, avoid: [port])[0]
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sy-prometheus-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        try """
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        scrape_configs:
          - job_name: switchyard
            static_configs:
              - targets: ['127.0.0.1:\(port)']
        """.write(toFile: "\(dir)/prometheus.yml", atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: prometheus)
        p.arguments = ["--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
                       "--web.listen-address=127.0.0.1:\(prometheusPort)"]
        let log = FileHandle(forWritingAtPath: "/dev/null")
        p.standardOutput = log
        p.standardError = log
        try p.run()
        defer { p.terminate(); p.waitUntilExit() }

        // Poll Prometheus's HTTP API until it has scraped us: the script statistic, with its value.
        var value: String? = nil
        var last = ""
        waitUntil(timeout: 90, poll: 0.5) {
            if let c = HTTPClient(port: prometheusPort, timeout: 5) {
                c.send("GET /api/v1/query?query=opensips_greetings HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if let r = c.response() {
                    last = r.body
                    if let doc = try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any],
                       let data = doc["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
                       let first = result.first, let v = first["value"] as? [Any], v.count == 2 {
                        value = v[1] as? String
                        XCTAssertEqual((first["metric"] as? [String: Any])?["job"] as? String, "switchyard")
                    }
                }
            }
            return value != nil
        }
        XCTAssertEqual(value, "3", "Prometheus never reported opensips_greetings; last answer: \(last)")
        // Prometheus found the target healthy: up == 1.
        let c = try XCTUnwrap(HTTPClient(port: prometheusPort))
        c.send("GET /api/v1/query?query=up HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let up = c.response()?.body ?? ""
        XCTAssertTrue(up.contains(#""value":["#) && up.contains(#","1"]"#), up)
        // The script route's labelled metric, as Prometheus stored it.
        let q = try XCTUnwrap(HTTPClient(port: prometheusPort))
        q.send("GET /api/v1/query?query=sy_calls%7Bgw%3D%22b%22%7D HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        let calls = q.response()?.body ?? ""
        XCTAssertTrue(calls.contains(#""gw":"b""#) && calls.contains(#","7"]"#), calls)
    }
}

/// Paths of the repository, found from this file's location.
enum HTTPDRepo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
