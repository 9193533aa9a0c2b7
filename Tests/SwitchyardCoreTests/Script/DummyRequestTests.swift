import XCTest
@testable import SwitchyardCore

/// OpenSIPS's dummy request is made only for the routes that run on it: asking whether a context is on it ($si, $sp
/// read in a failure route) parses nothing.
final class DummyRequestTests: XCTestCase {
    func testOnlyDummyRoutesParseIt() {
        let h = ScriptHarness("route { exit; }")
        let failure = h.engine.makeContext(worker: h.worker, routeType: .failure)
        XCTAssertFalse(failure.onDummyRequest)
        XCTAssertFalse(failure.dummyParsed)
        let startup = h.engine.makeContext(worker: h.worker, routeType: .startup)
        XCTAssertTrue(startup.onDummyRequest)
        XCTAssertEqual(startup.message.sip?.callID, "dummy-1")
    }
}
