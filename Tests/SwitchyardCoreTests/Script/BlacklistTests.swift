import Foundation
import XCTest
@testable import SwitchyardCore
import SwitchyardTestSupport

/// The blacklist rules' text, matching, the script functions and the startup errors of a bad dst_blacklist.
final class BlacklistTests: XCTestCase {
    func testListTextParsesRulesWithNegationMasksAndPatterns() throws {
        let l = try BlacklistParser.list(#"gw:{ (tcp, 192.168.2.100, 5060, ""), !(any, 10.0.0.0/255.0.0.0, 0, ''), (udp, ::1/128, 0, "INVITE*") }"#)
        XCTAssertEqual(l.name, "gw")
        XCTAssertEqual(l.rules.count, 3)
        XCTAssertEqual(l.rules[0].text, #"(tcp, 192.168.2.100/255.255.255.255, 5060, "")"#)
        XCTAssertTrue(l.rules[1].negated)
        XCTAssertEqual(l.rules[1].network.maskText, "255.0.0.0")
        XCTAssertEqual(l.rules[2].pattern, "INVITE*")
        XCTAssertEqual(try BlacklistParser.list("empty:{}").rules.count, 0)
    }

    func testBadRulesSayWhereAndWhy() {
        func failure(_ text: String) -> BlacklistParser.Failure? {
            do throws(BlacklistParser.Failure) { _ = try BlacklistParser.list(text) } catch { return error }
            return nil
        }
        XCTAssertEqual(failure("gw:{ (udp, 1.2.3.999, 0, '') }")?.offset, 11)
        XCTAssertEqual(failure("gw:{ (udp, 1.2.3.999, 0, '') }")?.message.hasPrefix("bad IP or network"), true)
        XCTAssertEqual(failure("gw:{ (quic, 1.2.3.4, 0, '') }")?.message.hasPrefix("unknown protocol 'quic'"), true)
        XCTAssertEqual(failure("gw:{ (udp, 1.2.3.4, 70000, '') }")?.message.hasPrefix("bad port"), true)
        XCTAssertEqual(failure("gw:{ (udp, 1.2.3.4, 0) }")?.message.hasPrefix("a rule has four fields"), true)
        XCTAssertEqual(failure("gw (udp, 1.2.3.4, 0, '')")?.message.hasPrefix("expected ':'"), true)
        XCTAssertEqual(failure("gw:{ (udp, 1.2.3.4, 0, '') ")?.message.hasPrefix("missing '}'"), true)
    }

    func testMatchingByNetworkPortProtoPatternAndNegation() throws {
        let lists = Blacklists()
        lists.define(name: "a", rules: try BlacklistParser.list("a:{ (udp, 10.1.0.0/16, 5060, ''), (any, 192.0.2.1, 0, '*secret*') }").rules)
        lists.define(name: "only", rules: try BlacklistParser.list("only:{ !(any, 198.51.100.0/24, 0, '') }").rules)
        func ip(_ s: String) -> IPBytes { IPBytes(s)! }
        XCTAssertEqual(lists.check(list: "a", ip: ip("10.1.2.3"), port: 5060, proto: "udp", text: ""), true)
        XCTAssertEqual(lists.check(list: "a", ip: ip("10.1.2.3"), port: 5061, proto: "udp", text: ""), false)
        XCTAssertEqual(lists.check(list: "a", ip: ip("10.1.2.3"), port: 5060, proto: "tcp", text: ""), false)
        XCTAssertEqual(lists.check(list: "a", ip: ip("10.2.0.1"), port: 5060, proto: "udp", text: ""), false)
        XCTAssertEqual(lists.check(list: "a", ip: ip("192.0.2.1"), port: 9, proto: "tcp", text: "a secret body"), true)
        XCTAssertEqual(lists.check(list: "a", ip: ip("192.0.2.1"), port: 9, proto: "tcp", text: "plain"), false)
        XCTAssertEqual(lists.check(list: "only", ip: ip("203.0.113.9"), port: 5060, proto: "udp", text: ""), true)
        XCTAssertEqual(lists.check(list: "only", ip: ip("198.51.100.7"), port: 5060, proto: "udp", text: ""), false)
        XCTAssertNil(lists.check(list: "nope", ip: ip("198.51.100.7"), port: 5060, proto: "udp", text: ""))
        XCTAssertEqual(lists.defaultMask, 0)
        XCTAssertNotNil(lists.define(name: "a", rules: []), "a second list of the same name is refused")
    }

    func testAddDeleteAndExpiry() throws {
        let lists = Blacklists()
        lists.define(name: "learned", rules: [])
        let rule = try BlacklistParser.rule("(udp, 127.0.0.9, 5060, '')")
        XCTAssertTrue(lists.add(list: "learned", rule: rule, expire: 0))
        XCTAssertTrue(lists.add(list: "learned", rule: rule, expire: 0), "a duplicate only refreshes")
        XCTAssertEqual(lists.all[0].rules.count, 1)
        XCTAssertEqual(lists.delete(list: "learned", rule: rule), true)
        XCTAssertEqual(lists.delete(list: "learned", rule: rule), false)
        XCTAssertNil(lists.delete(list: "none", rule: rule))
        XCTAssertFalse(lists.add(list: "none", rule: rule, expire: 0))
        XCTAssertTrue(lists.add(list: "learned", rule: rule, expire: 1))
        XCTAssertEqual(lists.check(list: "learned", ip: IPBytes("127.0.0.9")!, port: 5060, proto: "udp", text: ""), true)
        XCTAssertTrue(waitUntil(timeout: 10) { lists.check(list: "learned", ip: IPBytes("127.0.0.9")!, port: 5060, proto: "udp", text: "") == false })
        XCTAssertEqual(lists.all[0].rules.count, 0, "an expired rule is no longer listed")
    }

    func testScriptFunctions() throws {
        let h = ScriptHarness("""
        route {
            if (check_blacklist_rule("gw", "10.0.0.1", 5060, "udp")) xlog("hit1\\n");
            if (!check_blacklist_rule("gw", "10.0.0.2")) xlog("miss2\\n");
            add_blacklist_rule("gw", "(any, 10.0.0.2, 0, '')", 60);
            add_blacklist_rule("gw", "(any, 10.0.0.3, 0, '')", 99999999999);
            $var(big) = 9223372036854775807;
            add_blacklist_rule("gw", "(any, 10.0.0.4, 0, '')", $var(big));
            if (check_blacklist("gw", "10.0.0.4")) xlog("hitbig\n");
            if (check_blacklist("gw", "10.0.0.2")) xlog("hit3\\n");
            if (del_blacklist_rule("gw", "(any, 10.0.0.2, 0, '')")) xlog("del4\\n");
            if (!del_blacklist_rule("gw", "(any, 10.0.0.2, 0, '')")) xlog("gone5\\n");
            use_blacklist("gw");
            unuse_blacklist("all");
            xlog("done\\n");
        }
        """, setup: { e in e.blacklists.define(name: "gw", rules: try! BlacklistParser.list("gw:{ (udp, 10.0.0.1, 5060, '') }").rules) })
        h.run()
        let out = h.collector.all.joined(separator: "\n")
        for word in ["hit1", "miss2", "hit3", "hitbig", "del4", "gone5", "done"] { XCTAssertTrue(out.contains(word), "\(word) missing in\n\(out)") }
        XCTAssertEqual(h.ctx.message.blacklistMask, 0)
    }

    /// A bad rule, and a literal unknown list in use_blacklist, stop startup at the place written.
    func testStartupErrorsPointAtTheText() throws {
        let bad = writeTemp("""
        socket = udp:127.0.0.1:\(LocalPorts.freePorts(1)[0])
        dst_blacklist = "gw:{ (udp, 10.0.0.1, 5060, ''), (udp, 10.0.0.300, 0, '') }"
        route { use_blacklist("missing"); }
        """)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        let (status, out) = try BinaryRunner.run(["-c", "-f", bad])
        XCTAssertNotEqual(status, 0, out)
        XCTAssertTrue(out.contains("\(bad):2:56:"), out)
        XCTAssertTrue(out.contains("bad dst_blacklist: bad IP or network '10.0.0.300'"), out)
        XCTAssertTrue(out.contains("blacklist 'missing' is not defined"), out)
    }

    /// The MI commands on a running server: the lists (the learned `dns` one too when disable_dns_blacklist = 0),
    /// checks, and rules added and removed.
    func testMICommands() throws {
        let h = try InProcessServer("""
        dst_blacklist = "gw:{ (udp, 10.0.0.1, 5060, 'INV*'), !(any, 192.168.0.0/16, 0, '') }"
        disable_dns_blacklist = 0
        """)
        defer { h.stop() }
        func mi(_ method: String, _ params: String = "{}") -> String {
            h.server.mi.handle(#"{"jsonrpc":"2.0","method":"\#(method)","params":\#(params),"id":1}"#) ?? ""
        }
        let listed = mi("list_blacklists")
        XCTAssertTrue(listed.contains(#""name":"gw","owner":0,"flags":0,"Rules":[{"flags":0,"IP":"10.0.0.1","Mask":"255.255.255.255","Proto":1,"Port":5060,"Match":"INV*"}"#), listed)
        XCTAssertTrue(listed.contains(#""name":"dns","owner":1,"flags":6,"Rules":[]"#), listed)
        XCTAssertTrue(mi("check_blacklists", #"{"proto":"udp","ip":"10.0.0.1","port":5060,"pattern":"INVITE sip:x"}"#).contains(#""result":["gw"]"#))
        XCTAssertTrue(mi("check_blacklist", #"{"name":"gw","ip":"192.168.1.1","port":5060,"proto":"udp","pattern":"BYE"}"#).contains(#""result":"no""#))
        // Outside 192.168/16 the negated rule blocks anything.
        XCTAssertTrue(mi("check_blacklist", #"{"name":"gw","ip":"172.16.0.1"}"#).contains(#""result":"yes""#))
        XCTAssertTrue(mi("add_blacklist_rule", #"{"name":"dns","rule":"(tcp, 10.9.9.9, 0, '')","expire":30}"#).contains(#""result":"OK""#))
        let dns = mi("list_blacklists", #"{"name":"dns"}"#)
        XCTAssertTrue(dns.contains(#""IP":"10.9.9.9""#) && dns.contains(#""Expire":"#), dns)
        XCTAssertTrue(mi("check_blacklists", #"{"proto":"tcp","ip":"10.9.9.9"}"#).contains(#""dns""#))
        XCTAssertTrue(mi("del_blacklist_rule", #"{"name":"dns","rule":"(tcp, 10.9.9.9, 0, '')"}"#).contains(#""result":"OK""#))
        XCTAssertTrue(mi("del_blacklist_rule", #"{"name":"dns","rule":"(tcp, 10.9.9.9, 0, '')"}"#).contains("Rule not found"))
        XCTAssertTrue(mi("list_blacklists", #"{"name":"nope"}"#).contains("not found"))
        // An expiry past the clock's range is kept (saturated), not a trap.
        XCTAssertTrue(mi("add_blacklist_rule", #"{"name":"gw","rule":"(tcp, 10.8.8.8, 0, '')","expire":99999999999}"#).contains(#""result":"OK""#))
        XCTAssertTrue(mi("add_blacklist_rule", #"{"name":"gw","rule":"(tcp, 10.8.8.9, 0, '')","expire":9223372036854775807}"#).contains(#""result":"OK""#))
        XCTAssertTrue(mi("check_blacklist", #"{"name":"gw","proto":"tcp","ip":"10.8.8.9"}"#).contains(#""result":"yes""#))
        XCTAssertTrue(mi("list_blacklists", #"{"name":"gw"}"#).contains(#""IP":"10.8.8.8""#))
        XCTAssertTrue(mi("add_blacklist_rule", #"{"name":"gw","rule":"(udp, nonsense, 0, '')"}"#).contains("Bad rule"))
    }

    /// A bounded list (the learned `dns` one) drops its oldest rule; an expired rule is purged by the check that
    /// meets it, after which the list counts as empty again (no lock taken for it on sends).
    func testBoundedListAndPurgeOnCheck() throws {
        let lists = Blacklists()
        lists.define(name: "dns", rules: [], byDefault: true, owner: 1, limit: 3)
        lists.seal()
        XCTAssertEqual(lists.index(of: "dns"), 0)
        XCTAssertNil(lists.index(of: "other"))
        XCTAssertNotNil(lists.define(name: "late", rules: []), "no list after startup")
        XCTAssertEqual(lists.withRules(lists.defaultMask), 0)
        for n in 1...5 { XCTAssertTrue(lists.add(list: "dns", rule: try BlacklistParser.rule("(udp, 10.0.0.\(n), 0, '')"), expire: 0)) }
        XCTAssertEqual(lists.all[0].rules.map(\.network.ipText), ["10.0.0.3", "10.0.0.4", "10.0.0.5"])
        // Learned again, a rule becomes the newest: the next one added drops 10.0.0.4, not it.
        XCTAssertTrue(lists.add(list: "dns", rule: try BlacklistParser.rule("(udp, 10.0.0.3, 0, '')"), expire: 0))
        XCTAssertTrue(lists.add(list: "dns", rule: try BlacklistParser.rule("(udp, 10.0.0.6, 0, '')"), expire: 0))
        XCTAssertEqual(lists.all[0].rules.map(\.network.ipText), ["10.0.0.5", "10.0.0.3", "10.0.0.6"])
        XCTAssertEqual(lists.delete(list: "dns", rule: try BlacklistParser.rule("(udp, 10.0.0.6, 0, '')")), true)
        XCTAssertTrue(lists.add(list: "dns", rule: try BlacklistParser.rule("(udp, 10.0.0.4, 0, '')"), expire: 0))
        for n in 3...5 { XCTAssertEqual(lists.delete(list: "dns", rule: try BlacklistParser.rule("(udp, 10.0.0.\(n), 0, '')")), true) }
        XCTAssertEqual(lists.withRules(lists.defaultMask), 0)
        XCTAssertTrue(lists.add(list: "dns", rule: try BlacklistParser.rule("(udp, 10.0.0.9, 0, '')"), expire: 1))
        XCTAssertEqual(lists.withRules(lists.defaultMask), 1)
        XCTAssertTrue(waitUntil(timeout: 10) { lists.check(list: "dns", ip: IPBytes("10.0.0.9")!, port: 5060, proto: "udp", text: "") == false })
        XCTAssertEqual(lists.withRules(lists.defaultMask), 0, "the expired rule was purged by the check")
    }

    /// A send's destination is matched from its socket address (IPv4 and IPv6), as from its text.
    func testSocketAddressMatchesLikeItsText() throws {
        let lists = Blacklists()
        lists.define(name: "a", rules: try BlacklistParser.list("a:{ (udp, 10.1.0.0/16, 0, ''), (any, 2001:db8::/32, 5060, '') }").rules)
        for (ip, port, hit) in [("10.1.2.3", 5060, true), ("10.2.0.1", 5060, false), ("2001:db8::7", 5060, true),
                                ("2001:db8::7", 5061, false), ("2001:db9::7", 5060, false)] {
            let sa = try XCTUnwrap(SocketAddress(ip: ip, port: port))
            let fromSockaddr = try XCTUnwrap(IPBytes(sa))
            XCTAssertEqual(fromSockaddr, IPBytes(ip), ip)
            XCTAssertEqual(lists.blocks(mask: 1, ip: fromSockaddr, port: port, proto: "udp", text: { "" }) != nil, hit, ip)
        }
    }

    /// A script list named `dns` while the core learns into its own `dns` list stops startup at its line.
    func testScriptListNamedDNSIsRefusedWhileLearning() throws {
        let cfg = writeTemp("""
        disable_dns_blacklist = 0
        dst_blacklist = "dns:{ (udp, 10.0.0.1, 5060, '') }"
        route { exit; }
        """)
        defer { try? FileManager.default.removeItem(atPath: cfg) }
        let (status, out) = try BinaryRunner.run(["-c", "-f", cfg])
        XCTAssertNotEqual(status, 0, out)
        XCTAssertTrue(out.contains("\(cfg):2:1:"), out)
        XCTAssertTrue(out.contains("blacklist 'dns' is the core's learned DNS list"), out)
        let off = writeTemp("""
        dst_blacklist = "dns:{ (udp, 10.0.0.1, 5060, '') }"
        route { exit; }
        """)
        defer { try? FileManager.default.removeItem(atPath: off) }
        let (ok, out2) = try BinaryRunner.run(["-c", "-f", off])
        XCTAssertEqual(ok, 0, "with disable_dns_blacklist = 1 (the default) the name is free\n\(out2)")
    }

    /// With disable_dns_blacklist = 1 all 32 lists are the script's; with 0, one goes to `dns`.
    func testThirtyTwoListsWhenTheCoreDoesNotLearn() throws {
        let lines = (0..<32).map { "dst_blacklist = \"l\($0):{ (udp, 10.0.0.1, 0, '') }\"" }.joined(separator: "\n")
        let free = writeTemp("\(lines)\nroute { exit; }\n")
        defer { try? FileManager.default.removeItem(atPath: free) }
        let (ok, out) = try BinaryRunner.run(["-c", "-f", free])
        XCTAssertEqual(ok, 0, out)
        let learning = writeTemp("disable_dns_blacklist = 0\n\(lines)\nroute { exit; }\n")
        defer { try? FileManager.default.removeItem(atPath: learning) }
        let (bad, out2) = try BinaryRunner.run(["-c", "-f", learning])
        XCTAssertNotEqual(bad, 0, out2)
        XCTAssertTrue(out2.contains("\(learning):33:1:") && out2.contains("too many blacklists"), out2)
    }

    /// A destination name is resolved once per message: the list kept with the message (and tm's saved copies of it)
    /// is what later address numbers index, whatever the resolver answers meanwhile.
    func testANameIsResolvedOncePerMessage() throws {
        let h = ScriptHarness("route { exit; }")
        let sip = SIPCore(engine: h.engine, log: CoreLog(level: LogLevels.error, xlogLevel: LogLevels.error, sink: .collector(h.collector)))
        let kept = [try XCTUnwrap(SocketAddress(ip: "192.0.2.7", port: 5060)), try XCTUnwrap(SocketAddress(ip: "192.0.2.8", port: 5060))]
        func target(_ host: String) -> SIPTarget {
            SIPTarget(host: host, port: 5060, proto: "udp", portGiven: true, protoGiven: false, secure: false)
        }
        h.ctx.message.resolvedName = ResolvedName(target: target("gw.invalid"), proto: nil, addresses: kept, protos: nil)
        XCTAssertEqual(Array(sip.destinations(h.ctx, target("gw.invalid"))), kept)
        h.ctx.message.resolvedName = nil
        let local = Array(sip.destinations(h.ctx, target("localhost")))
        XCTAssertFalse(local.isEmpty)
        XCTAssertEqual(h.ctx.message.resolvedName?.target.host, "localhost")
        XCTAssertEqual(h.ctx.message.resolvedName?.addresses, local)
        XCTAssertEqual(sip.destinations(h.ctx, target("127.0.0.1")).count, 1, "an IP literal is not kept")
        XCTAssertEqual(h.ctx.message.resolvedName?.target.host, "localhost")
    }
}
