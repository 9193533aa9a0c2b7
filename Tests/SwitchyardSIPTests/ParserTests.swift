import XCTest
@testable import SwitchyardSIP

/// Focused parser cases: compact names, folding, multi-value Via, quoted commas, framing by
/// Content-Length over UDP, replies, bare-LF tolerance, and malformed input.
final class ParserTests: XCTestCase {
    /// Builds a message from lines joined by `eol`, then the empty line, then the body.
    private func msg(_ lines: [String], body: String = "", eol: String = "\r\n") -> [UInt8] {
        Array((lines.joined(separator: eol) + eol + eol + body).utf8)
    }

    private func parse(_ b: [UInt8], file: StaticString = #filePath, line: UInt = #line) throws -> SIPMessage {
        do {
            return try SIPMessage.parse(b)
        } catch {
            XCTFail("parse threw: \(error.reason)\n\(String(decoding: b, as: UTF8.self))", file: file, line: line)
            throw error
        }
    }

    private func assertRejected(_ b: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SIPMessage.parse(b), what, file: file, line: line)
    }

    private let invite = [
        "INVITE sip:bob@example.com SIP/2.0",
        "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds",
        "Max-Forwards: 70",
        "To: Bob <sip:bob@example.com>",
        "From: Alice <sip:alice@example.com>;tag=1928301774",
        "Call-ID: a84b4c76e66710@pc33.example.com",
        "CSeq: 314159 INVITE",
    ]

    // MARK: basics

    func testSimpleRequest() throws {
        let m = try parse(msg(invite + ["Content-Length: 0"]))
        XCTAssertTrue(m.isRequest)
        XCTAssertEqual(m.method, "INVITE")
        XCTAssertEqual(m.requestURIText, "sip:bob@example.com")
        XCTAssertNil(m.statusCode)
        XCTAssertNil(m.reason)
        XCTAssertEqual(m.callID, "a84b4c76e66710@pc33.example.com")
        XCTAssertEqual(m.cseqNumber, 314159)
        XCTAssertEqual(m.cseqMethod, "INVITE")
        XCTAssertEqual(m.fromURI, "sip:alice@example.com")
        XCTAssertEqual(m.fromTag, "1928301774")
        XCTAssertEqual(m.toURI, "sip:bob@example.com")
        XCTAssertNil(m.toTag)
        let via = try XCTUnwrap(try m.topVia())
        XCTAssertEqual(via.transport, "UDP")
        XCTAssertEqual(via.host, "pc33.example.com")
        XCTAssertNil(via.port)
        XCTAssertEqual(via.branch, "z9hG4bK776asdhds")
        XCTAssertEqual(m.body, [])
    }

    func testHeaderNamesAreCaseInsensitive() throws {
        let m = try parse(msg(invite + ["X-Custom-Thing: 1", "content-LENGTH: 0"]))
        XCTAssertEqual(m.header("call-id"), m.header("CALL-ID"))
        XCTAssertEqual(m.header("x-custom-thing"), "1")
        XCTAssertEqual(m.header("X-CUSTOM-THING"), "1")
        XCTAssertEqual(m.header("Content-Length"), "0")
        XCTAssertNil(m.header("X-Absent"))
        XCTAssertEqual(m.headers("X-Absent"), [])
    }

    func testWhitespaceBeforeColonAndAroundValue() throws {
        // HCOLON = *( SP / HTAB ) ":" SWS
        let m = try parse(msg(invite + ["Subject \t:   hello world  \t", "Content-Length : 0"]))
        XCTAssertEqual(m.header("Subject"), "hello world")
        XCTAssertEqual(m.header("Content-Length"), "0")
    }

    // MARK: compact forms (RFC 3261 7.3.3, 20)

    func testCompactHeaderNames() throws {
        let b = msg([
            "OPTIONS sip:bob@example.com SIP/2.0",
            "v: SIP/2.0/UDP host.example.com;branch=z9hG4bKcompact",
            "f: <sip:alice@example.com>;tag=aaa",
            "t: <sip:bob@example.com>;tag=bbb",
            "i: compact-call-id@host",
            "CSeq: 7 OPTIONS",
            "m: <sip:alice@10.0.0.1>",
            "c: text/plain",
            "k: 100rel",
            "s: a subject",
            "e: gzip",
            "l: 5",
        ], body: "hello")
        let m = try parse(b)
        XCTAssertEqual(m.header("Via"), "SIP/2.0/UDP host.example.com;branch=z9hG4bKcompact")
        XCTAssertEqual(m.header("v"), m.header("Via"))
        XCTAssertEqual(try m.topVia()?.branch, "z9hG4bKcompact")
        XCTAssertEqual(m.header("From"), "<sip:alice@example.com>;tag=aaa")
        XCTAssertEqual(m.fromTag, "aaa")
        XCTAssertEqual(m.header("To"), "<sip:bob@example.com>;tag=bbb")
        XCTAssertEqual(m.toTag, "bbb")
        XCTAssertEqual(m.callID, "compact-call-id@host")
        XCTAssertEqual(m.header("Call-ID"), "compact-call-id@host")
        XCTAssertEqual(m.header("Contact"), "<sip:alice@10.0.0.1>")
        XCTAssertEqual(m.header("Content-Type"), "text/plain")
        XCTAssertEqual(m.header("Supported"), "100rel")
        XCTAssertEqual(m.header("Subject"), "a subject")
        XCTAssertEqual(m.header("Content-Encoding"), "gzip")
        XCTAssertEqual(m.header("Content-Length"), "5")
        XCTAssertEqual(m.body, Array("hello".utf8))
    }

    func testFullAndCompactFormsMixInOrder() throws {
        let m = try parse(msg([
            "OPTIONS sip:bob@example.com SIP/2.0",
            "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1",
            "v: SIP/2.0/TCP b.example.com;branch=z9hG4bK2",
            "VIA: SIP/2.0/TLS c.example.com;branch=z9hG4bK3",
            "From: <sip:alice@example.com>;tag=1", "To: <sip:bob@example.com>",
            "Call-ID: mix", "CSeq: 1 OPTIONS", "Content-Length: 0",
        ]))
        XCTAssertEqual(m.headers("Via").count, 3)
        XCTAssertEqual(m.headers("v"), m.headers("Via"))
        XCTAssertEqual(try m.vias().map(\.host), ["a.example.com", "b.example.com", "c.example.com"])
    }

    // MARK: folding (RFC 3261 7.3.1)

    func testFoldedHeaders() throws {
        let m = try parse(msg(invite + [
            "Subject: first line",
            "  continued with spaces",
            "\tand a tab",
            "Content-Length: 0",
        ]))
        XCTAssertEqual(m.header("Subject"), "first line continued with spaces and a tab")
    }

    func testFoldedToWithTagOnContinuationLine() throws {
        let lines = invite.filter { !$0.hasPrefix("To:") } + [
            "To:",
            " \"Bob\"",
            "   <sip:bob@example.com>",
            "  ;tag=xyz",
            "Content-Length: 0",
        ]
        let m = try parse(msg(lines))
        XCTAssertEqual(m.header("To"), "\"Bob\" <sip:bob@example.com> ;tag=xyz")
        XCTAssertEqual(m.toURI, "sip:bob@example.com")
        XCTAssertEqual(m.toTag, "xyz")
    }

    func testFoldedCSeqAndVia() throws {
        let lines = [
            "BYE sip:bob@example.com SIP/2.0",
            "Via: SIP/2.0/UDP",
            "   host.example.com:5070",
            "   ;branch=z9hG4bKfold",
            "From: <sip:alice@example.com>;tag=1", "To: <sip:bob@example.com>;tag=2",
            "Call-ID: fold",
            "CSeq: 12",
            "  BYE",
            "Content-Length: 0",
        ]
        let m = try parse(msg(lines))
        XCTAssertEqual(m.cseqNumber, 12)
        XCTAssertEqual(m.cseqMethod, "BYE")
        let via = try XCTUnwrap(try m.topVia())
        XCTAssertEqual(via.host, "host.example.com")
        XCTAssertEqual(via.port, 5070)
        XCTAssertEqual(via.branch, "z9hG4bKfold")
    }

    func testContinuationLineBeforeAnyHeaderIsRejected() {
        assertRejected(msg(["OPTIONS sip:bob@example.com SIP/2.0", " folded: nothing"] + invite.dropFirst()),
                       "a continuation line right after the request line has no header to continue")
    }

    // MARK: multiple values

    func testMultipleViaValuesPerLine() throws {
        let lines = [
            "OPTIONS sip:bob@example.com SIP/2.0",
            "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2;received=10.0.0.2",
            "Via: SIP/2.0/UDP c.example.com;branch=z9hG4bK3",
            "From: <sip:alice@example.com>;tag=1", "To: <sip:bob@example.com>",
            "Call-ID: vias", "CSeq: 1 OPTIONS", "Content-Length: 0",
        ]
        let m = try parse(msg(lines))
        // headers() returns field bodies, not split at commas
        XCTAssertEqual(m.headers("Via").count, 2)
        XCTAssertEqual(m.headers("Via")[0],
                       "SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2;received=10.0.0.2")
        let top = try XCTUnwrap(try m.topVia())
        XCTAssertEqual(top.host, "a.example.com")
        XCTAssertEqual(top.branch, "z9hG4bK1")
        let vias = try m.vias()
        XCTAssertEqual(vias.count, 3)
        XCTAssertEqual(vias[1].transport, "TCP")
        XCTAssertEqual(vias[1].port, 5070)
        XCTAssertEqual(vias[1].received, "10.0.0.2")
        XCTAssertEqual(vias[2].host, "c.example.com")
    }

    func testRouteValuesAreNotSplit() throws {
        let m = try parse(msg(invite + ["Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>", "Route: <sip:p3.example.com;lr>",
                                        "Content-Length: 0"]))
        XCTAssertEqual(m.headers("Route"), ["<sip:p1.example.com;lr>, <sip:p2.example.com;lr>", "<sip:p3.example.com;lr>"])
        XCTAssertEqual(m.header("Route"), "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>")
    }

    func testIPv6Via() throws {
        let lines = ["OPTIONS sip:bob@example.com SIP/2.0",
                     "Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKv6",
                     "From: <sip:alice@example.com>;tag=1", "To: <sip:bob@example.com>",
                     "Call-ID: v6", "CSeq: 1 OPTIONS", "Content-Length: 0"]
        let via = try XCTUnwrap(try parse(msg(lines)).topVia())
        XCTAssertEqual(via.host, "[2001:db8::1]")
        XCTAssertEqual(via.port, 5060)
        XCTAssertEqual(via.branch, "z9hG4bKv6")
    }

    // MARK: quoted strings

    func testQuotedDisplayNameWithCommaAndSpecials() throws {
        let lines = invite.filter { !$0.hasPrefix("From:") && !$0.hasPrefix("To:") } + [
            "From: \"Doe, John <boss>; \\\"JD\\\"\" <sip:john@example.com;transport=tcp>;tag=abc;x=\"1,2\"",
            "To: \"Smith, Jane\" <sip:jane@example.com>",
            "Contact: \"Doe, John\" <sip:john@10.0.0.1>;expires=60",
            "Content-Length: 0",
        ]
        let m = try parse(msg(lines))
        XCTAssertEqual(m.fromURI, "sip:john@example.com;transport=tcp")
        XCTAssertEqual(m.fromTag, "abc")
        XCTAssertEqual(m.toURI, "sip:jane@example.com")
        XCTAssertNil(m.toTag)
        XCTAssertEqual(m.headers("Contact"), ["\"Doe, John\" <sip:john@10.0.0.1>;expires=60"])
        XCTAssertEqual(m.header("From"), "\"Doe, John <boss>; \\\"JD\\\"\" <sip:john@example.com;transport=tcp>;tag=abc;x=\"1,2\"")
    }

    func testAddrSpecFormParamsBelongToTheHeader() throws {
        // RFC 3261 20.10: without <>, ";tag" (and any ;param) is a header parameter
        let lines = invite.filter { !$0.hasPrefix("From:") } + ["From: sip:alice@example.com;tag=t1", "Content-Length: 0"]
        let m = try parse(msg(lines))
        XCTAssertEqual(m.fromURI, "sip:alice@example.com")
        XCTAssertEqual(m.fromTag, "t1")
    }

    // MARK: body and Content-Length

    func testBodyByContentLength() throws {
        let body = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n"
        let m = try parse(msg(invite + ["Content-Type: application/sdp", "Content-Length: \(body.utf8.count)"], body: body))
        XCTAssertEqual(m.body, Array(body.utf8))
    }

    func testShortBodyIsRejected() {
        assertRejected(msg(invite + ["Content-Length: 50"], body: "only twenty bytes...") , "Content-Length larger than the datagram")
    }

    func testExtraBytesAfterContentLengthAreIgnoredOverUDP() throws {
        let m = try parse(msg(invite + ["Content-Length: 5"], body: "helloGARBAGE AFTER THE BODY"))
        XCTAssertEqual(m.body, Array("hello".utf8))
    }

    func testNoContentLengthOverUDPBodyIsTheRest() throws {
        let m = try parse(msg(invite, body: "the rest\r\nof the datagram"))
        XCTAssertEqual(m.body, Array("the rest\r\nof the datagram".utf8))
    }

    func testZeroContentLengthWithTrailingBytes() throws {
        let m = try parse(msg(invite + ["Content-Length: 0"], body: "\r\n\r\n"))
        XCTAssertEqual(m.body, [])
    }

    func testBadContentLengthIsRejected() {
        for v in ["five", "-1", "1 2", "0x10", "99999999999999999999", ""] {
            assertRejected(msg(invite + ["Content-Length: \(v)"], body: "x"), "Content-Length: \(v)")
        }
    }

    func testConflictingContentLengthsAreRejected() {
        assertRejected(msg(invite + ["Content-Length: 1", "l: 2"], body: "xy"), "two different Content-Length values")
    }

    func testDuplicateContentLengthIsRejectedEvenWithTheSameValue() {
        assertRejected(msg(invite + ["Content-Length: 1", "l: 1"], body: "x"), "two Content-Length headers")
    }

    func testMaxForwardsMustBeDigitsUpTo255() throws {
        for v in ["abc", "-5", "1.5", "", "256", "99999999999999999999"] {
            assertRejected(msg(invite.filter { !$0.hasPrefix("Max-Forwards") } + ["Max-Forwards: \(v)", "Content-Length: 0"]),
                           "Max-Forwards: \(v)")
        }
        for v in ["0", "0068", "255"] {
            _ = try parse(msg(invite.filter { !$0.hasPrefix("Max-Forwards") } + ["Max-Forwards: \(v)", "Content-Length: 0"]))
        }
    }

    func testNULInAHeaderIsRejectedUnlessEscapedInQuotes() throws {
        assertRejected(msg(invite + ["Subject: a\u{0}b", "Content-Length: 0"]), "NUL in Subject")
        assertRejected(msg(invite + ["X\u{0}: b", "Content-Length: 0"]), "NUL in a header name")
        _ = try parse(msg(invite + ["Subject: \"a\\\u{0}b\"", "Content-Length: 0"]))
        _ = try parse(msg(invite + ["Content-Length: 3"], body: "a\u{0}b"))  // the body may carry anything
    }

    func testSIPRequestURIWithoutUserOrHostIsRejected() throws {
        for uri in ["sip:@example.com", "sip:", "sips:@", "sip:;lr", "sip:bob@"] {
            var lines = invite
            lines[0] = "INVITE \(uri) SIP/2.0"
            assertRejected(msg(lines + ["Content-Length: 0"]), uri)
        }
        for uri in ["sip:example.com", "sip:bob@example.com;transport=udp", "sip:[::1]:5060", "tel:+1555"] {
            var lines = invite
            lines[0] = "INVITE \(uri) SIP/2.0"
            _ = try parse(msg(lines + ["Content-Length: 0"]))
        }
    }

    // MARK: replies

    func testReplyStatusLine() throws {
        let m = try parse(msg([
            "SIP/2.0 486 Busy Here",
            "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds;received=192.0.2.1",
            "To: Bob <sip:bob@example.com>;tag=a6c85cf",
            "From: Alice <sip:alice@example.com>;tag=1928301774",
            "Call-ID: a84b4c76e66710@pc33.example.com",
            "CSeq: 314159 INVITE",
            "Content-Length: 0",
        ]))
        XCTAssertFalse(m.isRequest)
        XCTAssertEqual(m.statusCode, 486)
        XCTAssertEqual(m.reason, "Busy Here")
        XCTAssertNil(m.method)
        XCTAssertNil(m.requestURIText)
        XCTAssertEqual(m.cseqMethod, "INVITE")
        XCTAssertEqual(m.toTag, "a6c85cf")
        XCTAssertEqual(try m.topVia()?.received, "192.0.2.1")
    }

    func testReplyReasonWithSpacesAndUTF8() throws {
        let m = try parse(msg(["SIP/2.0 200 Très bien, merci", "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
                               "From: <sip:a@b>;tag=1", "To: <sip:c@d>;tag=2", "Call-ID: r", "CSeq: 1 OPTIONS",
                               "Content-Length: 0"]))
        XCTAssertEqual(m.statusCode, 200)
        XCTAssertEqual(m.reason, "Très bien, merci")
    }

    func testBadStatusLinesAreRejected() {
        let rest = ["Via: SIP/2.0/UDP h;branch=z9hG4bK1", "From: <sip:a@b>;tag=1", "To: <sip:c@d>", "Call-ID: r",
                    "CSeq: 1 OPTIONS", "Content-Length: 0"]
        for first in ["SIP/2.0 48 Short", "SIP/2.0 1000 Long", "SIP/2.0 099 Low", "SIP/2.0 700 High", "SIP/2.0 abc Nope",
                      "SIP/2.0 4294967496 Wraps",
                      // fuzzer finds (Fuzz/run.sh): a status code longer than Int can hold must throw, not trap
                      "SIP/2.0 555555555555555555555 0", "SIP/2.0 01000000000000000000000 OPTIONS"] {
            assertRejected(msg([first] + rest), first)
        }
    }

    // MARK: request line

    /// Another SIP version parses (RFC 4475 3.1.2.16): the core answers it with 505.
    func testOtherSIPVersionParsesForA505() throws {
        let m = try SIPMessage.parse(msg(["INVITE sip:bob@example.com SIP/3.0"] + Array(invite.dropFirst()) + ["Content-Length: 0"]))
        XCTAssertEqual(m.version, "SIP/3.0")
        XCTAssertFalse(m.isVersion2)
    }

    func testBadRequestLinesAreRejected() {
        let rest = Array(invite.dropFirst()) + ["Content-Length: 0"]
        for first in ["INVITE sip:bob@example.com", "INVITE sip:bob@example.com SIP/3", "INVITE  sip:bob@example.com SIP/2.0",
                      "INVITE sip:bob@example.com SIP/2.0 ", "INVITE <sip:bob@example.com> SIP/2.0", "INV@TE sip:bob@example.com SIP/2.0",
                      " INVITE sip:bob@example.com SIP/2.0", "INVITE sip:bob@example.com; lr SIP/2.0", "sip:bob@example.com SIP/2.0"] {
            assertRejected(msg([first] + rest), "request line \(first.debugDescription)")
        }
    }

    func testExtensionMethodIsAccepted() throws {
        let lines = ["PUBLISH-ISH sip:bob@example.com SIP/2.0"] + invite.dropFirst().map {
            $0.hasPrefix("CSeq:") ? "CSeq: 1 PUBLISH-ISH" : $0
        } + ["Content-Length: 0"]
        let m = try parse(msg(lines))
        XCTAssertEqual(m.method, "PUBLISH-ISH")
        XCTAssertEqual(m.cseqMethod, "PUBLISH-ISH")
    }

    // MARK: line ends

    func testBareLFLineEndsAreAccepted() throws {
        let body = "v=0\no=- 1 1 IN IP4 192.0.2.1\n"
        let m = try parse(msg(invite + ["Subject: folded", " over LF", "Content-Length: \(body.utf8.count)"], body: body, eol: "\n"))
        XCTAssertEqual(m.method, "INVITE")
        XCTAssertEqual(m.callID, "a84b4c76e66710@pc33.example.com")
        XCTAssertEqual(m.header("Subject"), "folded over LF")
        XCTAssertEqual(m.fromTag, "1928301774")
        XCTAssertEqual(try m.topVia()?.branch, "z9hG4bK776asdhds")
        XCTAssertEqual(m.body, Array(body.utf8))
    }

    func testMixedCRLFAndLFLineEnds() throws {
        let text = invite.enumerated().map { $0.element + ($0.offset % 2 == 0 ? "\r\n" : "\n") }.joined()
            + "Content-Length: 2\n\r\nok"
        let m = try parse(Array(text.utf8))
        XCTAssertEqual(m.cseqNumber, 314159)
        XCTAssertEqual(m.body, Array("ok".utf8))
    }

    func testLeadingCRLFBeforeStartLineIsIgnored() throws {
        // RFC 3261 7.5: implementations SHOULD ignore any CRLFs before the start-line
        let m = try parse(Array("\r\n\r\n".utf8) + msg(invite + ["Content-Length: 0"]))
        XCTAssertEqual(m.method, "INVITE")
    }

    // MARK: malformed input

    func testGarbageIsRejected() {
        for s in ["", "\r\n", "\r\n\r\n", "hello", "INVITE", "SIP/2.0", "SIP/2.0 200 OK", "\0\0\0\0", "INVITE sip:a@b SIP/2.0\r\n"] {
            assertRejected(Array(s.utf8), "input \(s.debugDescription)")
        }
    }

    func testHeaderWithoutColonIsRejected() {
        assertRejected(msg(invite + ["This line has no colon", "Content-Length: 0"]), "header line without a colon")
    }

    func testHeadersNotTerminatedWithBodyAreRejected() {
        // a Content-Length promising a body, but the header block never ends
        let b = Array((invite + ["Content-Length: 4"]).joined(separator: "\r\n").utf8) + Array("\r\nbody".utf8)
        assertRejected(b, "no empty line between headers and body")
    }

    func testTruncationsNeverTrap() {
        // Every proper prefix of a valid message is refused (a broken line, a mandatory header missing, a Content-Length
        // with no empty line after it, a body shorter than its Content-Length), except the two that end a datagram
        // right after a whole header line once every mandatory header is in (after CSeq, after Content-Type): the end
        // of the datagram ends the headers, and those parse as messages without a body.
        let full = msg(invite + ["Content-Type: text/plain", "Content-Length: 4"], body: "body")
        let text = String(decoding: full, as: UTF8.self)
        let lineEnds = ["CSeq: 314159 INVITE\r\n", "Content-Type: text/plain\r\n"].map { text.range(of: $0)!.upperBound.utf16Offset(in: text) }
        var accepted: [Int] = []
        for n in 0..<full.count {
            guard let m = try? SIPMessage.parse(Array(full.prefix(n))) else { continue }
            accepted.append(n)
            XCTAssertEqual(m.body, [], "prefix of \(n) bytes")
            XCTAssertEqual(m.callID, "a84b4c76e66710@pc33.example.com", "prefix of \(n) bytes")
        }
        XCTAssertEqual(accepted, lineEnds)
        let m = try? SIPMessage.parse(full)
        XCTAssertEqual(m?.method, "INVITE")
        XCTAssertEqual(m?.body, Array("body".utf8))
        XCTAssertNotNil(m?.callID)
        XCTAssertNotNil(try? m?.topVia())
    }

    func testNonUTF8BytesInHeadersDoNotTrap() throws {
        var b = Array("OPTIONS sip:bob@example.com SIP/2.0\r\n".utf8)
        b += Array("Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: ".utf8)
        b += [0xFF, 0xFE, 0xC3, 0x28, 0x80]
        b += Array("\r\nCSeq: 1 OPTIONS\r\nX-Bin: ".utf8) + [0xC0, 0xAF, 0xED, 0xA0, 0x80] + Array("\r\nContent-Length: 0\r\n\r\n".utf8)
        // Header values are bytes: the message parses and the values read back with the bad bytes replaced.
        let m = try SIPMessage.parse(b)
        XCTAssertEqual(m.method, "OPTIONS")
        XCTAssertEqual(m.cseqNumber, 1)
        XCTAssertEqual(m.callID, String(decoding: [0xFF, 0xFE, 0xC3, 0x28, 0x80], as: UTF8.self))
        XCTAssertEqual(m.header("X-Bin"), String(decoding: [0xC0, 0xAF, 0xED, 0xA0, 0x80], as: UTF8.self))
        XCTAssertEqual(m.headers("X-Bin").count, 1)
    }
}
