import XCTest
import SwitchyardSIP
@testable import SwitchyardCore

/// Whole messages as MessageWriter sends them: a forwarded request with every kind of header edit (inline and boxed
/// replacements, removals, a replaced field ahead of the top Via), a relayed reply with an onreply edit and a
/// multi-value top Via, and the stateless branch's hex digits.
final class MessageWriterTests: XCTestCase {
    /// Field indexes: 0 Max-Forwards, 1 Via, 2 Route, 3 From, 4 To, 5 Call-ID, 6 CSeq, 7 X-Info, 8 Content-Length.
    static let requestLines = [
        "Max-Forwards: 70",
        "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
        "Route: <sip:proxy.example.com;lr>, <sip:next.example.com;lr>",
        "From: <sip:a@example.com>;tag=1",
        "To: <sip:b@example.com>",
        "Call-ID: c1",
        "CSeq: 1 INVITE",
        "X-Info: old",
        "Content-Length: 4",
    ]
    static let requestLine = "INVITE sip:b@example.com SIP/2.0"
    static let ourVia = "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx"

    static func text(_ lines: [String], body: String = "") -> String { lines.joined(separator: "\r\n") + "\r\n\r\n" + body }

    func request(_ headers: [String] = requestLines) throws -> SIPMessage {
        try SIPMessage.parse(Array(Self.text([Self.requestLine] + headers, body: "body").utf8))
    }

    /// The request forwarded with `edits`: our Via on top, the received top Via as `topViaText` when given.
    func forward(_ msg: SIPMessage, _ edits: HeaderEdits, topViaText: String? = nil, stream: Bool = true) throws -> String {
        let top = try XCTUnwrap(try msg.vias().first)
        let out = MessageWriter.forwardedRequest(msg, newRURI: nil, viaPrefix: "SIP/2.0/UDP 192.0.2.1:5060;branch=",
                                                 branch: .text("z9hG4bKx"), topVia: top, topViaText: topViaText, edits: edits,
                                                 stream: stream)
        return String(decoding: out, as: UTF8.self)
    }

    /// What forward() should send: the received headers with `change` applied, our Via right before the received
    /// top Via (as OpenSIPS anchors it there, after the lines the script put ahead of it), then the body.
    func expected(_ change: (inout [String]) -> Void, headers: [String] = requestLines) -> String {
        var h = headers
        change(&h)
        h.insert(Self.ourVia, at: h.firstIndex { $0.hasPrefix("Via:") } ?? 0)
        return Self.text([Self.requestLine] + h, body: "body")
    }

    /// record_route()'s line (a top line) goes before our Via when the received top Via is the first header; when
    /// another header comes first, the top line goes before it and our Via stays right before the received Via.
    func testTopLineGoesBeforeOurVia() throws {
        var e = HeaderEdits()
        e.addTop("Record-Route: <sip:192.0.2.1;lr>")
        let viaFirst = Array(Self.requestLines[1...]) + ["Max-Forwards: 70"]
        XCTAssertEqual(try forward(try request(viaFirst), e),
                       Self.text([Self.requestLine, "Record-Route: <sip:192.0.2.1;lr>", Self.ourVia] + viaFirst, body: "body"))
        XCTAssertEqual(try forward(try request(), e), Self.text(
            [Self.requestLine, "Record-Route: <sip:192.0.2.1;lr>", Self.requestLines[0], Self.ourVia]
                + Self.requestLines[1...], body: "body"))
        // With the inline fast path too (no top line): our Via first, right before the received Via (Max-Forwards
        // comes last in viaFirst).
        XCTAssertEqual(try forward(try request(viaFirst), HeaderEdits()),
                       Self.text([Self.requestLine, Self.ourVia] + viaFirst, body: "body"))
    }

    // MARK: the stateless branch

    func branchText(_ h: UInt64) -> String {
        String(decoding: ByteWriter.build(capacity: 8) { out in MessageWriter.Branch.stateless(h).append(to: &out) }, as: UTF8.self)
    }

    func testStatelessBranchHexMatchesStringRadix16() {
        var values: [UInt64] = [0, 1, 0xf, 0x10, 0xff, 0x100, 0x9, 0xa, 0xabcdef, 0xffff_ffff, 1 << 32, 0x9_0000_000a,
                                0x1_0000_0000_0000, 0x8000_0000_0000_0000, 0x0123_4567_89ab_cdef, UInt64.max, UInt64.max - 1]
        for shift in 0..<64 { values.append(1 << UInt64(shift)); values.append((1 << UInt64(shift)) - 1) }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 { values.append(rng.next() >> UInt64.random(in: 0..<64, using: &rng)) }
        for h in values { XCTAssertEqual(branchText(h), "z9hG4bKsy" + String(h, radix: 16), "\(h)") }
    }

    func testTextBranchIsWrittenAsGiven() {
        let s = ByteWriter.build(capacity: 8) { out in MessageWriter.Branch.text("z9hG4bKtm.1").append(to: &out) }
        XCTAssertEqual(String(decoding: s, as: UTF8.self), "z9hG4bKtm.1")
    }

