import XCTest
import Synchronization
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The SIP resolver (RFC 3263 as OpenSIPS 3.6) against a real DNS exchange with a FakeDNSServer.
final class NameResolverTests: XCTestCase {
    var dns: FakeDNSServer!
    let logged = LogLines()

    override func setUpWithError() throws { dns = try FakeDNSServer() }
    override func tearDown() { dns.stop() }

    func resolver(ipv6: Bool = false, naptr: Bool = true) -> SIPResolver {
        var s = DNSSettings(environment: ["SWITCHYARD_DNS_SERVER": dns.address])
        s.tryIPv6 = ipv6
        s.tryNAPTR = naptr
        s.retrTime = 1
        s.retrNo = 1
        return SIPResolver(settings: s, hosts: [:], log: { [logged] line in logged.add(line) })
    }

    func text(_ list: [ResolvedAddress]) -> [String] { list.map { "\($0.proto):\($0.address.ip):\($0.address.port)" } }

    func testSettingsReadTheTestHook() {
        let s = DNSSettings(environment: ["SWITCHYARD_DNS_SERVER": "127.0.0.1:5353"])
        XCTAssertEqual(s.serverIP, "127.0.0.1")
        XCTAssertEqual(s.serverPort, 5353)
        XCTAssertFalse(s.tryIPv6)
        XCTAssertTrue(s.tryNAPTR)
        XCTAssertNil(DNSSettings(environment: [:]).serverIP)
    }

    /// The dns_* globals reach the engine the SIP core builds its resolver from.
    func testGlobalsReachTheEngine() {
        let h = ServerHarness("""
        dns_try_ipv6 = 1
        dns_try_naptr = 0
        dns_retr_time = 2
        dns_retr_no = 3
        dns_servers_no = 1
        dns_use_search_list = 0
        route { exit; }
        """)
        XCTAssertEqual(h.prepare(workers: 1).map(\.description), [])
        let d = h.server.engine.dns
        XCTAssertEqual([d.tryIPv6, d.tryNAPTR], [true, false])
        XCTAssertEqual([d.retrTime, d.retrNo, d.serversNo, d.searchList], [2, 3, 1, 0])
        let defaults = ServerHarness("route { exit; }")
        XCTAssertEqual(defaults.prepare(workers: 1).map(\.description), [])
        XCTAssertEqual(defaults.server.engine.dns, DNSSettings())
    }

    /// Priority first (lowest number); within a priority a record is picked with a chance of its weight (the random
    /// draw in 0...sum: the first record whose running sum reaches it).
    func testSRVOrderIsPriorityThenWeight() {
        let records: [DNSRecord] = [.srv(priority: 20, weight: 0, port: 1, target: "c"), .srv(priority: 10, weight: 0, port: 1, target: "b"),
                                    .srv(priority: 10, weight: 100, port: 1, target: "a")]
        func targets(_ r: [DNSRecord]) -> [String] { r.compactMap { if case .srv(_, _, _, let t) = $0 { return t } else { return nil } } }
        XCTAssertEqual(targets(SIPResolver.ordered(records, random: { $0 })), ["a", "b", "c"])
        XCTAssertEqual(targets(SIPResolver.ordered(records, random: { _ in 0 })), ["b", "a", "c"])
    }

