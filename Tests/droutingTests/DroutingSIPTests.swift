import Foundation
import XCTest
import Synchronization
import SwitchyardMI
@testable import SwitchyardCore
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardTestSupport

/// drouting on real SIP traffic, in-process (ServerHarness with `socket = udp:127.0.0.1:port` + proto_udp):
/// is_from_gw by source IP, port and transport (spec §1.7, D18, §6 item 12), goes_to_gw on a real message, and gateway
/// probing (spec §1.10/§1.11): OPTIONS to tiny UDP responders, state changes on 200 / reply codes / >= 400 / timeout,
/// MI-disabled gateways never probed, E_DROUTING_STATUS, dr_gw_status and dr_enable_probing.
final class DroutingSIPTests: XCTestCase {
    static let schema = Repo.root.appendingPathComponent("Plugins/drouting/schema/sqlite.sql").path

    private var files: [String] = []
    private var cleanups: [() -> Void] = []

    override func tearDown() {
        for c in cleanups.reversed() { c() }
        cleanups = []
        for f in files { try? FileManager.default.removeItem(atPath: f) }
        files = []
    }

    // MARK: - helpers

    private func database(_ sql: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("drsip-\(UUID().uuidString).db").path
        files.append(path)
        try SQLiteCLI.run(path, (try String(contentsOfFile: Self.schema, encoding: .utf8)) + "\n" + sql)
        return path
    }

    private func harness(db: String, port: Int, params: [String] = [], body: String) -> ServerHarness {
        harness(db: db, ports: [port], params: params, body: body)
    }

