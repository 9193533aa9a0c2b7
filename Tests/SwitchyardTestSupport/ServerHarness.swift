// A whole Server of this build in the test process, on a config written to a temporary file, its log captured.
import Foundation
import SwitchyardCore

public final class ServerHarness {
    public let collector = LogCollector()
    public let server: Server
    public let path: String
    public private(set) var started = false

    /// Writes `config` as given to a temporary file; nothing runs until `prepare()` and `start()` (or `launch()`).
    /// `environment`: the server's resolver test hooks (SWITCHYARD_DNS_SERVER, ...) instead of the process's.
    public init(_ config: String, environment: [String: String]? = nil) {
        // A server in this process writes to sockets a peer may have closed: EPIPE, not a signal that ends the tests.
        signal(SIGPIPE, SIG_IGN)
        path = writeTemp(config)
        server = Server(configPath: path, logSink: .collector(collector),
                        environment: environment ?? ProcessInfo.processInfo.environment)
    }

    /// The config preceded by an `mpath` line naming this build's plugins, so `loadmodule "name.so"` finds them.
    public convenience init(plugins config: String) {
        self.init("mpath = \"\(BinaryRunner.buildDirectory.path)\"\n" + config)
    }

    /// Parses and prepares; returns the errors (empty on success).
    public func prepare(checkOnly: Bool = false, workers: Int? = 2) -> [Diagnostic] {
        let diags = DiagnosticBag()
        let ast = Parser.parse(path: path, diagnostics: diags)
        if diags.hasErrors { return diags.errors }
        do {
            try server.prepare(ast: ast, checkOnly: checkOnly, workersOverride: workers)
            return []
        } catch {
            return error.diagnostics
        }
    }

    public func start() throws {
        try server.start()
        started = true
    }

    /// Parses, prepares and starts; returns the errors as text (empty on success).
    public func launch() -> [String] {
        let errors = prepare()
        if !errors.isEmpty { return errors.map(\.description) }
        do {
            try server.start()
            started = true
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    public func stop() { server.stop() }

    /// A harness on `config(port)` (with the `mpath` line of `init(plugins:)`), `port` from `LocalPorts.freePorts`,
    /// launched (`avoid`: ports the test holds for peers). Another process may take the port in the moment between picking and binding it: when the launch then
    /// fails with the port in use, it is launched again on a fresh port (three tries). Returns the harness, its port and
    /// the launch errors (empty on success).
    public static func launched(avoid: Set<Int> = [], plugins config: (Int) -> String)
        -> (harness: ServerHarness, port: Int, errors: [String]) {
        var attempt = 0
        while true {
            attempt += 1
            let port = LocalPorts.freePorts(1, avoid: avoid)[0]
            let h = ServerHarness(plugins: config(port))
            let errors = h.launch()
            let inUse = errors.contains { $0.lowercased().contains("address in use") || $0.contains("Address already in use") }
            guard attempt < 3, inUse else { return (h, port, errors) }
            h.stop()
        }
    }

    public var messages: [String] { collector.messages }

    /// Waits until a log line containing `text` appears.
    @discardableResult
    public func waitFor(_ text: String, timeout: TimeInterval = 10) -> Bool {
        waitUntil(timeout: timeout, poll: 0.005) { messages.contains { $0.contains(text) } }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
