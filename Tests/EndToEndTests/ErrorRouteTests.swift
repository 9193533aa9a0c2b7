import Foundation
import XCTest
import SwitchyardTestSupport

/// error_route, as OpenSIPS runs it: on a request whose request line was read but whose headers do not parse, with
/// $err.* telling what broke; the route answers (sl_send_reply) and the core sends nothing itself. Without an
/// error_route the core answers 400 as before. Real sipp sends the malformed requests.
final class ErrorRouteTests: SippTestCase {
    override class var workDirPrefix: String { "sy-errroute" }

    static func config(port: Int, errorRoute: Bool) -> String {
        """
        log_level = 3
        enable_asserts = yes
        udp_workers = 1
        socket = udp:127.0.0.1:\(port)
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        route {
            xlog("MAIN $rm\\n");
            sl_send_reply(200, "OK");
        }
        """ + (errorRoute ? """

        error_route {
            xlog("ERR class=$err.class level=$err.level info=[$err.info] rcode=$err.rcode rreason=[$err.rreason] rm=$rm\\n");
            xlog("ERR ci=$ci via=$hdr(Via)\\n");
            sl_send_reply($err.rcode, "$err.rreason");
            exit;
        }
        """ : "")
    }

    /// A sipp scenario sending one OPTIONS with `header` among its headers and expecting a reply `code`.
    func scenario(_ name: String, header: String, code: Int?, replacing: [String: String] = [:]) throws -> String {
        let xml = """
        <?xml version="1.0" encoding="ISO-8859-1" ?>
        <scenario name="\(name)">
          <send>
            <![CDATA[
        OPTIONS sip:[service]@[remote_ip]:[remote_port] SIP/2.0
        Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
        From: <sip:sipp@[local_ip]:[local_port]>;tag=[call_number]
        To: <sip:[service]@[remote_ip]:[remote_port]>
        Call-ID: [call_id]
        CSeq: [cseq] OPTIONS
        \(header)
        Max-Forwards: 70
        Content-Length: 0

            ]]>
          </send>
          \(code.map { "<recv response=\"\($0)\" />" } ?? "")
        </scenario>
        """
        let text = replacing.reduce(xml) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
        let path = "\(workDir)/\(name).xml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func runOnce(_ scenarioPath: String, target: Int) throws -> SippRun {
        let local = LocalPorts.freeUDPPort(avoid: [target])
        let uac = try startSipp(name: "uac-\(local)", args: ["-sf", scenarioPath, "-s", "1000", "-i", "127.0.0.1",
                                                             "-p", String(local), "127.0.0.1:\(target)", "-m", "1",
                                                             "-recv_timeout", "5000", "-timeout", "10s"])
        return (uac.wait(timeout: 20), uac)
    }

    func testParseErrorRunsErrorRouteWithErrInfo() throws {
        let port = LocalPorts.freeUDPPort()
        let sy = try startSwitchyard(Self.config(port: port, errorRoute: true), port: port)
        // A Content-Length that is not a number: OpenSIPS's texts, replied by the route with them.
        let bad = try scenario("badlen", header: "Content-Length: abc", code: 400)
        let run = try runOnce(bad, target: port)
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("ERR class=1 level=3 info=[error parsing Content-Length] rcode=400 rreason=[bad Content-Length header] rm=OPTIONS"),
                      sy.output)
        assertOnlyTheRoutesReply(run, "bad Content-Length header", sy)
        // A header line without a colon: "error parsing headers".
        let noColon = try scenario("nocolon", header: "ThisIsNotAHeader", code: 400)
        let run2 = try runOnce(noColon, target: port)
        XCTAssertEqual(run2.status, 0, "\(run2.uac.report)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("ERR class=1 level=3 info=[error parsing headers] rcode=400 rreason=[bad headers] rm=OPTIONS"), sy.output)
        // A good request goes to the main route; $err is clear there.
        let good = try scenario("good", header: "Subject: fine", code: 200)
        let run3 = try runOnce(good, target: port)
        XCTAssertEqual(run3.status, 0, "\(run3.uac.report)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("MAIN OPTIONS"), sy.output)
        XCTAssertEqual(sy.output.components(separatedBy: "ERR class=").count - 1, 2, "error_route ran once per bad request\n\(sy.output)")
    }

    func testWithoutErrorRouteTheCoreStillAnswers400() throws {
        let port = LocalPorts.freeUDPPort()
        let sy = try startSwitchyard(Self.config(port: port, errorRoute: false), port: port)
        let bad = try scenario("badlen", header: "Content-Length: abc", code: 400)
        let run = try runOnce(bad, target: port)
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)")
        XCTAssertTrue(run.uac.trace.contains("SIP/2.0 400 Bad Request"), run.uac.trace)
        XCTAssertFalse(sy.output.contains("MAIN"), sy.output)
    }

