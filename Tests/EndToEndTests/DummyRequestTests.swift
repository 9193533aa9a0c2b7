import Foundation
import XCTest
import SwitchyardTestSupport

/// startup, timer and event routes run on OpenSIPS's dummy request ("DUMMY sip:user@dummy.com SIP/2.0" with a Via,
/// To, From;tag=1, Call-ID dummy-1 and CSeq 1 DUMMY, from a zeroed IPv4 source): its message variables print what
/// OpenSIPS 3.6 prints there, in the real binary.
final class DummyRequestTests: XCTestCase {
    static let line = "rm=$rm ru=$ru ci=$ci cs=$cs fu=$fu ft=$ft tu=$tu tt=$tt si=$si sp=$sp pr=[$pr] ml=$ml via=$hdr(Via)"
    static let expected = "rm=DUMMY ru=sip:user@dummy.com ci=dummy-1 cs=1 fu=sip:from@dummy.com ft=1 tu=sip:to@dummy.com tt=<null> "
        + "si=0.0.0.0 sp=0 pr=[] ml=175 via=SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKdummy"

    func testMessageVariablesOnTheDummyRequest() throws {
        let cfg = writeTemp("""
        log_level = 3
        udp_workers = 1
        startup_route { xlog("S \(Self.line)"); raise_event("E_DUMMY"); }
        timer_route[tick, 1] { xlog("T \(Self.line)"); }
        event_route[E_DUMMY] { $rU = "changed"; xlog("E \(Self.line)"); }
        """)
        let r = BinaryRunner(args: ["-f", cfg])
        try r.start()
        defer {
            r.process.terminate()
            _ = r.wait()
        }
        XCTAssertTrue(r.waitFor("S \(Self.expected)"), r.output)
        XCTAssertTrue(r.waitFor("T \(Self.expected)", timeout: 5), r.output)
        // $rU rewrites the request-URI of the dummy request (the FreeSWITCH article's pattern); $rm is unchanged.
        XCTAssertTrue(r.waitFor("E " + Self.expected.replacingOccurrences(of: "ru=sip:user@", with: "ru=sip:changed@")), r.output)
    }
}
