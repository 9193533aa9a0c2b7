import Foundation
import XCTest
import SwitchyardTestSupport

/// `-o name=value` (repeatable) gives `$argv(name)`, as OpenSIPS's option: a name not given, or given with an empty
/// value, reads as null; an option without '=' or without a name is reported and skipped; a repeated name keeps its
/// first value.
final class ScriptOptionsTests: XCTestCase {
    func testArgvReadsTheCommandLineOptions() throws {
        let cfg = writeTemp("""
        log_level = 3
        startup_route {
            xlog("argv who=$argv(who) empty=[$argv(empty)] eq=$argv(eq) none=$argv(none) route=$route\\n");
        }
        """)
        let r = BinaryRunner(args: ["-f", cfg, "-o", "who=world", "-o", "empty=", "-o", "eq=a=b", "-o", "who=again",
                                    "-o", "novalue", "-o", "=x"])
        try r.start()
        XCTAssertTrue(r.waitFor("argv who=world empty=[<null>] eq=a=b none=<null> route=startup_route"), r.output)
        XCTAssertTrue(r.waitForReady(), r.output)
        r.process.terminate()
        XCTAssertEqual(r.wait(), 0, r.output)
        XCTAssertTrue(r.output.contains("-o novalue: invalid option format - '=' char cannot be found"), r.output)
        XCTAssertTrue(r.output.contains("-o =x: no option name specified"), r.output)
        XCTAssertTrue(r.output.contains("ERROR: duplicate option name who"), r.output)
        XCTAssertTrue(r.output.contains("ERROR: cannot add option who=again"), r.output)
    }
}
