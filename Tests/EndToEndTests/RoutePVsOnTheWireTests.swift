import Foundation
import XCTest
import SwitchyardTestSupport

/// The message and route variables on real traffic through tm: `$mi` is the number the worker gave the request, read
/// the same in its request, branch and failure routes (a reply between them gets its own); a branch_route and a
/// failure_route each start their own `$route` run; `$socket_out` is the receiving socket when none is forced.
final class RoutePVsOnTheWireTests: XCTestCase {
    typealias UDP = UDPSocket

    private var h: ServerHarness?
    override func tearDown() {
        h?.stop()
        h = nil
    }

    /// A final reply to `request` as a UAS sends it: its Vias, From, Call-ID and CSeq, To with a tag.
    private func reply(_ code: Int, to request: String) -> String {
        var lines = ["SIP/2.0 \(code) Busy Here"]
        for l in request.components(separatedBy: "\r\n") {
            let name = l.split(separator: ":", maxSplits: 1).first.map { $0.lowercased() } ?? ""
            if ["via", "from", "call-id", "cseq"].contains(name) { lines.append(l) }
            if name == "to" { lines.append(l + ";tag=uas1") }
        }
        return (lines + ["Content-Length: 0", "", ""]).joined(separator: "\r\n")
    }

    private func receive(_ s: UDP, startingWith prefix: String, timeout: TimeInterval = 5) -> String? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if let (t, _) = s.receive(), t.hasPrefix(prefix) { return t } }
        return nil
    }

    /// The value of `key=` in the first log line containing `tag`.
    private func field(_ tag: String, _ key: String) -> String? {
        guard let line = h?.messages.first(where: { $0.contains(tag) }), let r = line.range(of: " \(key)=") else { return nil }
        return String(line[r.upperBound...].prefix { $0 != " " })
    }

    func testMessageNumberRouteRunsAndSocketOutThroughTM() throws {
        let uas = try UDP(), uac = try UDP()
        let proxyPort = try UDP().port
        let harness = ServerHarness(plugins: """
        socket = udp:127.0.0.1:\(proxyPort)
        loadmodule "proto_udp.so"
        loadmodule "tm.so"
        route {
            xlog("REQ mi=$mi out=$socket_out port=$socket_out(port) proto=$socket_out(proto) forced=$socket_out(forced) anycast=$socket_out(anycast) run=$(route[*]) type=$route.type name=[$route.name]\\n");
            t_on_branch("b");
            t_on_failure("f");
            $du = "sip:127.0.0.1:\(uas.port)";
            t_relay();
        }
        branch_route[b] {
            xlog("BRANCH mi=$mi run=$(route[*]) top=$(route[-1]) name=$route.name type=$route.type\\n");
        }
        failure_route[f] {
            xlog("FAILURE mi=$mi run=$(route[*]) type=$route.type status=$T_reply_code\\n");
        }
        onreply_route {
            xlog("REPLY mi=$mi run=$(route[*])\\n");
        }
        """)
        h = harness
        XCTAssertEqual(harness.prepare(workers: 1).map(\.description), [], harness.messages.joined(separator: "\n"))
        try harness.start()

        let invite = [
            "INVITE sip:bob@example.com SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:\(uac.port);branch=z9hG4bK-mi-1",
            "From: <sip:alice@example.com>;tag=a1",
            "To: <sip:bob@example.com>",
            "Call-ID: route-pvs-1@example.com",
            "CSeq: 1 INVITE",
            "Max-Forwards: 70",
            "Content-Length: 0", "", "",
        ].joined(separator: "\r\n")
        uac.send(invite, to: proxyPort)
        let relayed = try XCTUnwrap(receive(uas, startingWith: "INVITE "), harness.messages.joined(separator: "\n"))
        uas.send(reply(486, to: relayed), to: proxyPort)
        XCTAssertNotNil(receive(uac, startingWith: "SIP/2.0 486"), harness.messages.joined(separator: "\n"))
        XCTAssertTrue(harness.waitFor("FAILURE "), harness.messages.joined(separator: "\n"))
        let log = harness.messages.joined(separator: "\n")

        let mi = try XCTUnwrap(field("REQ ", "mi").flatMap { Int($0) }, log)
        XCTAssertGreaterThan(mi, 0, log)
        XCTAssertEqual(field("BRANCH ", "mi"), "\(mi)", log)
        XCTAssertEqual(field("FAILURE ", "mi"), "\(mi)", log)
        // The reply is a message of its own, received after the request.
        XCTAssertEqual(field("REPLY ", "mi"), "\(mi + 1)", log)

        XCTAssertEqual(field("REQ ", "out"), "udp:127.0.0.1:\(proxyPort)", log)
        XCTAssertEqual(field("REQ ", "port"), "\(proxyPort)", log)
        XCTAssertEqual(field("REQ ", "proto"), "udp", log)
        XCTAssertEqual(field("REQ ", "forced"), "<null>", log)
        XCTAssertEqual(field("REQ ", "anycast"), "0", log)
        XCTAssertEqual(field("REQ ", "run"), "request_route", log)
        XCTAssertEqual(field("REQ ", "type"), "request_route", log)
        XCTAssertEqual(field("REQ ", "name"), "[]", log)

        XCTAssertEqual(field("BRANCH ", "run"), "branch_route[b]", log)
        XCTAssertEqual(field("BRANCH ", "top"), "branch_route[b]", log)
        XCTAssertEqual(field("BRANCH ", "name"), "b", log)
        XCTAssertEqual(field("BRANCH ", "type"), "branch_route", log)
        XCTAssertEqual(field("FAILURE ", "run"), "failure_route[f]", log)
        XCTAssertEqual(field("FAILURE ", "type"), "failure_route", log)
        XCTAssertEqual(field("FAILURE ", "status"), "486", log)
        XCTAssertEqual(field("REPLY ", "run"), "onreply_route", log)
    }
}
