import Glibc
import XCTest
@testable import SwitchyardCore

/// The byte-level IPv4 reader accepts only what inet_pton(AF_INET) accepts, with the same address; the rest is left to
/// inet_pton, so SocketAddress(ip:) accepts and refuses exactly what it did before.
final class IPv4LiteralTests: XCTestCase {
    func testAgreesWithInetPton() {
        let texts = ["127.0.0.1", "0.0.0.0", "255.255.255.255", "10.1.2.3", "192.168.100.200", "1.2.3.4",
                     "256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.02.3.4", "1.2.3.00", "1..2.3", ".1.2.3",
                     "1.2.3.", "1.2.3.4 ", " 1.2.3.4", "1.2.3.-4", "a.b.c.d", "1.2.3.4a", "::1", "[::1]", "",
                     "1.2.3.1234", "999.0.0.1", "0.0.0.00", "100.100.100.100", "example.com"]
        for t in texts {
            var a = in_addr()
            let pton = inet_pton(AF_INET, t, &a) == 1
            if let v = IPv4Literal.parse(t) {
                XCTAssertTrue(pton, "\(t): accepted here, refused by inet_pton")
                XCTAssertEqual(v, a.s_addr, t)
            }
            // SocketAddress gives the same answer as inet_pton whichever way it reads the text.
            let sa = SocketAddress(ip: t, port: 5060)
            if pton { XCTAssertEqual(sa?.ip, t, t); XCTAssertEqual(sa?.port, 5060, t) }
        }
        XCTAssertNotNil(IPv4Literal.parse("127.0.0.1"))
        XCTAssertNil(IPv4Literal.parse("01.2.3.4"))
    }
}