    /// Only flag "s", no regexp, SIP+D2U/T/S (SIPS+D2T/S for sips); by order, then preference.
    func testNAPTRFilterAndOrder() {
        let records: [DNSRecord] = [
            .naptr(order: 20, preference: 1, flags: "s", services: "SIP+D2T", regexp: "", replacement: "tcp.x"),
            .naptr(order: 10, preference: 2, flags: "S", services: "SIP+D2U", regexp: "", replacement: "udp.x"),
            .naptr(order: 10, preference: 1, flags: "s", services: "SIPS+D2T", regexp: "", replacement: "tls.x"),
            .naptr(order: 1, preference: 1, flags: "u", services: "SIP+D2U", regexp: "!.*!sip:a@b!", replacement: ""),
            .naptr(order: 1, preference: 1, flags: "s", services: "SIPS+D2U", regexp: "", replacement: "bad.x"),
            .naptr(order: 1, preference: 1, flags: "s", services: "E2U+sip", regexp: "", replacement: "enum.x"),
            .naptr(order: 30, preference: 1, flags: "s", services: "SIPS+D2S", regexp: "", replacement: "sctp.x"),
        ]
        XCTAssertEqual(SIPResolver.sipNAPTRs(records, secure: false).map { "\($0.proto) \($0.replacement)" },
                       ["tls tls.x", "udp udp.x", "tcp tcp.x", "tls sctp.x"])
        // SIPS+D2S is TLS (as OpenSIPS), never a plain SCTP downgrade of a sips URI.
        XCTAssertEqual(SIPResolver.sipNAPTRs(records, secure: true).map { "\($0.proto) \($0.replacement)" },
                       ["tls tls.x", "tls sctp.x"])
    }

    /// No port: SRV by the transport; each target's addresses at its record's port, the targets in priority order.
    func testSRVTargetsResolveAtTheirPorts() {
        dns.add("_sip._udp.farm.test", .srv(priority: 20, weight: 0, port: 5080, target: "fs2.farm.test"),
                .srv(priority: 10, weight: 0, port: 5070, target: "fs1.farm.test"))
        dns.add("fs1.farm.test", .a("10.0.0.1"), .a("10.0.0.2"))
        dns.add("fs2.farm.test", .a("10.0.0.3"))
        XCTAssertEqual(text(resolver(naptr: false).resolve("farm.test", port: nil, proto: nil, secure: false)),
                       ["udp:10.0.0.1:5070", "udp:10.0.0.2:5070", "udp:10.0.0.3:5080"])
    }

    func testTransportPicksTheSRVName() {
        dns.add("_sip._tcp.farm.test", .srv(priority: 1, weight: 0, port: 5070, target: "fs1.farm.test"))
        dns.add("_sips._tcp.farm.test", .srv(priority: 1, weight: 0, port: 5071, target: "fs1.farm.test"))
        dns.add("fs1.farm.test", .a("10.0.0.1"))
        let r = resolver()
        XCTAssertEqual(text(r.resolve("farm.test", port: nil, proto: "tcp", secure: false)), ["tcp:10.0.0.1:5070"])
        // A transport was given: no NAPTR question.
        XCTAssertEqual(dns.asked("farm.test", type: FakeDNSServer.typeNAPTR), 0)
        // sips without a transport: NAPTR is asked (no answer), then _sips._tcp.
        XCTAssertEqual(text(r.resolve("farm.test", port: nil, proto: nil, secure: true)), ["tls:10.0.0.1:5071"])
        XCTAssertEqual(dns.asked("farm.test", type: FakeDNSServer.typeNAPTR), 1)
    }

    /// A port in the URI: A records only, at that port; no SRV, no NAPTR.
    func testPortGivenAsksOnlyA() {
        dns.add("_sip._udp.farm.test", .srv(priority: 1, weight: 0, port: 5070, target: "fs1.farm.test"))
        dns.add("farm.test", .a("10.0.0.9"))
        XCTAssertEqual(text(resolver().resolve("farm.test", port: 5090, proto: nil, secure: false)), ["udp:10.0.0.9:5090"])
        XCTAssertEqual(dns.questions.map(\.type), [FakeDNSServer.typeA])
    }

    /// No SRV record: the name's A records at the transport's default port (5061 for TLS).
    func testNoSRVFallsBackToAAtTheDefaultPort() {
        dns.add("farm.test", .a("10.0.0.9"))
        XCTAssertEqual(text(resolver().resolve("farm.test", port: nil, proto: nil, secure: false)), ["udp:10.0.0.9:5060"])
        XCTAssertEqual(text(resolver().resolve("farm.test", port: nil, proto: "tls", secure: false)), ["tls:10.0.0.9:5061"])
        XCTAssertEqual(text(resolver().resolve("10.1.2.3", port: nil, proto: nil, secure: true)), ["tls:10.1.2.3:5061"])
    }