    func testFailuresOpenSIPSDoesNotFlagKeepThe400() throws {
        // OpenSIPS does not read Max-Forwards while parsing a request (it routes it): we answer 400 as before and
        // error_route does not run.
        let port = LocalPorts.freeUDPPort()
        let sy = try startSwitchyard(Self.config(port: port, errorRoute: true), port: port)
        let xml = try scenario("badmf", header: "Subject: x", code: 400)
        let text = try String(contentsOfFile: xml, encoding: .utf8).replacingOccurrences(of: "Max-Forwards: 70", with: "Max-Forwards: abc")
        try text.write(toFile: xml, atomically: true, encoding: .utf8)
        let run = try runOnce(xml, target: port)
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)")
        XCTAssertTrue(run.uac.trace.contains("SIP/2.0 400 Bad Request"), run.uac.trace)
        XCTAssertFalse(sy.output.contains("ERR class="), sy.output)
    }

    /// The route's reply is the only one: the core adds no 400 of its own.
    func assertOnlyTheRoutesReply(_ run: SippRun, _ reason: String, _ sy: BinaryRunner, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)", file: file, line: line)
        XCTAssertTrue(run.uac.trace.contains("SIP/2.0 400 \(reason)"), run.uac.trace, file: file, line: line)
        XCTAssertFalse(run.uac.trace.contains("400 Bad Request"), run.uac.trace, file: file, line: line)
    }

    func testBadSecondViaIsLeftOutOfTheSalvagedRequest() throws {
        // OpenSIPS's header list ends before the header it failed on: the reply goes by the first Via.
        let port = LocalPorts.freeUDPPort()
        let sy = try startSwitchyard(Self.config(port: port, errorRoute: true), port: port)
        let bad = try scenario("badvia", header: "Via: garbage", code: 400)
        let run = try runOnce(bad, target: port)
        assertOnlyTheRoutesReply(run, "bad Via header", sy)
        XCTAssertTrue(sy.waitFor("info=[error parsing Via] rcode=400 rreason=[bad Via header] rm=OPTIONS"), sy.output)
        // A Call-ID after the bad Via is not there ($ci null); the reply then has no Call-ID (sipp cannot match it,
        // so this one expects none).
        let early = try scenario("badviaearly", header: "Subject: x", code: nil, replacing: [
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n":
                "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\nVia: garbage\n"])
        XCTAssertEqual(try runOnce(early, target: port).status, 0, sy.output)
        XCTAssertTrue(sy.waitFor("ERR ci=<null> via=SIP/2.0/UDP 127.0.0.1:"), sy.output)
    }

    func testBadCSeqAndBadToRunErrorRoute() throws {
        // The route's reply lacks the header that broke (and, for To, the Call-ID after it), as OpenSIPS's: sipp
        // cannot match it, so these scenarios expect no reply and the route's log lines are checked.
        let port = LocalPorts.freeUDPPort()
        let sy = try startSwitchyard(Self.config(port: port, errorRoute: true), port: port)
        let cseq = try scenario("badcseq", header: "Subject: x", code: nil, replacing: ["CSeq: [cseq] OPTIONS": "CSeq: abc OPTIONS"])
        XCTAssertEqual(try runOnce(cseq, target: port).status, 0, sy.output)
        XCTAssertTrue(sy.waitFor("info=[error parsing CSeq`] rcode=400 rreason=[bad CSeq header]"), sy.output)
        let to = try scenario("badto", header: "Subject: x", code: nil,
                              replacing: ["To: <sip:[service]@[remote_ip]:[remote_port]>": "To: <sip:[service]@[remote_ip]:[remote_port]"])
        XCTAssertEqual(try runOnce(to, target: port).status, 0, sy.output)
        XCTAssertTrue(sy.waitFor("info=[error parsing To header] rcode=400 rreason=[bad header]"), sy.output)
        XCTAssertTrue(sy.waitFor("ERR ci=<null>"), sy.output)
        XCTAssertFalse(sy.output.contains("MAIN"), sy.output)
    }

    func testFailingAssertInsideErrorRouteStopsAtTheNestingLimit() throws {
        // The assert re-enters error_route, which answers again each time: OpenSIPS's nesting limit ends it.
        let port = LocalPorts.freeUDPPort()
        // The flag (kept by the message through the nested runs) makes it answer once.
        let cfg = Self.config(port: port, errorRoute: false) + """

        error_route {
            if (!isflagset("ANSWERED")) {
                setflag("ANSWERED");
                sl_send_reply($err.rcode, "$err.rreason");
            }
            assert($ci == "never", "ci");
        }
        """
        let sy = try startSwitchyard(cfg, port: port)
        let bad = try scenario("badlen", header: "Content-Length: abc", code: 400)
        let run = try runOnce(bad, target: port)
        XCTAssertEqual(run.status, 0, "\(run.uac.report)\n\(sy.output)")
        XCTAssertTrue(sy.waitFor("too many recursive routing table lookups (101) giving up!"), sy.output)
        XCTAssertTrue(sy.process.isRunning, sy.output)
        // Still serving.
        let good = try scenario("good", header: "Subject: fine", code: 200)
        XCTAssertEqual(try runOnce(good, target: port).status, 0, sy.output)
    }
}
