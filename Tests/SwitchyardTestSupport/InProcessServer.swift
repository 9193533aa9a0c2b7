// A Server of this build in the test process with the plugins of a config loaded, so a test can bind the API tables
// they publish as a module binds them (db_mysql, db_postgres, cachedb_redis tests; the binding itself is in each
// target: Server.apiBind is internal to the core).
import Foundation
import SwitchyardCore
import XCTest

public final class InProcessServer {
    public let server: Server
    public let path: String
    public let collector = LogCollector()

    /// Writes `mpath` (this build's plugins) and `config` to a temporary file, then parses (asserting no errors),
    /// prepares and starts the server.
    public init(_ config: String) throws {
        // A server in this process writes to sockets a peer may have closed: EPIPE, not a signal that ends the tests.
        signal(SIGPIPE, SIG_IGN)
        path = writeTemp("mpath = \"\(BinaryRunner.buildDirectory.path)\"\n" + config)
        server = Server(configPath: path, logSink: .collector(collector))
        let diags = DiagnosticBag()
        let ast = Parser.parse(path: path, diagnostics: diags)
        XCTAssertEqual(diags.errors.map(\.description), [])
        try server.prepare(ast: ast, checkOnly: false, workersOverride: 2)
        try server.start()
    }

    public func stop() {
        server.stop()
        try? FileManager.default.removeItem(atPath: path)
    }
}
