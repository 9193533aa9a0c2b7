import Foundation
import SwitchyardCore
import SwitchyardJSON

/// `switchyard-bench json [iterations]`: parse a real FreeSWITCH DTMF event body (the JSON of an ESL `text/event-json`
/// frame: 2.1 KB, 60 string members) and read `Unique-ID`, `DTMF-Digit` and `Caller-Destination-Number`, N times:
///   - SwitchyardJSON directly, into `JSONValue` (the MI model) and into `JSONNode` (the tree the json plugin keeps);
///   - Foundation's JSONSerialization (parse + three dictionary lookups);
///   - through the script and the json plugin: `$json(body) := $var(b); $var(x) = $json(body/Unique-ID); ...`,
///     plus the three reads alone (document already parsed). One worker, one thread for all of them.
extension Bench {
    static func jsonThroughput(iterations: Int) throws {
        let frame = try String(contentsOf: repo.appendingPathComponent("Tests/jsonTests/Fixtures/esl_event_DTMF.txt"),
                               encoding: .utf8)
        guard let headersEnd = frame.range(of: "\n\n") else { fatalError("no blank line after the ESL headers") }
        let body = String(frame[headersEnd.upperBound...])
        let bytes = Array(body.utf8)
        let fields = ["Unique-ID", "DTMF-Digit", "Caller-Destination-Number"]
        let expected = ["803beb2e-45da-4b96-8445-d0f2605babc4", "1", "1000"]
        print("json: DTMF event body, \(bytes.count) bytes; parse + read \(fields.joined(separator: ", "))")

        func report(_ name: String, _ n: Int, _ seconds: Double) {
            print(String(format: "json: %@: %.0f ops/s (%.0f ns/op)", name as NSString, Double(n) / seconds, seconds / Double(n) * 1e9))
        }
        func time(_ n: Int, _ body: () -> Int) -> Double {
            for _ in 0..<min(n, 2_000) { _ = body() } // warm-up
            let start = DispatchTime.now()
            var sink = 0
            for _ in 0..<n { sink &+= body() }
            let secs = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            if sink == 42 { print("") } // keep the work observable
            return secs
        }

        // SwitchyardJSON → JSONValue.
        let parser = JSONParser()
        let valueRead: () -> Int = {
            bytes.withUnsafeBufferPointer { buf in
                guard let v = try? parser.parse(buf) else { fatalError("parse failed") }
                return fields.reduce(0) { $0 + (v[$1]?.stringValue?.utf8.count ?? 0) }
            }
        }
        precondition(bytes.withUnsafeBufferPointer { buf in
            fields.map { (try? parser.parse(buf))?[$0]?.stringValue } == expected
        })
        report("SwitchyardJSON JSONValue", iterations, time(iterations, valueRead))

        // SwitchyardJSON → JSONNode.
        let nodeRead: () -> Int = {
            bytes.withUnsafeBufferPointer { buf in
                guard case .object(let o)? = try? parser.parseNode(buf) else { fatalError("parse failed") }
                var n = 0
                for f in fields { if case .string(let s)? = o[f] { n += s.utf8.count } }
                return n
            }
        }
        report("SwitchyardJSON JSONNode ", iterations, time(iterations, nodeRead))

        // Foundation.
        let data = Data(bytes)
        let foundationRead: () -> Int = {
            guard let d = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { fatalError("parse failed") }
            return fields.reduce(0) { $0 + ((d[$1] as? String)?.utf8.count ?? 0) }
        }
        precondition(fields.map { ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any])?[$0] as? String } == expected)
        report("Foundation JSONSerialization", iterations, time(iterations, foundationRead))

        // Through the script and the plugin.
        let literal = body.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let s = try server("""
        mpath = "\(buildDir.path)"
        loadmodule "json.so"
        route[jinit] { $var(b) = "\(literal)"; }
        route[jparse] {
            $json(body) := $var(b);
            $var(x) = $json(body/Unique-ID);
            $var(y) = $json(body/DTMF-Digit);
            $var(z) = $json(body/Caller-Destination-Number);
        }
        route[jevent] {
            $json(ev) := $param(body);
            $var(x) = $json(ev/Unique-ID);
            $var(y) = $json(ev/DTMF-Digit);
            $var(z) = $json(ev/Caller-Destination-Number);
        }
        route[jread] {
            $var(x) = $json(body/Unique-ID);
            $var(y) = $json(body/DTMF-Digit);
            $var(z) = $json(body/Caller-Destination-Number);
        }
        """, workers: 1)
        defer { s.stop() }
        _ = runOnAllWorkers(s, route: "jinit", total: 1, workers: 1)
        _ = runOnAllWorkers(s, route: "jparse", total: min(iterations, 10_000), workers: 1)
        let rssBefore = residentKB()
        let script = runOnAllWorkers(s, route: "jparse", total: iterations, workers: 1)
        report("script $json(body) := ... + 3 reads", iterations, script)
        print("json: resident memory over those \(iterations) re-assignments of $json(body): \(rssBefore) KB -> \(residentKB()) KB")
        _ = runOnAllWorkers(s, route: "jread", total: min(iterations, 10_000), workers: 1)
        let reads = runOnAllWorkers(s, route: "jread", total: iterations, workers: 1)
        report("script 3 reads of a parsed $json", iterations, reads)
        jsonEventRows(s, body: body, iterations: iterations, report: report)
    }

    /// Resident set size of this process in KB (Linux /proc; 0 elsewhere).
    static func residentKB() -> Int {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
    }
}
