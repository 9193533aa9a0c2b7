import Foundation
import XCTest
import SwitchyardTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// startSwitchyard on a port another process took between picking and binding it: the port looks bound, but
/// switchyard could not bind it and exited; the start must fail rather than hand back a dead server.
final class StartupPortTakenTests: SippTestCase {
    override class var workDirPrefix: String { "sy-porttaken" }

    func testStartOnATakenPortThrows() throws {
        let port = LocalPorts.freeUDPPort()
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        XCTAssertGreaterThanOrEqual(fd, 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        XCTAssertEqual(rc, 0)
        let cfg = """
        socket = udp:127.0.0.1:\(port)
        loadmodule "proto_udp.so"
        route { exit; }
        """
        XCTAssertThrowsError(try startSwitchyard(cfg, port: port))
    }
}
