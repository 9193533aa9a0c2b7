import Foundation
import XCTest
import SwitchyardTestSupport

/// reload_routes checks t_on_* route names against the script being loaded, not the running one.
final class ReloadFixupTests: TMTestCase {
    func testRouteNamesCheckedAgainstTheNewScript() throws {
        let proxy = LocalPorts.freePorts(1)[0]
        func script(_ armed: String, _ defined: String) -> String {
            Self.config(port: proxy, extra: miFifo) + """
            route {
                t_on_failure("\(armed)");
                t_relay();
            }
            failure_route[\(defined)] {
                xlog("L_NOTICE", "failure \(defined)\\n");
            }
            """
        }
        func reload(_ text: String) throws -> String {
            try text.write(toFile: "\(workDir)/switchyard.cfg", atomically: true, encoding: .utf8)
            return Self.fifoRequest(dir: workDir, body: #"{"jsonrpc":"2.0","method":"reload_routes","id":1}"#,
                                    name: "reload", timeout: 5) ?? "no MI reply"
        }
        let sy = try startSwitchyard(script("a", "a"), port: proxy)

        // failure_route[a] removed while t_on_failure("a") stays: refused, though the running script has it.
        let removed = try reload(script("a", "z"))
        XCTAssertTrue(removed.contains("no failure_route[a] in the script"), removed + "\n" + sy.output)

        // failure_route[b] added with t_on_failure("b"): accepted, though the running script lacks it.
        let added = try reload(script("b", "b"))
        XCTAssertTrue(added.contains("\"result\""), added + "\n" + sy.output)
    }
}
