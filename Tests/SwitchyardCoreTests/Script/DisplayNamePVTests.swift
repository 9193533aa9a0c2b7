import XCTest
import SwitchyardSIP
@testable import SwitchyardCore

/// `$fn`/`$tn` return the display name as OpenSIPS's parse_to stores it: a quoted name keeps its quotes (and its
/// escapes), `""` is a two-byte value and not null, an unquoted name is its tokens, no name is null. They agree
/// with `{nameaddr.name}` on the same header.
final class DisplayNamePVTests: XCTestCase {
    static func request(from: String, to: String) -> [UInt8] {
        Array("""
        OPTIONS sip:b@x SIP/2.0\r
        Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1\r
        From: \(from)\r
        To: \(to)\r
        Call-ID: dn@test\r
        CSeq: 1 OPTIONS\r
        Content-Length: 0\r
        \r

        """.utf8)
    }

    static func register(_ engine: ScriptEngine) throws {
        let msgs: [(String, [UInt8])] = [
            ("quoted", request(from: "\"Alice\" <sip:a@x>;tag=1", to: "\"\" <sip:b@x>")),
            ("escaped", request(from: "\"A \\\"q\\\" B\"<sip:a@x>;tag=1", to: "Bob  Smith <sip:b@x>")),
            ("none", request(from: "<sip:a@x>;tag=1", to: "sip:b@x")),
        ]
        for (name, raw) in msgs {
            let msg = try SIPMessage.parse(raw)
            try engine.register(pvContext: PVContext(name: name, module: "test", source: .native { _ in
                ScriptMessage(sip: msg, origin: nil)
            }))
        }
    }

    func testDisplayNamesKeepTheirQuotes() {
        let h = ScriptHarness("""
        route {
            xlog("fn=[$(<quoted>fn)] tn=[$(<quoted>tn)] na=[$(<quoted>hdr(From){nameaddr.name})] len=$(<quoted>tn{s.len})\\n");
            xlog("fn=[$(<escaped>fn)] tn=[$(<escaped>tn)]\\n");
            xlog("fn=[$(<none>fn)] tn=[$(<none>tn)]\\n");
        }
        """, setup: Self.register)
        h.run()
        XCTAssertEqual(h.output, [
            "fn=[\"Alice\"] tn=[\"\"] na=[\"Alice\"] len=2",
            "fn=[\"A \\\"q\\\" B\"] tn=[Bob  Smith]",
            "fn=[<null>] tn=[<null>]",
        ])
    }
}
