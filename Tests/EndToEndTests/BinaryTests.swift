import Foundation
import XCTest
import SwitchyardABI
import SwitchyardTestSupport

/// The real `switchyard` binary: startup_route, timer_route, event_route fed by raise_event,
/// config errors, -c, --syntax-only, -V, clean shutdown on SIGTERM.
final class BinaryTests: XCTestCase {
    func testStartupTimerAndEventRoutes() throws {
        let cfg = writeTemp("""
        log_level = 3
        udp_workers = 2
        startup_route {
            $var(boot) = "yes";
            xlog("startup ran");
            raise_event("E_HELLO");
        }
        timer_route[tick, 1] {
            $var(n) = $var(n) + 1;
            xlog("tick $var(n)");
            $avp(name) = "count"; $avp(val) = $var(n);
            raise_event("E_TICK", $avp(name), $avp(val));
        }
        event_route[E_HELLO] { xlog("hello event"); }
        event_route[E_TICK] { xlog("tick event count=$param(count)"); }
        """)
        let r = BinaryRunner(args: ["-f", cfg])
        try r.start()
        XCTAssertTrue(r.waitFor("startup ran"), r.output)
        XCTAssertTrue(r.waitFor("hello event"), r.output)
        XCTAssertTrue(r.waitForReady(), r.output)
        XCTAssertTrue(r.waitFor("tick event count=2", timeout: 5), r.output)
        r.process.terminate()  // SIGTERM: clean shutdown
        XCTAssertEqual(r.wait(), 0, r.output)
        XCTAssertTrue(r.output.contains("shutting down"), r.output)
        let startup = r.lines.firstIndex { $0.hasSuffix("startup ran") }
        let firstTick = r.lines.firstIndex { $0.hasSuffix("tick 1") }
        XCTAssertNotNil(startup)
        XCTAssertNotNil(firstTick)
        if let s = startup, let t = firstTick { XCTAssertLessThan(s, t, "startup_route runs before timers") }
    }

    func testConfigErrorsAllReportedWithLocation() throws {
        let cfg = writeTemp("""
        log_level = 3
        bogus_global = 1
        route {
            unknown_fn();
            $var(x) = $nosuchpv;
        }
        """)
        let (status, out) = try BinaryRunner.run(["-f", cfg])
        XCTAssertEqual(status, 1)
        XCTAssertTrue(out.contains("\(cfg):2:1: error: unknown global parameter 'bogus_global'"), out)
        XCTAssertTrue(out.contains("\(cfg):4:5: error: unknown function 'unknown_fn'"), out)
        XCTAssertTrue(out.contains("\(cfg):5:15: error: unknown pseudo-variable $nosuchpv"), out)
        XCTAssertTrue(out.contains("    unknown_fn();\n        ^"), "caret under the column:\n\(out)")
    }

    func testCheckOnly() throws {
        let good = writeTemp("route { xlog(\"x\"); }\n")
        let (s1, o1) = try BinaryRunner.run(["-c", "-f", good])
        XCTAssertEqual(s1, 0, o1)
        XCTAssertTrue(o1.contains("config file ok"), o1)
        let bad = writeTemp("route { xlog(\"x\") \n")
        let (s2, _) = try BinaryRunner.run(["-c", "-f", bad])
        XCTAssertEqual(s2, 1)
    }

    /// `-c` refuses the fs_subscribe URL startup would refuse, and the quoted config line hides the URL's password.
    func testCheckOnlyValidatesSubscribeURLsAndMasksPasswords() throws {
        let secret = "Sup3rS3cret"
        func config(_ url: String) -> String {
            """
            loadmodule "json.so"
            loadmodule "freeswitch.so"
            loadmodule "freeswitch_scripting.so"
            modparam("freeswitch_scripting", "fs_subscribe", "\(url)")
            event_route[E_FREESWITCH] { xlog("ev"); }
            """
        }
        let bad = writeTemp(config("fs://:\(secret)@127.0.0.1:99999?DTMF"))
        let (status, out) = try BinaryRunner.run(["-c", "-f", bad])
        XCTAssertEqual(status, 1, out)
        XCTAssertTrue(out.contains("bad port '99999'"), out)
        XCTAssertTrue(out.contains("fs://:***@127.0.0.1:99999?DTMF"), "the line is quoted, masked:\n\(out)")
        XCTAssertFalse(out.contains(secret), out)
        let good = writeTemp(config("fs://:\(secret)@127.0.0.1:8021?DTMF"))
        let (s2, o2) = try BinaryRunner.run(["-c", "-f", good])
        XCTAssertEqual(s2, 0, o2)
    }

    func testSyntaxOnlyListsUnsupported() throws {
        let cfg = writeTemp("""
        tcp_workers = 4
        loadmodule "no_such_module.so"
        failure_route[missed] { exit; }
        route { async(t_relay(), resume); }
        """)
        let (status, out) = try BinaryRunner.run(["--syntax-only", "-f", cfg])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains(":1:1: unsupported: global 'tcp_workers'"), out)
        XCTAssertTrue(out.contains(":2:1: unsupported: module 'no_such_module'"), out)
        XCTAssertTrue(out.contains(":3:1: unsupported: failure_route is parsed and checked but never triggered (tm.so is not loaded)"), out)
        XCTAssertTrue(out.contains("unsupported: async() is not implemented"), out)
    }

    func testSyntaxOnlyAcceptsTransactionRoutesWithTM() throws {
        let cfg = writeTemp("""
        loadmodule "tm.so"
        failure_route[missed] { exit; }
        branch_route[b] { exit; }
        local_route { exit; }
        route { t_on_failure("missed"); t_on_branch("b"); t_relay(); }
        """)
        let (status, out) = try BinaryRunner.run(["--syntax-only", "-f", cfg])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("syntax ok: every construct is supported"), out)
    }

    func testSyntaxOnlyAcceptsErrorRouteAndAsserts() throws {
        let cfg = writeTemp("""
        enable_asserts = yes
        abort_on_assert = no
        error_route { exit; }
        route { assert($var(x) == 1, "x is one"); exit; }
        """)
        let (status, out) = try BinaryRunner.run(["--syntax-only", "-f", cfg])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("syntax ok: every construct is supported"), out)
    }

    func testVersion() throws {
        let (status, out) = try BinaryRunner.run(["-V"])
        XCTAssertEqual(status, 0)
        XCTAssertTrue(out.contains("version: switchyard"), out)
        XCTAssertTrue(out.contains("abi: \(SY_ABI_MAJOR).\(SY_ABI_MINOR)"), out)
    }
}
