import XCTest
@testable import SwitchyardCore

/// Script → observable result, including the cases of spec drouting_cache_json.md §7.5.
final class InterpreterTests: XCTestCase {
    func testRouteParamsByValue() {
        let h = ScriptHarness("""
        route { route(r, "abc", 5); }
        route[r] { xlog("$param(1) $param(2) $param(3)"); $var(t) = $param(2) + 1; }
        """)
        h.run()
        XCTAssertEqual(h.output, ["abc 5 <null>"])
        XCTAssertEqual(h.v("$var(t)"), .int(6), "$param(2) is an int")
    }

    func testNegativeReturnIsFalse() {
        let h = ScriptHarness("""
        route { if (route(r)) xlog("A"); else xlog("B"); }
        route[r] { return(-1); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["B"])
    }

    func testReturnZeroEndsWholeScript() {
        let h = ScriptHarness("""
        route { route(r); xlog("after"); }
        route[r] { return(0); }
        """)
        XCTAssertEqual(h.run(), 0)
        XCTAssertEqual(h.output, [])
    }

    func testSwitchStringCaseInsensitive() {
        let h = ScriptHarness("""
        route { $var(s)="ABC"; switch($var(s)) { case "abc": xlog("hit"); break; default: xlog("def"); } }
        """)
        h.run()
        XCTAssertEqual(h.output, ["hit"])
    }

    func testSwitchIntCaseNeedsIntValue() {
        let h = ScriptHarness("""
        route { $var(s)="1"; switch($var(s)) { case 1: xlog("one"); break; default: xlog("def"); } }
        """)
        h.run()
        XCTAssertEqual(h.output, ["def"])
    }

    func testSwitchFallThrough() {
        let h = ScriptHarness("""
        route { $var(i)=2; switch($var(i)) { case 2: xlog("a"); case 3: xlog("b"); break; default: xlog("c"); } }
        """)
        h.run()
        XCTAssertEqual(h.output, ["a", "b"])
    }

    func testSwitchFallsIntoDefault() {
        let h = ScriptHarness("""
        route { $var(i)=3; switch($var(i)) { case 3: xlog("x"); default: xlog("d"); } }
        """)
        h.run()
        XCTAssertEqual(h.output, ["x", "d"])
    }

    func testAVPStack() {
        let h = ScriptHarness("""
        route { $avp(x)=1; $avp(x)=2; xlog("$avp(x) $(avp(x)[1])"); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["2 1"])
    }

    func testAVPReplaceAndDelete() {
        let h = ScriptHarness("""
        route {
            $avp(x)=1; $avp(x)=2; $avp(x)=3;
            $avp(x) = NULL; xlog("pop:$avp(x)");
            $avp(x) := 9; xlog("replace:$avp(x) $(avp(x)[1])");
            $avp(x) := NULL; xlog("all:$avp(x)");
        }
        """)
        h.run()
        XCTAssertEqual(h.output, ["pop:2", "replace:9 <null>", "all:<null>"])
    }

    func testVarPersistsAcrossRunsOnAWorker() {
        let h = ScriptHarness("route { $var(n) = $var(n) + 1; $avp(a) = $var(n); xlog(\"$(avp(a)[1])\"); }")
        h.run(); h.run(); h.run()
        XCTAssertEqual(h.v("$var(n)"), .int(3))
        XCTAssertEqual(h.output, ["<null>", "<null>", "<null>"], "AVPs are per message")
    }

    func testArithmeticPrecedenceIsOpenSIPS() {
        let h = ScriptHarness("""
        route { $var(a) = 1 + 2 * 3; $var(b) = 1 + 2 | 4; $var(c) = 2 | 1 + 4; $var(d) = 7 / 0; $var(e) = 10 % 4 - 1; }
        """)
        h.run()
        XCTAssertEqual(h.v("$var(a)"), .int(9), "+ - * / % share one level, left to right")
        XCTAssertEqual(h.v("$var(b)"), .int(7), "bitwise binds weaker than arithmetic")
        XCTAssertEqual(h.v("$var(c)"), .int(7))
        XCTAssertEqual(h.v("$var(d)"), .int(0), "division by zero yields 0")
        XCTAssertEqual(h.v("$var(e)"), .int(1))
    }

    func testAndOrSamePrecedenceLeftAssociative() {
        // a || b && c  is  (a || b) && c: with a=1, b=0, c=0 that is false (C would say true).
        let h = ScriptHarness("""
        route { $var(a)=1; $var(b)=0; $var(c)=0;
          if ($var(a) || $var(b) && $var(c)) xlog("true"); else xlog("false"); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["false"])
    }

    func testStringComparisonsCaseInsensitive() {
        let h = ScriptHarness("""
        route { $var(s) = "Hello";
          if ($var(s) == "hello") xlog("eq");
          if ($var(s) =~ "^HEL") xlog("re");
          if ($var(s) !~ "xyz") xlog("nre");
          if ($var(s) < "hellp") xlog("lt");
          if ($var(s) < "hello world") xlog("prefix");
        }
        """)
        h.run()
        XCTAssertEqual(h.output, ["eq", "re", "nre", "lt", "prefix"])
    }

    func testStringVarHasNoIntForm() {
        let h = ScriptHarness("""
        route { $var(x) = "5"; if ($var(x) == 5) xlog("int-eq"); else xlog("no");
                $var(y) = 5; if ($var(y) == "5") xlog("str-eq"); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["no", "str-eq"])
    }

    func testTruthiness() {
        let h = ScriptHarness("""
        route {
          if ($var(unset)) xlog("null-true"); else xlog("null-false");
          $var(z) = 0; if ($var(z)) xlog("zero-true"); else xlog("zero-false");
          $var(s) = "0"; if ($var(s)) xlog("str0-true");
          $var(e) = ""; if ($var(e)) xlog("empty-true"); else xlog("empty-false");
          if ([1 + 1]) xlog("test-op");
          if ($var(unset) == NULL) xlog("is-null");
        }
        """)
        h.run()
        XCTAssertEqual(h.output, ["null-false", "zero-false", "str0-true", "empty-false", "test-op", "is-null"])
    }

    func testAssignmentNotInterpolatedButArgumentsAre() {
        let h = ScriptHarness("""
        route { $var(u) = "bob"; $var(a) = "x$var(u)"; xlog("$var(a) / x$var(u) / $$var"); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["x$var(u) / xbob / $var"])
    }

    func testStringConcatenationAndCompound() {
        let h = ScriptHarness("""
        route { $var(s) = "a" + "b"; $var(s) += "c"; $var(n) = 5; $var(n) -= 2; $var(n) *= 4; $var(bad) = "a" + 1; }
        """)
        h.run()
        XCTAssertEqual(h.v("$var(s)"), .str("abc"))
        XCTAssertEqual(h.v("$var(n)"), .int(12))
        XCTAssertEqual(h.v("$var(bad)"), .null, "string + int is an error: no assignment")
    }

    func testWhileLoopAndBreak() {
        let h = ScriptHarness("""
        route { $var(i) = 0; while ($var(i) < 10) { $var(i) = $var(i) + 1; if ($var(i) == 4) break; } xlog("i=$var(i)"); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["i=4"])
    }

    func testWhileCappedByMaxLoops() {
        let h = ScriptHarness("route { $var(n) = 0; while ([1]) { $var(n) = $var(n) + 1; } }")
        h.engine.maxWhileLoops = 50
        h.run()
        XCTAssertEqual(h.v("$var(n)"), .int(50))
        XCTAssertTrue(h.logs.contains { $0.contains("max_while_loops") })
    }

    func testForEachOverAVP() {
        let h = ScriptHarness("""
        route { $avp(l) = "a"; $avp(l) = "b"; $avp(l) = "c"; $var(out) = "";
          for ($var(it) in $(avp(l)[*])) { $var(out) = $var(out) + $var(it); } xlog("$var(out)"); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["cba"])
    }

    func testRcAndRetcode() {
        let h = ScriptHarness("""
        route { route(neg); xlog("rc=$rc"); route(pos); xlog("retcode=$retcode"); }
        route[neg] { return(-3); }
        route[pos] { return(7); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["rc=-3", "retcode=7"])
    }

    func testRouteWithoutReturnYieldsLastStatement() {
        let h = ScriptHarness("""
        route { if (route(r)) xlog("yes"); else xlog("no"); }
        route[r] { $var(x) = 1; route(f); }
        route[f] { return(-2); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["no"])
    }

    func testReturnValuesAndDefaultCode() {
        let h = ScriptHarness("""
        route { route(r); xlog("$rc $return(0) $return(1)"); }
        route[r] { return(, "v0", 5); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["1 v0 5"])
    }

    func testExitAndDrop() {
        let h = ScriptHarness("""
        route { xlog("one"); exit; xlog("two"); }
        route[d] { drop; xlog("never"); }
        """)
        XCTAssertEqual(h.run(), 0)
        XCTAssertEqual(h.output, ["one"])
        h.run("d")
        XCTAssertTrue(h.ctx.dropped)
    }

    func testFlags() {
        let h = ScriptHarness("""
        route { setflag("NAT"); if (isflagset("NAT")) xlog("set"); resetflag("NAT"); if (!isflagset("NAT")) xlog("reset"); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["set", "reset"])
    }

    func testRequestURIPVsOnDummyMessage() {
        let h = ScriptHarness("""
        route { $rU = "1000"; xlog("$rU|$ru"); $ru = "sip:alice@example.com:5070;transport=tcp"; $rU = "bob"; xlog("$rU $rd $rp $ru"); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["1000|sip:1000@dummy.com", "bob example.com 5070 sip:bob@example.com:5070;transport=tcp"])
    }

    func testTransformations() {
        let h = ScriptHarness("""
        route {
          $var(s) = "Hello,World,Foo";
          xlog("$(var(s){s.len}) $(var(s){s.select,1,,}) $(var(s){s.substr,0,5}) $(var(s){s.tolower}) $(var(s){s.index,World})");
          $var(n) = "42abc"; $var(i) = $(var(n){s.int}) + 1; xlog("$var(i)");
          $var(u) = "sip:bob@host.com:5080;transport=udp";
          xlog("$(var(u){uri.user}) $(var(u){uri.host}) $(var(u){uri.port}) $(var(u){uri.param,transport})");
          xlog("$(var(s){s.select,-1,,}{s.toupper})");
        }
        """)
        h.run()
        XCTAssertEqual(h.output, ["15 World Hello hello,world,foo 6", "43", "bob host.com 5080 udp", "FOO"])
    }

    func testEventParamsBothWays() {
        let h = ScriptHarness("""
        event_route[E_TEST] {
          xlog("3x: $param(name) $param(2)");
          fetch_event_params("name=$avp(n);$avp(second)");
          xlog("2.4: $avp(n) $avp(second)");
        }
        """)
        h.run(event: ("E_TEST", [(name: "name", value: .str("DTMF")), (name: "count", value: .int(3))]))
        XCTAssertEqual(h.output, ["3x: DTMF 3", "2.4: DTMF 3"])
    }

    func testRaiseEventPairsNamesAndValues() {
        let h = ScriptHarness("""
        route { $avp(n) = "a"; $avp(n) = "b"; $avp(v) = 1; $avp(v) = "two"; raise_event("E_MINE", $avp(n), $avp(v)); }
        """)
        h.run()
        XCTAssertEqual(h.events.count, 1)
        XCTAssertEqual(h.events[0].0, "E_MINE")
        XCTAssertEqual(h.events[0].1.map(\.name), ["a", "b"])
        XCTAssertEqual(h.events[0].1.map(\.value), [.int(1), .str("two")])
    }

    func testRecursionLimit() {
        let h = ScriptHarness("route { route(r); xlog(\"done $var(d)\"); } route[r] { $var(d) = $var(d) + 1; route(r); }")
        h.run()
        XCTAssertEqual(h.v("$var(d)"), .int(100))
        XCTAssertTrue(h.logs.contains { $0.contains("too many nested routes") })
    }

    func testDynamicRouteName() {
        let h = ScriptHarness("""
        route { $var(n) = "b"; route($var(n)); route("a"); }
        route[a] { xlog("in a"); }
        route[b] { xlog("in b"); }
        """)
        h.run()
        XCTAssertEqual(h.output, ["in b", "in a"])
    }

    func testIfElseChainsAndNot() {
        let h = ScriptHarness("""
        route { $var(x) = 2;
          if ($var(x) == 1) xlog("one"); else if ($var(x) == 2) xlog("two"); else xlog("other");
          if (!($var(x) > 5) and $var(x) >= 2) xlog("range");
        }
        """)
        h.run()
        XCTAssertEqual(h.output, ["two", "range"])
    }

    func testXlogLevelsFilter() {
        let h = ScriptHarness("route { xlog(\"L_DBG\", \"dbg\"); xlog(\"L_ERR\", \"err\"); }")
        h.engine.log.xlogLevel = LogLevels.notice
        h.run()
        XCTAssertEqual(h.output, ["err"])
    }

    func testTimeAndPidVariables() {
        let h = ScriptHarness("route { $var(t) = $Ts; $var(p) = $pid; }")
        h.run()
        let now = Int(Date().timeIntervalSince1970)
        XCTAssertLessThanOrEqual(abs((h.v("$var(t)").intForm ?? 0) - now), 2)
        XCTAssertEqual(h.v("$var(p)"), .int(Int(getpid())))
    }
}

/// Core functions with ordinary fixups, and integer semantics.
final class CoreFunctionTests: XCTestCase {
    func testRequestURIEditing() {
        let h = ScriptHarness("""
        route {
            seturi("sip:0040721@gw.example.com:5080;transport=udp");
            strip(2); prefix("+"); xlog("$ru");
            strip_tail(1); sethost("10.0.0.1"); setport("5062"); xlog("$ru");
            setuser("bob"); sethostport("h.example.net:5070"); xlog("$rU@$rd:$rp");
            if (!isdsturiset()) xlog("no dst");
            setdsturi("sip:proxy.example.com"); if (isdsturiset()) xlog("dst $du");
            resetdsturi(); xlog("dst=$du");
            pv_printf($var(p), "user=$rU"); xlog("$var(p)");
        }
        """)
        h.run()
        XCTAssertEqual(h.output, [
            "sip:+40721@gw.example.com:5080;transport=udp",
            "sip:+4072@10.0.0.1:5062;transport=udp",
            "bob@h.example.net:5070",
            "no dst", "dst sip:proxy.example.com", "dst=<null>", "user=bob",
        ])
    }

    func testDummyRequestURIOutsideSIP() {
        // Like OpenSIPS's dummy request: sip:user@dummy.com.
        let h = ScriptHarness("route { xlog(\"$ru $rU $rd\"); if (strip(1)) xlog(\"$ru\"); }")
        h.run()
        XCTAssertEqual(h.output, ["sip:user@dummy.com user dummy.com", "sip:ser@dummy.com"])
    }

    func testIntegersWrapAt32Bits() {
        let h = ScriptHarness("route { $var(a) = 2147483647 + 1; $var(b) = 65536 * 65536; $var(c) = -7 / 2; $var(d) = -7 % 3; }")
        h.run()
        XCTAssertEqual(h.v("$var(a)"), .int(-2147483648))
        XCTAssertEqual(h.v("$var(b)"), .int(0))
        XCTAssertEqual(h.v("$var(c)"), .int(-3))
        XCTAssertEqual(h.v("$var(d)"), .int(-1))
    }

    func testLogLevelVariables() {
        let h = ScriptHarness("route { $log_level = 1; $xlog_level = 3; xlog(\"L_INFO\", \"$log_level $xlog_level\"); }")
        h.run()
        XCTAssertEqual(h.output, ["1 3"])
        XCTAssertEqual(h.engine.log.level, 1)
    }

    func testDigestTransformations() {
        let h = ScriptHarness("""
        route { $var(s) = "abc"; $var(e) = "";
          xlog("$(var(s){s.md5}) $(var(e){s.md5})");
          xlog("$(var(s){s.sha1})");
          xlog("$(var(s){s.sha256})");
          xlog("$(var(s){s.crc32})");
        }
        """)
        h.run()
        XCTAssertEqual(h.output, [
            "900150983cd24fb0d6963f7d28e17f72 d41d8cd98f00b204e9800998ecf8427e",
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "352441c2",
        ])
    }
}