    /// AAAA only with dns_try_ipv6 and only when the name has no A record.
    func testAAAAOnlyWhenEnabledAndNoA() {
        dns.add("both.test", .a("10.0.0.1"), .aaaa("2001:db8::1"))
        dns.add("six.test", .aaaa("2001:db8::2"))
        XCTAssertEqual(resolver().addresses("both.test", port: 5060).map(\.ip), ["10.0.0.1"])
        XCTAssertEqual(resolver().addresses("six.test", port: 5060).map(\.ip), [])
        XCTAssertEqual(dns.questions.filter { $0.type == FakeDNSServer.typeAAAA }, [])
        XCTAssertEqual(resolver(ipv6: true).addresses("both.test", port: 5060).map(\.ip), ["10.0.0.1"])
        XCTAssertEqual(dns.asked("both.test", type: FakeDNSServer.typeAAAA), 0)
        XCTAssertEqual(resolver(ipv6: true).addresses("six.test", port: 5060).map(\.ip), ["2001:db8::2"])
    }

    /// NAPTR (no port, no transport): its records in order, each followed to SRV with the transport it names.
    func testNAPTRChoosesTheTransport() {
        dns.add("farm.test", .naptr(order: 10, preference: 1, flags: "s", services: "SIP+D2U", regexp: "", replacement: "_sip._udp.farm.test"),
                .naptr(order: 5, preference: 1, flags: "s", services: "SIP+D2T", regexp: "", replacement: "_sip._tcp.farm.test"))
        dns.add("_sip._tcp.farm.test", .srv(priority: 1, weight: 0, port: 5070, target: "fs1.farm.test"))
        dns.add("_sip._udp.farm.test", .srv(priority: 1, weight: 0, port: 5080, target: "fs2.farm.test"))
        dns.add("fs1.farm.test", .a("10.0.0.1"))
        dns.add("fs2.farm.test", .a("10.0.0.2"))
        XCTAssertEqual(text(resolver().resolve("farm.test", port: nil, proto: nil, secure: false)),
                       ["tcp:10.0.0.1:5070", "udp:10.0.0.2:5080"])
        XCTAssertEqual(text(resolver(naptr: false).resolve("farm.test", port: nil, proto: nil, secure: false)), ["udp:10.0.0.2:5080"])
    }

    /// An SRV answer cut short: one log line, no crash; the name then resolves as if it had no SRV record.
    func testTruncatedAnswerIsOneLogLine() {
        dns.add("_sip._udp.bad.test", .srv(priority: 1, weight: 0, port: 5070, target: "fs1.bad.test"),
                .srv(priority: 2, weight: 0, port: 5071, target: "fs2.bad.test"))
        dns.add("bad.test", .a("10.0.0.9"))
        dns.truncate("_sip._udp.bad.test", after: 60)
        XCTAssertEqual(text(resolver(naptr: false).resolve("bad.test", port: nil, proto: nil, secure: false)), ["udp:10.0.0.9:5060"])
        XCTAssertEqual(logged.lines.count, 1, "\(logged.lines)")
    }

    /// An SRV target whose name runs past its record's length (into the next record) is malformed: one log line.
    func testSRVTargetPastItsRecordIsMalformed() {
        let header: [UInt8] = [0, 1, 0x81, 0x80, 0, 0, 0, 2, 0, 0, 0, 0]
        // SRV, rdlength 8: priority 1, weight 0, port 5060, then "\u{1}a" and the name's end byte outside the record,
        // the first byte (the root owner name) of the A record after it.
        let srv: [UInt8] = [0, 0, 33, 0, 1, 0, 0, 0, 30, 0, 8, 0, 1, 0, 0, 0x13, 0xc4, 1, 0x61]
        let a: [UInt8] = [0, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 10, 0, 0, 1]
        XCTAssertEqual(DNSQuery.parse(header + srv + a, .srv, name: "x", log: { [logged] l in logged.add(l) }), [])
        XCTAssertEqual(logged.lines.count, 1, "\(logged.lines)")
    }

