// A Server of this build with one driver loaded, in the test process, and its published sy_db_api table bound as a
// module binds it.
import SwitchyardTestSupport
import Foundation
import SwitchyardABI
@testable import SwitchyardCore
import XCTest

final class InProcessServer {
    let server: Server
    let path: String
    let collector = LogCollector()

    init(_ config: String) throws {
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

    func db(_ scheme: String) throws -> DBAPI {
        let raw = try server.apiBind(name: "db:\(scheme)", major: UInt32(SY_DB_MAJOR),
                                     minSize: UInt32(MemoryLayout<sy_db_api>.stride)).get()
        return DBAPI(api: raw.assumingMemoryBound(to: sy_db_api.self))
    }

    func stop() {
        server.stop()
        try? FileManager.default.removeItem(atPath: path)
    }
}