    /// One `socket = udp:127.0.0.1:port` line per port.
    private func harness(db: String, ports: [Int], params: [String] = [], body: String) -> ServerHarness {
        ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        \(ports.map { "socket = udp:127.0.0.1:\($0)" }.joined(separator: "\n"))
        loadmodule "proto_udp.so"
        loadmodule "sl.so"
        loadmodule "db_sqlite.so"
        loadmodule "drouting.so"
        modparam("drouting", "db_url", "sqlite://\(db)")
        modparam("drouting", "gw_id_avp", "$avp(gwid)")
        modparam("drouting", "carrier_id_avp", "$avp(crid)")
        \(params.map { "modparam(\"drouting\", \($0))" }.joined(separator: "\n"))
        \(body)
        """)
    }

    private func start(_ h: ServerHarness, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(h.prepare(workers: 2).map(\.description), [], h.messages.joined(separator: "\n"), file: file, line: line)
        try h.start()
        cleanups.append { h.stop() }
    }

    private func mi(_ h: ServerHarness, _ method: String, _ params: String = "{}") -> JSONValue? {
        h.server.mi.dispatcher.response(toText: #"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#)
    }

    private func gwState(_ h: ServerHarness, _ id: String) -> String? {
        mi(h, "dr_gw_status", #"{"gw_id":"\#(id)"}"#)?["result"]?["State"]?.stringValue
    }

    /// Polls until `gw` has `state` (MI dr_gw_status).
    private func waitState(_ h: ServerHarness, _ gw: String, _ state: String, timeout: TimeInterval = 8,
                           file: StaticString = #filePath, line: UInt = #line) {
        var last: String? = nil
        if waitUntil(timeout: timeout, poll: 0.05, { last = gwState(h, gw); return last == state }) { return }
        XCTFail("gateway \(gw) is \(last ?? "nil"), expected \(state)\n" + h.messages.joined(separator: "\n"), file: file, line: line)
    }

    static func loopback(port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return addr
    }

    /// A UDP socket on 127.0.0.1 (port 0 = ephemeral).
    typealias UDP = UDPSocket

    /// A free UDP port on 127.0.0.1 (bound and released).
    static func freePort() throws -> Int { try UDP().port }

    /// Sends one SIP request from `client` to the server and returns the reply's status line (nil if none came).
    private func request(_ client: UDP, server: Int, user: String, method: String = "OPTIONS") -> String? {
        let branch = "z9hG4bK" + UUID().uuidString.prefix(8)
        let callID = UUID().uuidString
        let msg = """
        \(method) sip:\(user)@127.0.0.1:\(server) SIP/2.0\r
        Via: SIP/2.0/UDP 127.0.0.1:\(client.port);branch=\(branch)\r
        Max-Forwards: 70\r
        From: <sip:tester@127.0.0.1>;tag=t1\r
        To: <sip:\(user)@127.0.0.1>\r
        Call-ID: \(callID)\r
        CSeq: 1 \(method)\r
        Content-Length: 0\r
        \r

        """
        client.send(msg, to: server)
        let end = Date().addingTimeInterval(3)
        while Date() < end {
            guard let (text, _) = client.receive() else { continue }
            guard text.contains(callID) else { continue }
            return text.components(separatedBy: "\r\n").first
        }
        return nil
    }

    /// A tiny UDP "gateway": answers every request with `code` (0 = silence), counts what it received.
    final class Responder: @unchecked Sendable {
        let udp: UDP
        let code = Atomic<Int>(200)
        let received = Atomic<Int>(0)
        let firstLines = Mutex<[String]>([])
        let fromLines = Mutex<[String]>([])
        let running = Atomic<Bool>(true)
        let done = DispatchSemaphore(value: 0)
        var port: Int { udp.port }

        init(answer: Int) throws {
            udp = try UDP()
            code.store(answer, ordering: .relaxed)
            let t = Thread { [self] in
                while running.load(ordering: .relaxed) {
                    guard let (text, from) = udp.receive() else { continue }
                    let lines = text.components(separatedBy: "\r\n")
                    guard let first = lines.first, !first.hasPrefix("SIP/2.0") else { continue }
                    received.add(1, ordering: .relaxed)
                    firstLines.withLock { $0.append(first) }
                    if let f = lines.first(where: { $0.lowercased().hasPrefix("from:") }) { fromLines.withLock { $0.append(f) } }
                    let c = code.load(ordering: .relaxed)
                    if c == 0 { continue }
                    var reply = "SIP/2.0 \(c) Probe Answer\r\n"
                    for l in lines {
                        let lower = l.lowercased()
                        if lower.hasPrefix("via:") || lower.hasPrefix("from:") || lower.hasPrefix("call-id:")
                            || lower.hasPrefix("cseq:") { reply += l + "\r\n" }
                        if lower.hasPrefix("to:") { reply += l + ";tag=gw\r\n" }
                    }
                    reply += "Content-Length: 0\r\n\r\n"
                    var to = from
                    udp.send(reply, to: &to)
                }
                done.signal()
            }
            t.start()
        }

        func stop() {
            if running.exchange(false, ordering: .relaxed) { done.wait() }
        }
    }

    private func responder(_ code: Int) throws -> Responder {
        let r = try Responder(answer: code)
        cleanups.append { r.stop() }
        return r
    }

    // MARK: - is_from_gw / goes_to_gw

    /// is_from_gw by source IP and port: a gateway 127.0.0.1:<client port> matches only that source port; a
    /// gateway 127.0.0.1 without a port has port 5060, so it matches only with `n` (D18); `r` checks the transport;
    /// s/p/i/c flags and attrs; goes_to_gw on $du; -1 on the dummy message of startup/timer routes.
    func testIsFromGWBySourceIPAndPort() throws {
        let client = try UDP()
        let other = try UDP()
        let serverPort = try Self.freePort()
        let db = try database("""
        INSERT INTO dr_gateways (gwid, type, address, strip, pri_prefix, state, probe_mode, attrs) VALUES
          ('gwA', 1, '127.0.0.1:\(client.port)', 2, '99', 0, 0, 'a=A'),
          ('gwB', 2, '127.0.0.1', 0, NULL, 0, 0, 'b=B'),
          ('gwT', 3, 'sip:127.0.0.1:\(client.port);transport=tcp', 0, NULL, 0, 0, NULL),
          ('gwU', 4, 'sip:127.0.0.1:\(client.port);transport=udp', 0, NULL, 0, 0, NULL),
          ('gwX', 5, '10.9.9.9:\(client.port)', 0, NULL, 0, 0, NULL);
        INSERT INTO dr_carriers (carrierid, gwlist, flags, state, attrs) VALUES ('cr1', 'gwA', 0, 0, 'c=1');
        """)
        let h = harness(db: db, port: serverPort, params: [#""probing_interval", 0"#], body: """
        startup_route { is_from_gw(); xlog("SR rc=$rc"); }
        timer_route[t1, 1] { is_from_gw(-1, "n"); xlog("TR rc=$rc"); }
        route {
            $var(ga) = ""; $var(ca) = "";
            if ($rU == "a") { is_from_gw(1, , $var(ga), $var(ca)); $var(rc) = $rc; }
            else if ($rU == "any") { is_from_gw(); $var(rc) = $rc; }
            else if ($rU == "anyn") { is_from_gw(-1, "n"); $var(rc) = $rc; }
            else if ($rU == "b") { is_from_gw(2, , $var(ga)); $var(rc) = $rc; }
            else if ($rU == "bn") { is_from_gw(2, "n", $var(ga)); $var(rc) = $rc; }
            else if ($rU == "t") { is_from_gw(3); $var(rc) = $rc; }
            else if ($rU == "tr") { is_from_gw(3, "r"); $var(rc) = $rc; }
            else if ($rU == "ur") { is_from_gw(4, "r"); $var(rc) = $rc; }
            else if ($rU == "x") { is_from_gw(5, "n"); $var(rc) = $rc; }
            else if ($rU == "42123") { is_from_gw(1, "spic"); $var(rc) = $rc; $var(ga) = $avp(gwid); $var(ca) = $avp(crid); }
            else if ($rU == "du") { $du = "sip:127.0.0.1:\(client.port)"; goes_to_gw(1, , $var(ga)); $var(rc) = $rc; }
            else if ($rU == "isgw") { dr_is_gw("sip:x@127.0.0.1:\(client.port);transport=tcp", 3, "r"); $var(rc) = $rc; }
            if ($var(rc) == 1) { sl_send_reply(200, "GW $rU [$var(ga)] [$var(ca)]"); }
            else { sl_send_reply(403, "Not GW $var(rc)"); }
            exit;
        }
        """)
        try start(h)

        // From the gateway's own port.
        XCTAssertEqual(request(client, server: serverPort, user: "a"), "SIP/2.0 200 GW a [a=A] [c=1]")
        XCTAssertEqual(request(client, server: serverPort, user: "any"), "SIP/2.0 200 GW any [] []")
        // D18: gwB has no port in its address (5060 implied): no match from another port, a match with "n".
        XCTAssertEqual(request(client, server: serverPort, user: "b"), "SIP/2.0 403 Not GW -1")
        XCTAssertEqual(request(client, server: serverPort, user: "bn"), "SIP/2.0 200 GW bn [b=B] []")
        // Transport: gwT is tcp; without r the transport is not looked at.
        XCTAssertEqual(request(client, server: serverPort, user: "t"), "SIP/2.0 200 GW t [] []")
        XCTAssertEqual(request(client, server: serverPort, user: "tr"), "SIP/2.0 403 Not GW -1")
        XCTAssertEqual(request(client, server: serverPort, user: "ur"), "SIP/2.0 200 GW ur [] []")
        // Another IP never matches, with or without "n".
        XCTAssertEqual(request(client, server: serverPort, user: "x"), "SIP/2.0 403 Not GW -1")
        // s, p, i, c: strip 2 then prefix "99"; gw id and carrier id pushed.
        XCTAssertEqual(request(client, server: serverPort, user: "42123"), "SIP/2.0 200 GW 99123 [gwA] [cr1]")
        // goes_to_gw on $du, dr_is_gw with r on a tcp URI.
        XCTAssertEqual(request(client, server: serverPort, user: "du"), "SIP/2.0 200 GW du [a=A] []")
        XCTAssertEqual(request(client, server: serverPort, user: "isgw"), "SIP/2.0 200 GW isgw [] []")

        // From another source port: only the port-less gateway with "n" matches.
        XCTAssertEqual(request(other, server: serverPort, user: "a"), "SIP/2.0 403 Not GW -1")
        XCTAssertEqual(request(other, server: serverPort, user: "any"), "SIP/2.0 403 Not GW -1")
        XCTAssertEqual(request(other, server: serverPort, user: "bn"), "SIP/2.0 200 GW bn [b=B] []")
        XCTAssertEqual(request(other, server: serverPort, user: "anyn"), "SIP/2.0 200 GW anyn [] []")

        // No message in startup and timer routes: -1 (not an error).
        XCTAssertTrue(h.waitFor("TR rc=-1", timeout: 10), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.messages.contains("SR rc=-1"), h.messages.joined(separator: "\n"))
    }

    // MARK: - probing

    /// Spec §1.10: probe_mode 2 gateways are always probed, probe_mode 1 only while disabled, MI-disabled and
    /// probe_mode 0 never; 200 or a probing_reply_codes code re-enables, >= 400 or no reply (408) disables;
    /// E_DROUTING_STATUS on every change; dr_gw_status and dr_enable_probing.
    func testProbing() throws {
        let up = try responder(200)        // gw_up: probe_mode 2, enabled
        let probing = try responder(200)   // gw_pr: probe_mode 1, DB state 2 -> Probing, then Active, then no probes
        let miGW = try responder(200)      // gw_mi: probe_mode 2, DB state 1 (MI-disabled): never probed
        let code = try responder(486)      // gw_code: probe_mode 1, disabled; 486 is in probing_reply_codes
        let bad = try responder(503)       // gw_bad: probe_mode 2, enabled; 503 disables it
        let never = try responder(200)     // gw_none: probe_mode 0, disabled: never probed
        let serverPort = try Self.freePort()
        let db = try database("""
        INSERT INTO dr_gateways (gwid, type, address, state, probe_mode) VALUES
          ('gw_up', 1, '127.0.0.1:\(up.port)', 0, 2),
          ('gw_pr', 1, '127.0.0.1:\(probing.port)', 2, 1),
          ('gw_mi', 1, '127.0.0.1:\(miGW.port)', 1, 2),
          ('gw_code', 1, '127.0.0.1:\(code.port)', 2, 1),
          ('gw_bad', 1, '127.0.0.1:\(bad.port)', 0, 2),
          ('gw_none', 1, '127.0.0.1:\(never.port)', 2, 0);
        """)
        let h = harness(db: db, port: serverPort, params: [#""probing_interval", 1"#, #""probing_reply_codes", "486, 480""#,
                                                                   #""probing_from", "sip:checker@probe.example""#],
                        body: """
        event_route[E_DROUTING_STATUS] {
            xlog("DRS $param(gwid) $param(status) $param(address) $param(partition)");
        }
        route { sl_send_reply(404, "Nothing here"); exit; }
        """)
        try start(h)
        XCTAssertEqual(gwState(h, "gw_up"), "Active")
        XCTAssertEqual(gwState(h, "gw_pr"), "Probing")
        XCTAssertEqual(gwState(h, "gw_mi"), "Disabled MI")
        XCTAssertEqual(gwState(h, "gw_none"), "Inactive")
        XCTAssertEqual(mi(h, "dr_enable_probing")?["result"]?["Status"]?.intValue, 1)

        waitState(h, "gw_pr", "Active")
        waitState(h, "gw_code", "Active")
        waitState(h, "gw_bad", "Inactive")
        XCTAssertTrue(h.waitFor("DRS gw_pr active 127.0.0.1:\(probing.port) Default"), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.waitFor("DRS gw_code active"), h.messages.joined(separator: "\n"))
        XCTAssertTrue(h.waitFor("DRS gw_bad inactive"), h.messages.joined(separator: "\n"))
        XCTAssertEqual(up.firstLines.withLock { $0.first }, "OPTIONS sip:127.0.0.1:\(up.port) SIP/2.0")
        let from = up.fromLines.withLock { $0.first } ?? ""
        XCTAssertTrue(from.hasPrefix("From: <sip:checker@probe.example>;tag="), from)

        // gw_up keeps being probed and stays Active; gw_pr (probe_mode 1, now enabled) is not probed any more.
        // Two more probes reaching gw_up are two probing rounds in which gw_pr was left out.
        let prCount = probing.received.load(ordering: .relaxed)
        let upCount = up.received.load(ordering: .relaxed)
        XCTAssertTrue(waitUntil(timeout: 10) { up.received.load(ordering: .relaxed) >= upCount + 2 }, "gw_up is probed")
        XCTAssertEqual(probing.received.load(ordering: .relaxed), prCount)
        XCTAssertEqual(gwState(h, "gw_up"), "Active")
        // Never probed: MI-disabled and probe_mode 0.
        XCTAssertEqual(miGW.received.load(ordering: .relaxed), 0)
        XCTAssertEqual(never.received.load(ordering: .relaxed), 0)
        XCTAssertEqual(gwState(h, "gw_mi"), "Disabled MI")
        XCTAssertEqual(gwState(h, "gw_none"), "Inactive")

        // gw_up stops answering: the local 408 disables it; it answers again: re-enabled.
        up.code.store(0, ordering: .relaxed)
        waitState(h, "gw_up", "Inactive")
        XCTAssertTrue(h.waitFor("DRS gw_up inactive 127.0.0.1:\(up.port) Default"), h.messages.joined(separator: "\n"))
        up.code.store(200, ordering: .relaxed)
        waitState(h, "gw_up", "Active")
        XCTAssertTrue(h.waitFor("DRS gw_up active"), h.messages.joined(separator: "\n"))

        // MI-disabled: never probed, even though it answers; enabled again by MI only.
        XCTAssertEqual(mi(h, "dr_gw_status", #"{"gw_id":"gw_up","status":0}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(gwState(h, "gw_up"), "Disabled MI")
        XCTAssertTrue(h.waitFor("DRS gw_up disabled MI"), h.messages.joined(separator: "\n"))
        // gw_bad is probed every round: one more probe there and a probe to gw_up in flight when MI disabled it has
        // arrived; two more after that are two rounds in which gw_up was left out.
        let badBefore = bad.received.load(ordering: .relaxed)
        XCTAssertTrue(waitUntil(timeout: 10) { bad.received.load(ordering: .relaxed) >= badBefore + 1 }, "gw_bad is probed")
        let frozen = up.received.load(ordering: .relaxed)
        let badFrozen = bad.received.load(ordering: .relaxed)
        XCTAssertTrue(waitUntil(timeout: 10) { bad.received.load(ordering: .relaxed) >= badFrozen + 2 }, "gw_bad is probed")
        XCTAssertEqual(up.received.load(ordering: .relaxed), frozen)
        XCTAssertEqual(gwState(h, "gw_up"), "Disabled MI")
        XCTAssertEqual(mi(h, "dr_gw_status", #"{"gw_id":"gw_up","status":1}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(gwState(h, "gw_up"), "Active")

        // dr_enable_probing 0 stops every probe; 1 resumes.
        XCTAssertEqual(mi(h, "dr_enable_probing", #"{"status":0}"#)?["result"]?.stringValue, "OK")
        XCTAssertEqual(mi(h, "dr_enable_probing")?["result"]?["Status"]?.intValue, 0)
        // With probing off nothing is sent at all, so no later probe can prove the pause: the counts must first stand
        // still for a whole probing interval (a probe already on its way has landed), then for two more.
        func counts() -> [Int] { [up.received.load(ordering: .relaxed), bad.received.load(ordering: .relaxed)] }
        XCTAssertTrue(waitUntil(timeout: 6) { let c = counts(); return holds(for: 1.1) { counts() == c } }, "probing stops")
        let paused = (counts()[0], counts()[1])
        XCTAssertTrue(holds(for: 2) { counts() == [paused.0, paused.1] }, "no probe while probing is disabled")
        XCTAssertEqual(mi(h, "dr_enable_probing", #"{"status":1}"#)?["result"]?.stringValue, "OK")
        XCTAssertTrue(waitUntil(timeout: 5) { up.received.load(ordering: .relaxed) > paused.0 }, "probing resumes")

        // A reload keeps the runtime state (gw_bad stays Inactive, gw_pr Active) and probing goes on.
        XCTAssertEqual(mi(h, "dr_reload")?["result"]?.stringValue, "OK")
        XCTAssertEqual(gwState(h, "gw_bad"), "Inactive")
        XCTAssertEqual(gwState(h, "gw_pr"), "Active")
        bad.code.store(200, ordering: .relaxed)
        waitState(h, "gw_bad", "Active")

        // The list form.
        let list = mi(h, "dr_gw_status")?["result"]?["Gateways"]
        XCTAssertEqual(list?[0]?["ID"]?.stringValue, "gw_up")
        XCTAssertEqual(list?[2]?["State"]?.stringValue, "Disabled MI")
    }

    /// Without probing (probing_interval 0) nothing is sent and dr_disable'd gateways stay down.
    func testProbingIntervalZeroSendsNothing() throws {
        let r = try responder(200)
        let serverPort = try Self.freePort()
        let db = try database("""
        INSERT INTO dr_gateways (gwid, type, address, state, probe_mode) VALUES ('g1', 1, '127.0.0.1:\(r.port)', 2, 2);
        """)
        let h = harness(db: db, port: serverPort, params: [#""probing_interval", 0"#], body: "route { exit; }")
        try start(h)
        // Nothing is ever sent here, so there is no later probe to wait for: two seconds (two probing intervals of the
        // tests that do probe) without a single datagram.
        XCTAssertTrue(holds(for: 2) { r.received.load(ordering: .relaxed) == 0 }, "a probe was sent")
        XCTAssertEqual(gwState(h, "g1"), "Inactive")
    }

    /// Without any SIP transport probes cannot be sent: one warning, and the gateways keep their state.
    func testProbingWithoutSIPTransportChangesNothing() throws {
        let db = try database("""
        INSERT INTO dr_gateways (gwid, type, address, state, probe_mode) VALUES
          ('g1', 1, '127.0.0.1:5999', 0, 2), ('g2', 1, '127.0.0.1:5998', 2, 1);
        """)
        let h = ServerHarness("""
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "db_sqlite.so"
        loadmodule "drouting.so"
        modparam("drouting", "db_url", "sqlite://\(db)")
        modparam("drouting", "probing_interval", 1)
        """)
        try start(h)
        XCTAssertTrue(h.waitFor("cannot send OPTIONS probes", timeout: 4), h.messages.joined(separator: "\n"))
        // The warning is logged once, not at every tick: no later event marks a tick, so watch one and a half
        // probing intervals for a second warning.
        XCTAssertTrue(holds(for: 1.5) { h.messages.filter { $0.contains("cannot send OPTIONS probes") }.count == 1 },
                      h.messages.joined(separator: "\n"))
        XCTAssertEqual(gwState(h, "g1"), "Active")
        XCTAssertEqual(gwState(h, "g2"), "Probing")
        XCTAssertEqual(h.messages.filter { $0.contains("cannot send OPTIONS probes") }.count, 1)
    }

    // MARK: - gateway sockets

    /// The first request a bare UDP "gateway" receives: its text and the port it came from.
    private func receiveRequest(_ gw: UDP, timeout: TimeInterval = 3) -> (String, Int)? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            guard let (text, from) = gw.receive() else { continue }
            return (text, Int(UInt16(bigEndian: from.sin_port)))
        }
        return nil
    }

    /// dr_gateways.socket: a request routed to a gateway leaves by that gateway's socket (OpenSIPS forces the send
    /// socket), a gateway without one by the socket the request came in on, and a socket that is not ours is logged
    /// once and not used. force_send_socket() and $fs do the same from the script.
    func testGatewaySocketIsTheSendSocket() throws {
        let gw1 = try UDP(), gw2 = try UDP(), gw3 = try UDP()
        let portA = try Self.freePort(), portB = try Self.freePort()
        let db = try database("""
        INSERT INTO dr_gateways (gwid, address, socket) VALUES
          ('gw1', '127.0.0.1:\(gw1.port)', 'udp:127.0.0.1:\(portB)'),
          ('gw2', '127.0.0.1:\(gw2.port)', NULL),
          ('gw3', '127.0.0.1:\(gw3.port)', 'udp:127.0.0.1:1');
        INSERT INTO dr_rules (groupid, prefix, gwlist) VALUES ('0', '1', 'gw1'), ('0', '2', 'gw2'), ('0', '3', 'gw3');
        """)
        let h = harness(db: db, ports: [portA, portB], params: [#""probing_interval", 0"#], body: """
        route {
            if ($rU =~ "^4") {
                if (!force_send_socket("127.0.0.1:\(portB)")) { sl_send_reply(500, "no socket"); exit; }
                xlog("forced fs=$fs");
                $du = "sip:127.0.0.1:\(gw2.port)";
                forward();
                exit;
            }
            if ($rU =~ "^5") {
                $fs = "udp:127.0.0.1:1";
                $fs = 5;
                xlog("bad fs=$fs");
                $du = "sip:127.0.0.1:\(gw2.port)";
                forward();
                exit;
            }
            if (do_routing(0)) { forward(); exit; }
            sl_send_reply(404, "Not Found");
        }
        """)
        try start(h)
        let client = try UDP()
        func send(_ user: String) {
            client.send("""
            OPTIONS sip:\(user)@127.0.0.1:\(portA) SIP/2.0\r
            Via: SIP/2.0/UDP 127.0.0.1:\(client.port);branch=z9hG4bK\(UUID().uuidString.prefix(8))\r
            Max-Forwards: 70\r
            From: <sip:tester@127.0.0.1>;tag=t1\r
            To: <sip:\(user)@127.0.0.1>\r
            Call-ID: \(UUID().uuidString)\r
            CSeq: 1 OPTIONS\r
            Content-Length: 0\r
            \r

            """, to: portA)
        }
        let log = { h.messages.joined(separator: "\n") }

        send("100")
        let r1 = try XCTUnwrap(receiveRequest(gw1), log())
        XCTAssertEqual(r1.1, portB, "gw1 has socket B: " + r1.0)
        XCTAssertTrue(r1.0.contains("Via: SIP/2.0/UDP 127.0.0.1:\(portB);branch="), r1.0)

        send("200")
        let r2 = try XCTUnwrap(receiveRequest(gw2), log())
        XCTAssertEqual(r2.1, portA, "gw2 has no socket: the incoming one")

        send("300"); send("301")
        XCTAssertEqual(try XCTUnwrap(receiveRequest(gw3), log()).1, portA)
        XCTAssertEqual(try XCTUnwrap(receiveRequest(gw3), log()).1, portA)
        XCTAssertEqual(h.messages.filter { $0.contains("gateway gw3: socket <udp:127.0.0.1:1> is not a listening socket") }.count, 1,
                       log())

        send("400")
        let r4 = try XCTUnwrap(receiveRequest(gw2), log())
        XCTAssertEqual(r4.1, portB, "force_send_socket(B)")
        XCTAssertTrue(h.waitFor("forced fs=udp:127.0.0.1:\(portB)"), log())

        send("500")
        let r5 = try XCTUnwrap(receiveRequest(gw2), log())
        XCTAssertEqual(r5.1, portA, "a bad $fs leaves the choice to the destination")
        XCTAssertTrue(h.waitFor("bad fs=<null>"), log())
        XCTAssertTrue(h.messages.contains { $0.contains("$fs: a socket is written as") }, log())
    }

    /// Probes leave from the gateway's `socket`, else from `probing_socket`, else from the core's choice.
    func testProbesLeaveFromTheGatewaySocketOrProbingSocket() throws {
        let gw1 = try UDP(), gw2 = try UDP()
        let portA = try Self.freePort(), portB = try Self.freePort()
        let db = try database("""
        INSERT INTO dr_gateways (gwid, address, probe_mode, socket) VALUES
          ('gw1', '127.0.0.1:\(gw1.port)', 2, 'udp:127.0.0.1:\(portB)'),
          ('gw2', '127.0.0.1:\(gw2.port)', 2, NULL);
        """)
        let h = harness(db: db, ports: [portA, portB],
                        params: [#""probing_interval", 1"#, "\"probing_socket\", \"udp:127.0.0.1:\(portA)\""],
                        body: "route { exit; }")
        try start(h)
        let log = { h.messages.joined(separator: "\n") }
        let p1 = try XCTUnwrap(receiveRequest(gw1, timeout: 5), log())
        XCTAssertTrue(p1.0.hasPrefix("OPTIONS sip:127.0.0.1:\(gw1.port) SIP/2.0"), p1.0)
        XCTAssertEqual(p1.1, portB, "gw1 is probed from its socket")
        XCTAssertTrue(p1.0.contains("Via: SIP/2.0/UDP 127.0.0.1:\(portB);branch="), p1.0)
        let p2 = try XCTUnwrap(receiveRequest(gw2, timeout: 5), log())
        XCTAssertEqual(p2.1, portA, "gw2 has no socket: probing_socket")
    }
}
