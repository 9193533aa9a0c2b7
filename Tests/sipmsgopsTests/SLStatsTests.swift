import Foundation
import XCTest
import SwitchyardTestSupport

/// sl's statistics read with the real opensips-cli over mi_fifo, as OpenSIPS counts them: every reply sent in
/// sent_replies and its class counter, sl_reply_error's alone in sent_err_replies; enable_stats 0 registers none.
final class SLStatsTests: MsgOpsTestCase {
    /// An OPTIONS answered 404 by sl_send_reply and a MESSAGE answered by sl_reply_error (500), then
    /// `mi get_statistics sl:`.
    func stats(enable: Bool) throws -> OpensipsCLI.Result {
        let (sy, p) = try startSwitchyard(ports: 1) { Self.config(port: $0[0]) + """
            loadmodule "mi_fifo.so"
            modparam("mi_fifo", "fifo_name", "\(workDir)/fifo")
            modparam("mi_fifo", "reply_dir", "\(workDir)/")
            loadmodule "sl.so"
            modparam("sl", "enable_stats", \(enable ? 1 : 0))
            route {
                if ($rm == "OPTIONS") { sl_send_reply(404, "Not Here"); exit; }
                sl_reply_error();
            }
            """ }
        let caller = try UDPSocket()
        for (method, id) in [("OPTIONS", "st-404"), ("MESSAGE", "st-err")] {
            caller.send(RRTests.request(method, proxy: p[0], local: caller.port, callID: id), to: p[0])
            var got: String?
            waitUntil(timeout: 5, poll: 0) { got = caller.receive()?.0; return got != nil }
            XCTAssertNotNil(got, "\(id)\n\(sy.output)")
        }
        let cfg = try OpensipsCLI.fifoConfig(dir: workDir)
        return try OpensipsCLI.run(cfg, ["get_statistics", "sl:"])
    }

    func testCountersAsOpenSIPS() throws {
        let r = try stats(enable: true)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        let s = (try? JSONSerialization.jsonObject(with: Data(r.out.utf8))) as? [String: Any] ?? [:]
        XCTAssertEqual(s["sl:4xx_replies"] as? Int, 1, "\(s)")
        XCTAssertEqual(s["sl:5xx_replies"] as? Int, 1, "\(s)")
        XCTAssertEqual(s["sl:sent_replies"] as? Int, 2, "\(s)")
        XCTAssertEqual(s["sl:sent_err_replies"] as? Int, 1, "\(s)")
    }

    func testEnableStatsOffRegistersNone() throws {
        // OpenSIPS answers a group without statistics 404 "Statistics Not Found".
        let r = try stats(enable: false)
        XCTAssertNotEqual(r.status, 0, r.out)
        XCTAssertTrue((r.out + r.err).contains("404: Statistics Not Found"), r.out + r.err)
    }
}
