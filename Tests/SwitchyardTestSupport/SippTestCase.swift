// What the tests that make real SIP calls with sipp share (end-to-end calls, tm): the sipp binary, a work directory for
// the processes' files, switchyard on a config, sipp UAS and UAC runs, and stopping all of it at the end.
import Foundation
import XCTest

/// A sipp UAC run: its exit status (nil when it had to be stopped) and the process, for its statistics and files.
public typealias SippRun = (status: Int32?, uac: SippProcess)

/// A test case whose tests start switchyard and sipp peers; skipped when `sipp` is not on PATH.
open class SippTestCase: XCTestCase {
    /// The sipp binary.
    public var sipp = ""
    /// A directory of this test's own: the config, sipp's screen, statistics, error and trace files.
    public var workDir = ""
    /// Run at tearDown, last added first (processes stopped).
    public var cleanups: [() -> Void] = []

    /// The work directory's name starts with this.
    open class var workDirPrefix: String { "sy-sipp" }
    /// Whether sipp keeps the trace of every message (for `received(_:)`), or only screen, errors and statistics.
    open class var tracesMessages: Bool { true }
    /// The path of a scenario by its name.
    open class func scenario(_ name: String) -> String { Repo.sipScenario(name) }

    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
        public init(_ d: String) { description = d }
    }

    open override func setUpWithError() throws {
        guard let s = LocalPorts.which("sipp") else {
            throw XCTSkip("sipp is not on PATH (Debian/Ubuntu: apt-get install sip-tester)")
        }
        sipp = s
        workDir = FileManager.default.temporaryDirectory.appendingPathComponent("\(Self.workDirPrefix)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
    }

    open override func tearDown() {
        for c in cleanups.reversed() { c() }
        cleanups = []
        if !workDir.isEmpty { try? FileManager.default.removeItem(atPath: workDir) }
    }

    /// A sipp process with its files in the work directory (the message trace when `tracesMessages`).
    public func startSipp(name: String, args: [String]) throws -> SippProcess {
        let p = try SippProcess(sipp: sipp, name: name, dir: workDir, args: args, traceMessages: Self.tracesMessages)
        cleanups.append { p.stop() }
        return p
    }

    /// switchyard on `config` (written to the work directory); waits until it serves 127.0.0.1:`port` and its workers
    /// are up.
    /// `env` adds to switchyard's environment (e.g. SWITCHYARD_HOSTS_FILE).
    public func startSwitchyard(_ config: String, port: Int, tcp: Bool = false, env: [String: String] = [:]) throws -> BinaryRunner {
        let cfg = "\(workDir)/switchyard.cfg"
        try config.write(toFile: cfg, atomically: true, encoding: .utf8)
        let sy = BinaryRunner(args: ["-f", cfg], cwd: workDir, env: env)
        try sy.start()
        cleanups.append {
            if sy.process.isRunning {
                sy.process.terminate()
                _ = sy.wait(timeout: 5)
            }
        }
        guard LocalPorts.waitFor(port, tcp: tcp, timeout: 15, while: { sy.process.isRunning }) else {
            throw SetupError("switchyard did not listen on \(tcp ? "tcp" : "udp"):127.0.0.1:\(port):\n\(sy.output)")
        }
        // The socket is bound before the workers start reading: wait for the server's "ready:" line (not "ready"
        // alone, which "Address already in use" contains) or its exit.
        waitUntil(timeout: 5) { sy.output.contains(" ready: ") || !sy.process.isRunning }
        // The port may have been taken by another process between picking it and binding it: then the port looked
        // bound, but switchyard failed to bind and exited.
        guard sy.process.isRunning else {
            throw SetupError("switchyard exited at startup (port \(port) taken by another process?):\n\(sy.output)")
        }
        return sy
    }

    /// switchyard on `config(ports)` for `count` ports from `LocalPorts.freePorts` (ports[0] is the one it serves, as
    /// `startSwitchyard(_:port:)`; the others are the test's peers). Another process may take a port in the moment
    /// between picking and binding it: when switchyard then exits with "Address already in use", it is started again
    /// on fresh ports (three tries). Returns switchyard and the ports it was started with.
    public func startSwitchyard(ports count: Int, avoid: Set<Int> = [], tcp: Bool = false, env: [String: String] = [:],
                                _ config: ([Int]) -> String) throws -> (BinaryRunner, [Int]) {
        var attempt = 0
        while true {
            attempt += 1
            let ports = LocalPorts.freePorts(count, avoid: avoid)
            do {
                return (try startSwitchyard(config(ports), port: ports[0], tcp: tcp, env: env), ports)
            } catch let e as SetupError where attempt < 3 && e.description.contains("Address already in use") {
                continue
            }
        }
    }

    /// A sipp UAS playing `scenario` on 127.0.0.1:`port`, once it is bound.
    public func startUAS(_ scenario: String = "uas.xml", port: Int, tcp: Bool = false) throws -> SippProcess {
        var args = ["-sf", Self.scenario(scenario), "-i", "127.0.0.1", "-p", String(port)]
        if tcp { args += ["-t", "t1"] }
        let uas = try startSipp(name: "uas-\(port)", args: args)
        guard LocalPorts.waitFor(port, tcp: tcp, timeout: 10, while: { uas.process.isRunning }) else {
            throw SetupError("sipp UAS did not start on \(port):\n\(uas.report)")
        }
        return uas
    }

    /// A sipp UAC scenario run to its end: `calls` calls to `number` from 127.0.0.1:`local` through
    /// 127.0.0.1:`target`, `rate` a second; a message awaited longer than `recvTimeout` (default: `timeout`) fails the
    /// call, and the run is stopped after `timeout` + 10 s.
    public func runUAC(_ scenario: String, number: String = "1000", local: Int, target: Int, calls: Int, rate: Int = 20,
                       tcp: Bool = false, recvTimeout: TimeInterval? = nil, timeout: TimeInterval = 30) throws -> SippRun {
        var args = ["-sf", Self.scenario(scenario), "-s", number, "-i", "127.0.0.1", "-p", String(local),
                    "127.0.0.1:\(target)", "-m", String(calls), "-r", String(rate), "-rp", "1000",
                    "-recv_timeout", "\(Int((recvTimeout ?? timeout) * 1000))", "-timeout", "\(Int(timeout))s"]
        if tcp { args += ["-t", "t1"] }
        let uac = try startSipp(name: "uac-\(number)-\(local)", args: args)
        return (uac.wait(timeout: timeout + 10), uac)
    }

    /// Asserts that a finished UAC run exited 0 with `calls` successful calls and no failed one, switchyard still up.
    public func assertAllSuccessful(_ run: SippRun, calls: Int, _ sy: BinaryRunner,
                                    file: StaticString = #filePath, line: UInt = #line) {
        let context = "\(run.uac.report)\n--- switchyard:\n\(String(sy.output.suffix(4000)))"
        XCTAssertEqual(run.status, 0, "sipp UAC exit status (0: all calls successful)\n\(context)", file: file, line: line)
        XCTAssertEqual(run.uac.stat("SuccessfulCall(C)"), calls, context, file: file, line: line)
        XCTAssertEqual(run.uac.stat("FailedCall(C)"), 0, context, file: file, line: line)
        XCTAssertTrue(sy.process.isRunning, "switchyard exited\n\(context)", file: file, line: line)
    }
}