    /// An SRV record with port 0 is skipped (nothing can be sent to it); "." means no service.
    func testSRVPortZeroIsSkipped() {
        dns.add("_sip._udp.farm.test", .srv(priority: 1, weight: 0, port: 0, target: "fs1.farm.test"),
                .srv(priority: 2, weight: 0, port: 5080, target: "fs2.farm.test"))
        dns.add("fs1.farm.test", .a("10.0.0.1"))
        dns.add("fs2.farm.test", .a("10.0.0.2"))
        XCTAssertEqual(text(resolver(naptr: false).resolve("farm.test", port: nil, proto: nil, secure: false)), ["udp:10.0.0.2:5080"])
    }

    func testParseRejectsGarbage() {
        XCTAssertEqual(DNSQuery.parse([1, 2, 3], .srv, name: "x", log: { [logged] l in logged.add(l) }), [])
        XCTAssertEqual(logged.lines.count, 1)
    }

    /// The core's cache keeps the answers, not an order: two SRV targets of one priority and equal weight both get
    /// messages (the weighted order drawn on every resolution, as OpenSIPS's sort_srvs), and DNS is asked once.
    func testCachedSRVNameSpreadsOverEqualTargets() {
        dns.add("_sip._udp.farm.test", .srv(priority: 10, weight: 10, port: 5070, target: "fs1.farm.test"),
                .srv(priority: 10, weight: 10, port: 5080, target: "fs2.farm.test"))
        dns.add("fs1.farm.test", .a("10.0.0.1"))
        dns.add("fs2.farm.test", .a("10.0.0.2"))
        let names = NameCache(settings: resolver(naptr: false).settings)
        var first: [String: Int] = [:]
        for _ in 0..<200 {
            let list = text(names.resolveSIP("farm.test", port: nil, proto: nil, secure: false))
            XCTAssertEqual(Set(list), ["udp:10.0.0.1:5070", "udp:10.0.0.2:5080"])
            first[list.first ?? "", default: 0] += 1
        }
        XCTAssertEqual(Set(first.keys), ["udp:10.0.0.1:5070", "udp:10.0.0.2:5080"], "\(first)")
        XCTAssertGreaterThan(first.values.min() ?? 0, 40, "\(first)")
        XCTAssertEqual(dns.asked("_sip._udp.farm.test", type: FakeDNSServer.typeSRV), 1, "\(dns.questions)")
        XCTAssertEqual(dns.asked("fs1.farm.test", type: FakeDNSServer.typeA), 1, "\(dns.questions)")
    }

    /// A name that does not exist (NXDOMAIN) is remembered: the next resolution within the cache's time asks nothing.
    func testUnknownNameIsCached() {
        let names = NameCache(settings: resolver().settings, log: { [logged] l in logged.add(l) })
        XCTAssertEqual(names.resolveSIP("nowhere.test", port: nil, proto: nil, secure: false), [])
        let asked = dns.questions.count
        XCTAssertGreaterThan(asked, 0)
        XCTAssertEqual(names.resolveSIP("nowhere.test", port: nil, proto: nil, secure: false), [])
        XCTAssertEqual(dns.questions.count, asked, "\(dns.questions)")
        XCTAssertEqual(logged.lines, [])
    }

