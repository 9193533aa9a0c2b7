import XCTest
@testable import SwitchyardSIP

/// Header names are recognised in any case, by full and compact name; near misses of the same length are not.
final class HeaderKindTests: XCTestCase {
    func testEveryNameInAnyCase() {
        let names: [(String, HeaderKind)] = [
            ("To", .to), ("Via", .via), ("From", .from), ("CSeq", .cseq), ("Route", .route), ("Event", .event),
            ("Server", .server), ("Call-ID", .callID), ("Contact", .contact), ("Expires", .expires),
            ("Require", .require), ("Subject", .subject), ("Supported", .supported), ("User-Agent", .userAgent),
            ("Content-Type", .contentType), ("Max-Forwards", .maxForwards), ("Record-Route", .recordRoute),
            ("Content-Length", .contentLength), ("v", .via), ("F", .from), ("t", .to), ("i", .callID),
            ("l", .contentLength), ("c", .contentType), ("m", .contact), ("k", .supported), ("s", .subject),
            ("o", .event)]
        for (name, kind) in names {
            XCTAssertEqual(HeaderKind.named(name), kind, name)
            XCTAssertEqual(HeaderKind.named(name.uppercased()), kind, name.uppercased())
            XCTAssertEqual(HeaderKind.named(name.lowercased()), kind, name.lowercased())
        }
        for other in ["", "x", "Tx", "Vib", "Fron", "Routes", "Call_ID", "Contacts", "Supportex", "User-Agenx",
                      "Content-Typf", "Max-Forward", "Content-Lengtj", "Record-Routd", "X-Custom-Header-Name", "Allow"] {
            XCTAssertEqual(HeaderKind.named(other), .other, other)
        }
    }
}
