import Foundation
import XCTest
import SwitchyardTestSupport

/// list_hdr_add_option / list_hdr_remove_option on a forwarded request, read at a UDP peer: the option added after
/// the last one with a bare ',' (as OpenSIPS writes it), removed with its separator, a header left empty removed.
final class ListHeaderTests: MsgOpsTestCase {
    func testAddAndRemoveOptions() throws {
        let (sy, p) = try startSwitchyard(ports: 2) { Self.config(port: $0[0]) + """
            route {
                list_hdr_add_option("Supported", "path"); xlog("L_NOTICE", "$ci: add=$rc\\n");
                list_hdr_remove_option("Supported", "TIMER"); xlog("L_NOTICE", "$ci: rm=$rc\\n");
                list_hdr_remove_option("Require", "100rel"); xlog("L_NOTICE", "$ci: rm-last=$rc\\n");
                list_hdr_remove_option("Allow", "INFO"); xlog("L_NOTICE", "$ci: rm-multi=$rc\\n");
                list_hdr_remove_option("Allow", "NOTIFY"); xlog("L_NOTICE", "$ci: rm-none=$rc\\n");
                list_hdr_add_option("X-None", "a"); xlog("L_NOTICE", "$ci: add-none=$rc\\n");
                $du = "sip:127.0.0.1:\($0[1])";
                forward();
            }
            """ }
        let callee = try UDPSocket(port: p[1]), caller = try UDPSocket()
        caller.send(["OPTIONS sip:bob@127.0.0.1:\(p[0]) SIP/2.0",
                     "Via: SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-lh1",
                     "From: <sip:a@127.0.0.1>;tag=a1", "To: <sip:b@127.0.0.1>", "Call-ID: lh-1", "CSeq: 1 OPTIONS",
                     "Max-Forwards: 70", "Supported: timer, 100rel", "Require: 100rel",
                     "Allow: INVITE, INFO", "Allow: INFO, BYE", "Content-Length: 0", "", ""].joined(separator: "\r\n"), to: p[0])
        var got: String?
        waitUntil(timeout: 5, poll: 0) { got = callee.receive()?.0; return got != nil }
        let out = try XCTUnwrap(got, sy.output).replacingOccurrences(of: "\r\n", with: "\n")
        XCTAssertEqual(Self.header(out, "Supported"), ["100rel,path"], out)
        XCTAssertEqual(Self.header(out, "Require"), [], out)
        XCTAssertEqual(Self.header(out, "Allow"), ["INVITE", "BYE"], out)
        XCTAssertTrue(sy.waitFor("lh-1: add-none=-1"), sy.output)
        for line in ["add=1", "rm=1", "rm-last=1", "rm-multi=1", "rm-none=-1"] {
            XCTAssertTrue(sy.output.contains("lh-1: \(line)"), "\(line)\n\(sy.output)")
        }
    }

    /// The only option removed, then one added: OpenSIPS rebuilds the emptied header as `Name: option` at its place.
    func testAddAfterTheFirstHeaderWasEmptied() throws {
        let (sy, p) = try startSwitchyard(ports: 2) { Self.config(port: $0[0]) + """
            route {
                list_hdr_remove_option("Supported", "timer"); xlog("L_NOTICE", "$ci: rm=$rc\\n");
                list_hdr_add_option("Supported", "path"); xlog("L_NOTICE", "$ci: add=$rc\\n");
                $du = "sip:127.0.0.1:\($0[1])";
                forward();
            }
            """ }
        let callee = try UDPSocket(port: p[1]), caller = try UDPSocket()
        caller.send(["OPTIONS sip:bob@127.0.0.1:\(p[0]) SIP/2.0",
                     "Via: SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-lh2",
                     "From: <sip:a@127.0.0.1>;tag=a1", "To: <sip:b@127.0.0.1>", "Call-ID: lh-2", "CSeq: 1 OPTIONS",
                     "Max-Forwards: 70", "Supported: timer", "Accept: application/sdp", "Content-Length: 0", "", ""]
                        .joined(separator: "\r\n"), to: p[0])
        var got: String?
        waitUntil(timeout: 5, poll: 0) { got = callee.receive()?.0; return got != nil }
        let out = try XCTUnwrap(got, sy.output).replacingOccurrences(of: "\r\n", with: "\n")
        XCTAssertEqual(Self.header(out, "Supported"), ["path"], out)
        // At the emptied header's place: before the header that followed it.
        let lines = out.components(separatedBy: "\n")
        XCTAssertEqual(lines.firstIndex(of: "Supported: path").map { $0 + 1 }, lines.firstIndex(of: "Accept: application/sdp"), out)
        XCTAssertTrue(sy.waitFor("lh-2: add=1"), sy.output)
        XCTAssertTrue(sy.output.contains("lh-2: rm=1"), sy.output)
    }
}