    // MARK: forwarded requests

    func testNoEditsForwardsTheReceivedHeaders() throws {
        XCTAssertEqual(try forward(try request(), HeaderEdits()), expected { _ in })
    }

    /// A replaced field ahead of the top Via: the fast path writes the two special fields in message order.
    func testReplacedFieldBeforeTopVia() throws {
        var e = HeaderEdits()
        e.replace(0, with: "69")
        XCTAssertTrue(e.onlyInline)
        XCTAssertEqual(try forward(try request(), e), expected { $0[0] = "Max-Forwards: 69" })
        let rewritten = "SIP/2.0/UDP 10.0.0.1:5060;received=127.0.0.1;branch=z9hG4bK1"
        XCTAssertEqual(try forward(try request(), e, topViaText: rewritten), expected {
            $0[0] = "Max-Forwards: 69"
            $0[1] = "Via: " + rewritten
        })
    }

    func testReplacedFieldAfterTopVia() throws {
        var e = HeaderEdits()
        e.replace(7, with: "new")
        let rewritten = "SIP/2.0/UDP 10.0.0.1:5060;received=127.0.0.1;branch=z9hG4bK1"
        XCTAssertEqual(try forward(try request(), e, topViaText: rewritten), expected {
            $0[1] = "Via: " + rewritten
            $0[7] = "X-Info: new"
        })
    }

    /// rr's Route rewrite on a multi-value Route whose first entry is the proxy: a value past the inline size.
    func testLongRouteReplacement() throws {
        var e = HeaderEdits()
        e.replace(2, with: "<sip:next.example.com;lr>")
        XCTAssertFalse(e.onlyInline)
        XCTAssertEqual(try forward(try request(), e), expected { $0[2] = "Route: <sip:next.example.com;lr>" })
    }

    /// A field replaced short (inline), long (boxed), short again (stays boxed): the last value wins each time.
    func testInlineBoxedInlineReplacement() throws {
        let long = "<sip:next.example.com;lr>"
        var e = HeaderEdits()
        e.replace(2, with: "<sip:s;lr>")
        XCTAssertTrue(e.onlyInline)
        XCTAssertEqual(try forward(try request(), e), expected { $0[2] = "Route: <sip:s;lr>" })
        e.replace(2, with: long)
        XCTAssertEqual(e.inlineReplacedField, nil)
        XCTAssertEqual(try forward(try request(), e), expected { $0[2] = "Route: " + long })
        e.replace(2, with: "<sip:t;lr>")
        XCTAssertEqual(replaced(e, 2), "<sip:t;lr>")
        XCTAssertEqual(try forward(try request(), e), expected { $0[2] = "Route: <sip:t;lr>" })
        // Exactly the inline size, then one past it.
        let sixteen = String(repeating: "a", count: HeaderEdits.inlineCapacity)
        var f = HeaderEdits()
        f.replace(7, with: sixteen)
        XCTAssertTrue(f.onlyInline)
        XCTAssertEqual(try forward(try request(), f), expected { $0[7] = "X-Info: " + sixteen })
        f.replace(7, with: sixteen + "b")
        XCTAssertEqual(try forward(try request(), f), expected { $0[7] = "X-Info: " + sixteen + "b" })
        f.replace(7, with: "")
        XCTAssertEqual(try forward(try request(), f), expected { $0[7] = "X-Info: " })
    }

    func testTwoFieldsReplaced() throws {
        var e = HeaderEdits()
        e.replace(0, with: "69")
        e.replace(7, with: "new")  // the inline place is taken: boxed
        XCTAssertEqual(e.inlineReplacedField, 0)
        XCTAssertFalse(e.onlyInline)
        XCTAssertEqual(replaced(e, 0), "69")
        XCTAssertEqual(replaced(e, 7), "new")
        XCTAssertNil(replaced(e, 3))
        XCTAssertEqual(try forward(try request(), e), expected {
            $0[0] = "Max-Forwards: 69"
            $0[7] = "X-Info: new"
        })
    }

    func testReplacedThenRemoved() throws {
        var e = HeaderEdits()
        e.replace(7, with: "new")
        e.remove(7)
        e.replace(0, with: "<sip:next.example.com;lr>")  // long, boxed
        e.remove(0)
        XCTAssertEqual(try forward(try request(), e), expected {
            $0.remove(at: 7)
            $0.remove(at: 0)
        })
    }