    /// A DNS server that does not answer: the failure is kept for a few seconds, so the next message to the name does
    /// not wait for the timeouts again (no second question); after that time it is asked again. The cache's clock is
    /// moved by hand: the query itself takes a real second (its timeout), longer than the 0.5 s the failure is kept,
    /// and the entry must still be there right after it (its time counts from the answer, not from the question).
    func testFailedQueryIsCachedBriefly() {
        dns.silence("quiet.test")
        var settings = resolver().settings
        settings.searchList = 0
        let names = NameCache(settings: settings)
        let clock = ManualClock()
        let cache = DNSAnswerCache(failedTTL: 0.5, now: clock.read)
        let short = SIPResolver(settings: settings, hosts: [:], log: { [logged] l in logged.add(l) }, cache: cache)
        XCTAssertEqual(names.resolveSIP("quiet.test", port: 5060, proto: nil, secure: false), [])
        XCTAssertEqual(dns.asked("quiet.test", type: FakeDNSServer.typeA), 1, "\(dns.questions)")
        XCTAssertEqual(names.resolveSIP("quiet.test", port: 5060, proto: nil, secure: false), [])
        XCTAssertEqual(dns.asked("quiet.test", type: FakeDNSServer.typeA), 1, "\(dns.questions)")
        let first = short.resolveNotingFailures("quiet.test", port: 5060, proto: nil, secure: false)
        XCTAssertEqual(first.addresses, [])
        XCTAssertTrue(first.dnsFailed)
        XCTAssertEqual(dns.asked("quiet.test", type: FakeDNSServer.typeA), 2, "\(dns.questions)")
        // Right after: kept (and still reported as a failure, not as "no such name").
        clock.advance(0.4)
        let cached = short.resolveNotingFailures("quiet.test", port: 5060, proto: nil, secure: false)
        XCTAssertEqual(cached.addresses, [])
        XCTAssertTrue(cached.dnsFailed)
        XCTAssertEqual(dns.asked("quiet.test", type: FakeDNSServer.typeA), 2, "\(dns.questions)")
        // No answer at all is logged (told from NXDOMAIN by the reply code: testUnknownNameIsCached logs nothing).
        XCTAssertEqual(logged.lines, ["DNS query for quiet.test (a) got no answer (timeout or server failure)"])
        clock.advance(0.2)
        _ = short.resolve("quiet.test", port: 5060, proto: nil, secure: false)
        XCTAssertEqual(dns.asked("quiet.test", type: FakeDNSServer.typeA), 3, "\(dns.questions)")
    }

    /// A name that does not exist is an answer: no address, and no failure reported.
    func testUnknownNameIsNotAFailure() {
        let r = resolver(naptr: false).resolveNotingFailures("nowhere.test", port: nil, proto: nil, secure: false)
        XCTAssertEqual(r.addresses, [])
        XCTAssertFalse(r.dnsFailed)
    }

    /// A query that waits longer than the lifetime of what it stores (a slow failure: 10 s of timeouts against the
    /// 5 s a failure is kept) still stores it for that lifetime, counted from when the query returned.
    func testLifetimeCountsFromTheAnswer() {
        let clock = ManualClock()
        let cache = DNSAnswerCache(ttl: 30, failedTTL: 5, now: clock.read)
        var fetches = 0
        let slowFailure = { () -> DNSAnswer in fetches += 1; clock.advance(10); return DNSAnswer(records: [], failed: true) }
        XCTAssertTrue(cache.answer("slow.test", .a, fetch: slowFailure).failed)
        XCTAssertEqual(fetches, 1)
        clock.advance(4.9)
        XCTAssertTrue(cache.answer("slow.test", .a, fetch: slowFailure).failed)
        XCTAssertEqual(fetches, 1, "asked again 4.9 s after the failed answer")
        clock.advance(0.2)
        _ = cache.answer("slow.test", .a, fetch: slowFailure)
        XCTAssertEqual(fetches, 2)
    }

    /// A TTL of 0 is kept 1 s (so a name with TTL 0 costs one lookup per second, not one per message): three
    /// resolutions at once ask once; after that second the SRV record is asked again, while the A record of its
    /// target (TTL 30) is still cached.
    func testZeroTTLAnswerIsKeptOneSecond() {
        dns.add("_sip._udp.zero.test", .srv(priority: 1, weight: 0, port: 5070, target: "fs1.zero.test"))
        dns.ttl("_sip._udp.zero.test", 0)
        dns.add("fs1.zero.test", .a("10.0.0.1"))
        let clock = ManualClock()
        let r = SIPResolver(settings: resolver(naptr: false).settings, hosts: [:], log: nil,
                            cache: DNSAnswerCache(now: clock.read))
        for _ in 0..<3 {
            XCTAssertEqual(text(r.resolve("zero.test", port: nil, proto: nil, secure: false)), ["udp:10.0.0.1:5070"])
        }
        XCTAssertEqual(dns.asked("_sip._udp.zero.test", type: FakeDNSServer.typeSRV), 1, "\(dns.questions)")
        clock.advance(0.9)
        _ = r.resolve("zero.test", port: nil, proto: nil, secure: false)
        XCTAssertEqual(dns.asked("_sip._udp.zero.test", type: FakeDNSServer.typeSRV), 1, "\(dns.questions)")
        clock.advance(0.2)
        XCTAssertEqual(text(r.resolve("zero.test", port: nil, proto: nil, secure: false)), ["udp:10.0.0.1:5070"])
        XCTAssertEqual(dns.asked("_sip._udp.zero.test", type: FakeDNSServer.typeSRV), 2, "\(dns.questions)")
        XCTAssertEqual(dns.asked("fs1.zero.test", type: FakeDNSServer.typeA), 1, "\(dns.questions)")
    }

