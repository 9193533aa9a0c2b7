import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The MI commands driven by the real opensips-cli over mi_fifo: ds_list (OpenSIPS's shape, `full` given positionally
/// or by name), ds_set_state with positional parameters, ds_reload.
final class OpensipsCLITests: XCTestCase {
    func testDsListSetStateAndReloadThroughOpensipsCLI() throws {
        guard let cliPath = Repo.which("opensips-cli") else { throw XCTSkip("opensips-cli is not on PATH (pip install opensipscli; .ci/run does)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ds-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let db = try SQLiteCLI.database(DispatcherModuleTests.fixture)
        let h = Harness("""
        mpath = "\(Repo.buildDirectory.path)"
        loadmodule "mi_fifo.so"
        modparam("mi_fifo", "fifo_name", "\(dir)/fifo")
        modparam("mi_fifo", "reply_dir", "\(dir)/")
        loadmodule "db_sqlite.so"
        loadmodule "dispatcher.so"
        modparam("dispatcher", "db_url", "sqlite://\(db)")
        """)
        try h.prepareAndStart()
        defer { h.stop() }
        let cfg = try OpensipsCLI.fifoConfig(dir: dir)
        func mi(_ args: [String]) throws -> Any? {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: cliPath)
            p.arguments = ["-f", cfg, "-x", "mi"] + args
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let o = out.fileHandleForReading.readDataToEndOfFile()
            _ = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0, "mi \(args): \(String(decoding: o, as: UTF8.self))")
            return try? JSONSerialization.jsonObject(with: o, options: [.fragmentsAllowed])
        }
        func destinations(_ r: Any?) -> [[String: Any]] {
            let parts = (r as? [String: Any])?["PARTITIONS"] as? [[String: Any]]
            let sets = parts?.first?["SETS"] as? [[String: Any]]
            return sets?.first?["Destinations"] as? [[String: Any]] ?? []
        }
        let full = destinations(try mi(["ds_list", "full=1"]))
        XCTAssertEqual(full.compactMap { $0["URI"] as? String }, ["sip:10.0.0.2", "sip:10.0.0.3", "sip:10.0.0.1"])
        XCTAssertEqual(full.compactMap { $0["weight"] as? Int }, [1, 2, 1])
        XCTAssertEqual(full.first?["resolved_addresses"] as? [String], ["10.0.0.2:5060"])
        XCTAssertNil(destinations(try mi(["ds_list"])).first?["weight"])
        XCTAssertEqual(try mi(["ds_set_state", "i", "1", "sip:10.0.0.3"]) as? String, "OK")
        XCTAssertEqual(destinations(try mi(["ds_list"]))[1]["state"] as? String, "Inactive")
        XCTAssertEqual(try mi(["ds_reload"]) as? String, "OK")
        XCTAssertEqual(destinations(try mi(["ds_list"]))[1]["state"] as? String, "Inactive") // inherited
    }
}