    /// A copy shares the box until one of them changes: the other keeps its values.
    func testCopyOnWrite() throws {
        var a = HeaderEdits()
        a.replace(0, with: "69")
        a.replace(2, with: "<sip:next.example.com;lr>")
        var b = a
        b.replace(2, with: "<sip:other.example.com;lr>")
        b.replace(0, with: "1")
        b.remove(7)
        b.addBottom("X-New: 1")
        XCTAssertEqual(replaced(a, 2), "<sip:next.example.com;lr>")
        XCTAssertEqual(replaced(a, 0), "69")
        XCTAssertFalse(a.isRemoved(7))
        XCTAssertEqual(a.bottom, [])
        XCTAssertEqual(try forward(try request(), a), expected {
            $0[0] = "Max-Forwards: 69"
            $0[2] = "Route: <sip:next.example.com;lr>"
        })
        XCTAssertEqual(try forward(try request(), b), expected {
            $0[0] = "Max-Forwards: 1"
            $0[2] = "Route: <sip:other.example.com;lr>"
            $0.remove(at: 7)
            $0.append("X-New: 1")  // bottom lines: after the last field
        })
        // An inline-only copy changed: the original keeps its bytes.
        var c = HeaderEdits()
        c.replace(0, with: "69")
        var d = c
        d.replace(0, with: "5")
        XCTAssertEqual(replaced(c, 0), "69")
        XCTAssertEqual(replaced(d, 0), "5")
    }

    /// Edits whose index the message does not have (made on another message) are ignored, by both paths.
    func testReplacedIndexPastTheFieldsIsIgnored() throws {
        var e = HeaderEdits()
        e.replace(99, with: "x")
        XCTAssertTrue(e.onlyInline)
        XCTAssertEqual(try forward(try request(), e), expected { _ in })
        e.replace(98, with: "<sip:next.example.com;lr>")
        XCTAssertEqual(try forward(try request(), e), expected { _ in })
    }

    /// As OpenSIPS's adjust_clen: remove_hf("Content-Length") sends the request without one, over a stream too (the
    /// received message had one); a received message without one gets it over a stream only.
    func testContentLengthRemovedOrMissing() throws {
        var e = HeaderEdits()
        e.remove(8)
        XCTAssertEqual(try forward(try request(), e), expected { $0.remove(at: 8) })
        XCTAssertEqual(try forward(try request(), e, stream: false), expected { $0.remove(at: 8) })
        let without = Array(Self.requestLines.dropLast())
        XCTAssertEqual(try forward(try request(without), HeaderEdits()),
                       expected({ $0.append("Content-Length: 4") }, headers: without))
        XCTAssertEqual(try forward(try request(without), HeaderEdits(), stream: false), expected({ _ in }, headers: without))
        var f = HeaderEdits()
        f.replace(0, with: "69")  // the fast path
        XCTAssertEqual(try forward(try request(without), f, stream: false),
                       expected({ $0[0] = "Max-Forwards: 69" }, headers: without))
        XCTAssertEqual(try forward(try request(without), f),
                       expected({ $0[0] = "Max-Forwards: 69"; $0.append("Content-Length: 4") }, headers: without))
    }

    func replaced(_ e: HeaderEdits, _ i: Int) -> String? {
        e.withReplaced(i) { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: relayed replies

    static let replyLines = [
        "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx, SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1",
        "Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK2",
        "From: <sip:a@example.com>;tag=1",
        "To: <sip:b@example.com>;tag=2",
        "Call-ID: c1",
        "CSeq: 1 INVITE",
        "X-Info: old",
        "Content-Length: 0",
    ]

    func relay(_ edits: HeaderEdits, lines: [String] = replyLines, stream: Bool = false) throws -> String {
        let msg = try SIPMessage.parse(Array(Self.text(["SIP/2.0 200 OK"] + lines).utf8))
        let top = try XCTUnwrap(try msg.vias().first)
        return String(decoding: MessageWriter.relayedReply(msg, topVia: top, edits: edits, stream: stream), as: UTF8.self)
    }

    func testRelayedReplyWithoutContentLength() throws {
        let lines = Array(Self.replyLines.dropLast())
        var sent = lines
        sent[0] = "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1"
        XCTAssertEqual(try relay(HeaderEdits(), lines: lines), Self.text(["SIP/2.0 200 OK"] + sent))
        XCTAssertEqual(try relay(HeaderEdits(), lines: lines, stream: true),
                       Self.text(["SIP/2.0 200 OK"] + sent + ["Content-Length: 0"]))
    }

    func testRelayedReplyDropsTheFirstViaValueWithAnOnreplyEdit() throws {
        var rest = Self.replyLines
        rest[0] = "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1"
        XCTAssertEqual(try relay(HeaderEdits()), Self.text(["SIP/2.0 200 OK"] + rest))
        var e = HeaderEdits()
        e.replace(6, with: "new")
        XCTAssertTrue(e.onlyInline)
        var edited = rest
        edited[6] = "X-Info: new"
        XCTAssertEqual(try relay(e), Self.text(["SIP/2.0 200 OK"] + edited))
        e.replace(6, with: "a value longer than sixteen")
        edited[6] = "X-Info: a value longer than sixteen"
        XCTAssertEqual(try relay(e), Self.text(["SIP/2.0 200 OK"] + edited))
        // A single-value top Via: its whole line goes.
        var single = Self.replyLines
        single[0] = "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx"
        var f = HeaderEdits()
        f.replace(6, with: "new")
        var sent = Array(single.dropFirst())
        sent[5] = "X-Info: new"
        XCTAssertEqual(try relay(f, lines: single), Self.text(["SIP/2.0 200 OK"] + sent))
    }
}