    /// A short TTL (2 s) is honoured: at 1.9 s the old answer is used without a question, at 2.1 s the changed
    /// record is asked for and used.
    func testShortTTLExpires() {
        dns.add("short.test", .a("10.0.0.1"))
        dns.ttl("short.test", 2)
        let clock = ManualClock()
        let r = SIPResolver(settings: resolver().settings, hosts: [:], log: nil, cache: DNSAnswerCache(now: clock.read))
        XCTAssertEqual(text(r.resolve("short.test", port: 5060, proto: nil, secure: false)), ["udp:10.0.0.1:5060"])
        dns.replace("short.test", .a("10.0.0.2"))
        clock.advance(1.9)
        XCTAssertEqual(text(r.resolve("short.test", port: 5060, proto: nil, secure: false)), ["udp:10.0.0.1:5060"])
        XCTAssertEqual(dns.asked("short.test", type: FakeDNSServer.typeA), 1, "\(dns.questions)")
        clock.advance(0.2)
        XCTAssertEqual(text(r.resolve("short.test", port: 5060, proto: nil, secure: false)), ["udp:10.0.0.2:5060"])
        XCTAssertEqual(dns.asked("short.test", type: FakeDNSServer.typeA), 2, "\(dns.questions)")
    }

    /// A long TTL (one hour) is bounded by the cache's longest time (30 s): cached at 29.9 s, asked again at 30.1 s.
    func testLongTTLIsBounded() {
        dns.add("long.test", .a("10.0.0.1"))
        dns.ttl("long.test", 3600)
        let clock = ManualClock()
        let r = SIPResolver(settings: resolver().settings, hosts: [:], log: nil,
                            cache: DNSAnswerCache(ttl: 30, now: clock.read))
        XCTAssertEqual(text(r.resolve("long.test", port: 5060, proto: nil, secure: false)), ["udp:10.0.0.1:5060"])
        dns.replace("long.test", .a("10.0.0.2"))
        clock.advance(29.9)
        XCTAssertEqual(text(r.resolve("long.test", port: 5060, proto: nil, secure: false)), ["udp:10.0.0.1:5060"])
        XCTAssertEqual(dns.asked("long.test", type: FakeDNSServer.typeA), 1, "\(dns.questions)")
        clock.advance(0.2)
        XCTAssertEqual(text(r.resolve("long.test", port: 5060, proto: nil, secure: false)), ["udp:10.0.0.2:5060"])
        XCTAssertEqual(dns.asked("long.test", type: FakeDNSServer.typeA), 2, "\(dns.questions)")
    }

