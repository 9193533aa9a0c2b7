import XCTest
@testable import SwitchyardCore

/// Startup checks OpenSIPS's tr_parse_string makes on `{s.fill.*}` and `{s.width}` parameters, so a variable can
/// never ask for an unbounded buffer at run time.
final class TransformLimitTests: XCTestCase {
    func testFillLengthFromAVariableIsRefusedAtStartup() {
        let errs = diagnosticsOf("route { $var(n) = 5; xlog(\"$(var(s){s.fill.left,0,$var(n)})\"); }")
        XCTAssertTrue(errs.contains { $0.contains("fill transformation does not allow variables") }, "\(errs)")
    }

    func testFillPadFromAVariableIsRefusedAtStartup() {
        let errs = diagnosticsOf("route { xlog(\"$(var(s){s.fill.left,$var(p),5})\"); }")
        XCTAssertTrue(errs.contains { $0.contains("fill transformation does not allow variables") }, "\(errs)")
    }

    func testNegativeLiteralWidthIsRefusedAtStartup() {
        let errs = diagnosticsOf("route { xlog(\"$(var(s){s.width,-3})\"); }")
        XCTAssertTrue(errs.contains { $0.contains("width negative") }, "\(errs)")
    }

    func testHugeWidthFromAHeaderValueFailsInsteadOfAllocating() {
        let h = ScriptHarness("""
        route {
            $var(s) = "abc";
            $var(w) = "1099511627776";
            $var(n) = $(var(w){s.int});
            $var(big) = 1099511627776;
            xlog("[$(var(s){s.width,$var(n)})] [$(var(s){s.width,$var(big)})] [$(var(s){s.width,3})]\\n");
        }
        """)
        h.run()
        // 2^40 wraps to 0 as a C int (an invalid width), and the 64-bit variable is truncated the same way.
        XCTAssertEqual(h.output, ["[] [] [abc]"])
    }

    /// A bare `{2}` quantifier: OpenSIPS's parameter ends at the first unescaped '}', leaving `/^([0-9]{2` (no
    /// replacement part), which cannot be a substitution. The escaped form works (fixture 14).
    func testBareBraceQuantifierInReSubstIsRefused() {
        let errs = diagnosticsOf("route { xlog(\"$(var(r){re.subst,/^([0-9]{2})/x/})\"); }")
        XCTAssertTrue(errs.contains { $0.contains("re.subst: bad expression") }, "\(errs)")
    }
}
