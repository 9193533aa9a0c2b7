// A whole Server of this build in the test process, on a config written to a temporary file, its log captured.
import Foundation
import SwitchyardCore

public final class ServerHarness {
    public let collector = LogCollector()
    public let server: Server
    public let path: String

    /// Writes `mpath` (this build's plugins) and `config` to a temporary file; nothing runs until `start()`.
    public init(_ config: String) {
        // A server in this process writes to sockets a peer may have closed: EPIPE, not a signal that ends the tests.
        signal(SIGPIPE, SIG_IGN)
        path = writeTemp("mpath = \"\(BinaryRunner.buildDirectory.path)\"\n" + config)
        server = Server(configPath: path, logSink: .collector(collector))
    }

    /// Parses, prepares and starts; returns the errors (empty on success).
    public func start() -> [String] {
        let diags = DiagnosticBag()
        let ast = Parser.parse(path: path, diagnostics: diags)
        if diags.hasErrors { return diags.errors.map(\.description) }
        do {
            try server.prepare(ast: ast, workersOverride: 2)
            try server.start()
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    public func stop() { server.stop() }

    public var messages: [String] { collector.messages }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