    /// How long answers are kept: the lowest TTL of the records (parsed from the answer), at least 1 s, bounded by the
    /// cache's time; no TTL known (getaddrinfo) or no record: the cache's time; a failed query: the failure time.
    func testAnswerLifetime() {
        let cache = DNSAnswerCache(ttl: 30, failedTTL: 5)
        let a = DNSRecord.address(SocketAddress(ip: "10.0.0.1", port: 0)!)
        XCTAssertEqual(cache.lifetime(DNSAnswer(records: [a], failed: false, ttl: 7)), 7_000_000_000)
        // TTL 0 and a TTL with its top bit set (RFC 2181: treated as 0) get the 1 s floor.
        XCTAssertEqual(cache.lifetime(DNSAnswer(records: [a], failed: false, ttl: 0)), 1_000_000_000)
        XCTAssertEqual(cache.lifetime(DNSAnswer(records: [a], failed: false, ttl: 0x8000_0010)), 1_000_000_000)
        XCTAssertEqual(cache.lifetime(DNSAnswer(records: [a], failed: false, ttl: UInt32(Int32.max))), 30_000_000_000)
        XCTAssertEqual(cache.lifetime(DNSAnswer(records: [a], failed: false, ttl: 86400)), 30_000_000_000)
        XCTAssertEqual(cache.lifetime(DNSAnswer(records: [a], failed: false, ttl: nil)), 30_000_000_000)
        XCTAssertEqual(cache.lifetime(DNSAnswer(records: [], failed: false)), 30_000_000_000)
        XCTAssertEqual(cache.lifetime(DNSAnswer(records: [], failed: true)), 5_000_000_000)
        // Two records of 60 s and 10 s: the answer lives 10 s.
        let msg = Self.answer(ttls: [60, 10])
        let parsed = DNSQuery.parseAnswer(msg, .a, name: "x", log: nil)
        XCTAssertEqual(parsed.records.count, 2)
        XCTAssertEqual(parsed.ttl, 10)
    }

    /// A reply to an A question for "x" with one A record per TTL.
    static func answer(ttls: [UInt32]) -> [UInt8] {
        var m: [UInt8] = [0, 1, 0x81, 0x80, 0, 1, 0, UInt8(ttls.count), 0, 0, 0, 0, 1, 0x78, 0, 0, 1, 0, 1]
        for (i, t) in ttls.enumerated() {
            m += [0xc0, 12, 0, 1, 0, 1, UInt8(t >> 24), UInt8((t >> 16) & 0xff), UInt8((t >> 8) & 0xff), UInt8(t & 0xff),
                  0, 4, 10, 0, 0, UInt8(i + 1)]
        }
        return m
    }

    /// A name of the hosts file (SWITCHYARD_HOSTS_FILE) resolves from it alone: no NAPTR, SRV or A question, its
    /// addresses at the default port; an SRV target it has resolves from it too.
    func testHostsFileNameAsksNoDNS() {
        dns.add("_sip._udp.farm.test", .srv(priority: 1, weight: 0, port: 5070, target: "fs1.farm.test"))
        let r = SIPResolver(settings: resolver().settings, hosts: ["gw.test": ["10.0.0.5", "10.0.0.6"], "fs1.farm.test": ["10.0.0.1"]], log: nil)
        XCTAssertEqual(text(r.resolve("gw.test", port: nil, proto: nil, secure: false)), ["udp:10.0.0.5:5060", "udp:10.0.0.6:5060"])
        XCTAssertEqual(text(r.resolve("GW.test", port: nil, proto: "tls", secure: false)), ["tls:10.0.0.5:5061", "tls:10.0.0.6:5061"])
        XCTAssertEqual(dns.questions, [])
        XCTAssertEqual(text(r.resolve("farm.test", port: nil, proto: nil, secure: false)), ["udp:10.0.0.1:5070"])
        XCTAssertEqual(dns.asked("fs1.farm.test", type: FakeDNSServer.typeA), 0)
    }

    /// An unknown name gives nothing (NXDOMAIN), quickly.
    func testUnknownNameDoesNotResolve() {
        XCTAssertEqual(resolver().resolve("nowhere.test", port: nil, proto: nil, secure: false), [])
    }
}

/// Lines the resolver logged.
final class LogLines: Sendable {
    private let m = Mutex<[String]>([])
    func add(_ line: String) { m.withLock { $0.append(line) } }
    var lines: [String] { m.withLock { $0 } }
}

/// A clock for DNSAnswerCache moved by hand (nanoseconds).
final class ManualClock: Sendable {
    private let ns = Mutex<UInt64>(1_000_000_000)
    var read: @Sendable () -> UInt64 { { [self] in ns.withLock { $0 } } }
    func advance(_ seconds: Double) { ns.withLock { $0 += UInt64(seconds * 1e9) } }
}
