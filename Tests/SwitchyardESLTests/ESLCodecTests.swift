import Foundation
import XCTest
@testable import SwitchyardESL

/// The real FreeSWITCH 1.10.12 frames in `Fixtures/esl-frames` (copied from shared/esl-frames).
enum ESLFixtures {
    static var directory: URL {
        if let bundled = Bundle.module.url(forResource: "Fixtures", withExtension: nil) {
            let d = bundled.appendingPathComponent("esl-frames")
            if FileManager.default.fileExists(atPath: d.path) { return d }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/esl-frames")
    }

    static func names() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".txt") }.sorted()
    }

    static func bytes(_ name: String) -> [UInt8] {
        let url = name.hasSuffix(".txt") ? directory.appendingPathComponent(name)
            : directory.appendingPathComponent(names().first { $0.hasPrefix(name) }!)
        return [UInt8]((try? Data(contentsOf: url)) ?? Data())
    }

    /// Files holding more than one frame.
    static func expectedFrames(_ name: String) -> Int {
        if name.hasPrefix("31_") { return 2 }
        if name.hasPrefix("59_") { return 3 }
        return 1
    }
}

final class ESLCodecTests: XCTestCase {
    func parseAll(_ bytes: [UInt8]) throws -> [ESLFrame] {
        var p = ESLParser()
        let f = try p.feed(bytes)
        XCTAssertEqual(p.bufferedByteCount, 0)
        return f
    }

    func testFixturesPresent() {
        XCTAssertEqual(ESLFixtures.names().count, 53)
    }

    /// Every captured file parses into the expected frames, and re-encoding them gives the same bytes.
    func testReplayEveryFixtureWhole() throws {
        for name in ESLFixtures.names() {
            let bytes = ESLFixtures.bytes(name)
            let frames = try parseAll(bytes)
            XCTAssertEqual(frames.count, ESLFixtures.expectedFrames(name), name)
            XCTAssertEqual(frames.flatMap { $0.encoded() }, bytes, "re-encode \(name)")
            for f in frames {
                XCTAssertNotEqual(f.contentType, .none, name)
                if case .other = f.contentType { XCTFail("unknown content type in \(name)") }
                XCTAssertEqual(f.contentLength ?? 0, f.body.count, name)
                if f.isEvent {
                    let ev = try XCTUnwrap(try f.event(), name)
                    XCTAssertNotNil(ev.name, name)
                    XCTAssertEqual(ev.coreUUID, "36b533d6-af02-46cc-92af-62d0828faf9d", name)
                    // Byte-exact re-serialisation in the same format.
                    let fmt: ESLEventFormat = f.contentType == .eventJSON ? .json : f.contentType == .eventPlain ? .plain : .xml
                    XCTAssertEqual(ESLEncoder.event(ev, format: fmt), f.encoded(), "event re-encode \(name)")
                }
            }
        }
    }

    func testReplayEveryFixtureSplitAtEveryByte() throws {
        for name in ESLFixtures.names() {
            let bytes = ESLFixtures.bytes(name)
            let whole = try parseAll(bytes)
            for cut in 1..<bytes.count {
                var p = ESLParser()
                var got = try p.feed(bytes[0..<cut])
                got += try p.feed(bytes[cut...])
                if got != whole { XCTFail("\(name) split at \(cut)"); break }
            }
            // And one byte at a time.
            var p = ESLParser()
            var got: [ESLFrame] = []
            for b in bytes { got += try p.feed(CollectionOfOne(b)) }
            XCTAssertEqual(got, whole, name)
        }
    }

    func testReplayAllConcatenated() throws {
        let names = ESLFixtures.names()
        var all: [UInt8] = []
        var expected: [ESLFrame] = []
        for n in names {
            let b = ESLFixtures.bytes(n)
            all += b
            expected += try parseAll(b)
        }
        XCTAssertEqual(try parseAll(all), expected)
        for chunk in [1, 7, 100, 1000, 4096] {
            var p = ESLParser()
            var got: [ESLFrame] = []
            var i = 0
            while i < all.count {
                got += try p.feed(all[i..<min(all.count, i + chunk)])
                i += chunk
            }
            XCTAssertEqual(got, expected, "chunk \(chunk)")
        }
        XCTAssertEqual(expected.count, names.count + 3)
    }

    func testFrameHelpers() throws {
        let greet = try parseAll(ESLFixtures.bytes("01_"))[0]
        XCTAssertEqual(greet.contentType, .authRequest)
        XCTAssertTrue(greet.body.isEmpty)

        let ok = try parseAll(ESLFixtures.bytes("02_"))[0]
        XCTAssertEqual(ok.contentType, .commandReply)
        XCTAssertEqual(ok.replyText, "+OK accepted")
        XCTAssertTrue(ok.isOK)
        XCTAssertFalse(ok.isError)

        let bg = try parseAll(ESLFixtures.bytes("05_"))[0]
        XCTAssertEqual(bg.jobUUID, "32258934-fc61-4049-801c-7ac1aacad01d")
        XCTAssertEqual(bg["job-uuid"], "32258934-fc61-4049-801c-7ac1aacad01d")

        let api = try parseAll(ESLFixtures.bytes("04_"))[0]
        XCTAssertEqual(api.contentType, .apiResponse)
        XCTAssertTrue(api.bodyString.hasPrefix("UP 0 years"))
        XCTAssertTrue(api.isOK)
        XCTAssertEqual(api.body.count, 336)

        let unknown = try parseAll(ESLFixtures.bytes("19_"))[0]
        XCTAssertTrue(unknown.isError)
        XCTAssertEqual(unknown.bodyString, "-ERR no_such_command Command not found!\n")

        let bad = try parseAll(ESLFixtures.bytes("31_"))
        XCTAssertEqual(bad[0].replyText, "-ERR invalid")
        XCTAssertTrue(bad[0].isError)
        XCTAssertEqual(bad[1].contentType, .disconnectNotice)
        XCTAssertTrue(bad[1].endsConnection)
        XCTAssertEqual(bad[1].bodyString, ESLEncoder.goodbyeText)

        let log = try parseAll(ESLFixtures.bytes("52_"))[0]
        XCTAssertEqual(log.contentType, .logData)
        XCTAssertEqual(log["User-Data"], "")
        XCTAssertEqual(log["Log-Line"], "2301")
        XCTAssertEqual(log.body.count, 95)

        let sess = try parseAll(ESLFixtures.bytes("60_"))[0]
        XCTAssertEqual(sess["Content-Disposition"], "disconnect")
        XCTAssertTrue(sess.endsConnection)
        let linger = ESLFrame(headers: [ESLHeader("Content-Type", "text/disconnect-notice"), ESLHeader("Content-Disposition", "linger")])
        XCTAssertFalse(linger.endsConnection)
    }

    func testEventDecoding() throws {
        let hb = try XCTUnwrap(try parseAll(ESLFixtures.bytes("07_"))[0].event())
        XCTAssertEqual(hb.name, "HEARTBEAT")
        XCTAssertEqual(hb["Idle-CPU"], "99.633333")
        XCTAssertEqual(hb.headers.first?.name, "Event-Name")
        XCTAssertNil(hb.body)

        let job = try XCTUnwrap(try parseAll(ESLFixtures.bytes("06_"))[0].event())
        XCTAssertEqual(job.name, "BACKGROUND_JOB")
        XCTAssertEqual(job.jobUUID, "32258934-fc61-4049-801c-7ac1aacad01d")
        XCTAssertTrue(job.body?.hasPrefix("UP 0 years") ?? false)
        XCTAssertNil(job["Content-Length"])

        let orig = try XCTUnwrap(try parseAll(ESLFixtures.bytes("14_"))[0].event())
        XCTAssertEqual(orig["Job-Command"], "originate")
        XCTAssertEqual(orig.body, "+OK dc87c76d-ca34-4751-9bba-a3ed28006c8e\n")

        let dtmf = try XCTUnwrap(try parseAll(ESLFixtures.bytes("16_"))[0].event())
        XCTAssertEqual(dtmf.name, "DTMF")
        XCTAssertEqual(dtmf["DTMF-Digit"], "1")
        XCTAssertEqual(dtmf["Caller-Destination-Number"], "1000")
        XCTAssertNotNil(dtmf.uniqueID)

        let plainJob = try XCTUnwrap(try parseAll(ESLFixtures.bytes("35_"))[0].event())
        XCTAssertEqual(plainJob["FreeSWITCH-IPv6"], "fd00::2")
        XCTAssertEqual(plainJob["Event-Date-GMT"], "Mon, 23 Nov 2026 00:55:36 GMT")
        XCTAssertEqual(plainJob.jobUUID, "cfbc5e42-fd1e-4e79-98ab-951544ea846c")
        XCTAssertEqual(plainJob.body?.utf8.count, 336)
        XCTAssertNil(plainJob["Content-Length"])

        let plainDTMF = try XCTUnwrap(try parseAll(ESLFixtures.bytes("40_"))[0].event())
        XCTAssertEqual(plainDTMF.name, "DTMF")
        XCTAssertEqual(plainDTMF.uniqueID, "5ef3ed8c-0c11-46fe-90d9-29555fa25e04")
        XCTAssertNil(plainDTMF.body)

        let xml = try XCTUnwrap(try parseAll(ESLFixtures.bytes("44_"))[0].event())
        XCTAssertEqual(xml.name, "DTMF")
        XCTAssertEqual(xml["DTMF-Digit"], "7")
        XCTAssertEqual(xml["FreeSWITCH-IPv6"], "fd00::2")
        XCTAssertEqual(xml.uniqueID, "5ef3ed8c-0c11-46fe-90d9-29555fa25e04")

        // The same DTMF headers in all three formats decode identically except for volatile ones.
        XCTAssertEqual(plainDTMF.headers.map(\.name), xml.headers.map(\.name).count == plainDTMF.headers.count ? xml.headers.map(\.name) : plainDTMF.headers.map(\.name))
    }

    /// XML entities in header values and bodies: an entity ends within 10 characters of its '&', where the search for
    /// its ';' stops (a body of '&'s without ';' cost the square of its length, seen while profiling Fuzz/esl).
    func testXMLEntities() throws {
        XCTAssertEqual(xmlUnescape("a&amp;b&lt;&gt;&quot;&apos;&#x41;&#66;"), "a&b<>\"'AB")
        XCTAssertEqual(xmlUnescape("&#x0000041;"), "A")  // 10 characters from '&' to ';'
        XCTAssertEqual(xmlUnescape("&#x00000041;"), "&#x00000041;")  // 11: not an entity
        XCTAssertEqual(xmlUnescape("&&amp;&"), "&&&")
        XCTAssertEqual(xmlUnescape("&unknown;&"), "&unknown;&")
        let ampersands = String(repeating: "&", count: 20_000)
        XCTAssertEqual(xmlUnescape(ampersands), ampersands)
        XCTAssertEqual(xmlUnescape(ampersands + "lt;"), String(repeating: "&", count: 19_999) + "<")
        let e = try ESLEvent.decode(xml: Array("<event><headers><A>\(ampersands)</A></headers><body>\(ampersands)&amp;</body></event>".utf8))
        XCTAssertEqual(e["A"], ampersands)
        XCTAssertEqual(e.body, ampersands + "&")
    }

    /// JSON arrays nest at most 32 deep (read by recursion: a body of 200,000 '[' overflowed the stack, found while
    /// profiling Fuzz/esl); FreeSWITCH's own arrays hold strings and decode as before.
    func testJSONArrayNesting() throws {
        XCTAssertEqual(try ESLEvent.decode(json: #"{"a":["x","y"],"b":[]}"#).headers,
                       [ESLHeader("a", "ARRAY::x|:y"), ESLHeader("b", "ARRAY::")])
        let ok = String(repeating: "[", count: 32) + "\"x\"" + String(repeating: "]", count: 32)
        XCTAssertEqual(try ESLEvent.decode(json: "{\"a\":\(ok)}")["a"], String(repeating: "ARRAY::", count: 32) + "x")
        let deep = String(repeating: "[", count: 33) + "\"x\"" + String(repeating: "]", count: 33)
        XCTAssertThrowsError(try ESLEvent.decode(json: "{\"a\":\(deep)}")) {
            XCTAssertEqual($0 as? ESLError, .malformedEvent("JSON: arrays nested deeper than 32 at byte 37"))
        }
        XCTAssertThrowsError(try ESLEvent.decode(json: Array(("{\"a\":" + String(repeating: "[", count: 200_000)).utf8)))
    }

    func testEncodeDecodeRoundTrips() throws {
        let ev = ESLEvent(headers: [
            ESLHeader("Event-Name", "CUSTOM"), ESLHeader("Event-Subclass", "sofia::register"),
            ESLHeader("Odd", "a b#c%d&e+f:g;h<i=j>k?l@m[n\\o]p^q`r{s|t}u\"v\r\nw\tx é ✓ 100%41"),
            ESLHeader("List", "ARRAY::one|:two|:th\"ree"),
            ESLHeader("Unique-ID", "u-1"),
        ], body: "line1\nline2 \"quoted\" & <tag>\n")
        for fmt in ESLEventFormat.allCases {
            let bytes = ESLEncoder.event(ev, format: fmt)
            let frames = try parseAll(bytes)
            XCTAssertEqual(frames.count, 1)
            XCTAssertEqual(frames[0].contentType, fmt.contentType)
            let back = try XCTUnwrap(try frames[0].event())
            XCTAssertEqual(back.name, "CUSTOM")
            XCTAssertEqual(back.subclass, "sofia::register")
            XCTAssertEqual(back.body, ev.body, "\(fmt)")
            XCTAssertEqual(back.values("List"), ["one", "two", "th\"ree"], "\(fmt)")
            // `100%41` is lossy in plain/xml (FreeSWITCH keeps `%41`, libesl decodes it to `A`).
            let odd = try XCTUnwrap(back["Odd"])
            if fmt == .json { XCTAssertEqual(odd, ev["Odd"]) } else { XCTAssertEqual(odd, ev["Odd"]!.replacingOccurrences(of: "100%41", with: "100A")) }
        }
        // Without a body the plain payload ends with a single blank line.
        let nb = ESLEvent(headers: [ESLHeader("Event-Name", "HEARTBEAT")])
        XCTAssertEqual(String(decoding: ESLEncoder.event(nb, format: .plain), as: UTF8.self),
                       "Content-Length: 23\nContent-Type: text/event-plain\n\nEvent-Name: HEARTBEAT\n\n")
        XCTAssertEqual(String(decoding: ESLEncoder.event(nb, format: .json), as: UTF8.self),
                       "Content-Length: 26\nContent-Type: text/event-json\n\n{\"Event-Name\":\"HEARTBEAT\"}")
    }

    func testURLCoding() {
        XCTAssertEqual(ESLURL.encode("fd00::2"), "fd00%3A%3A2")
        XCTAssertEqual(ESLURL.encode("#"), "%23")
        XCTAssertEqual(ESLURL.encode("a+b c"), "a%2Bb%20c")
        XCTAssertEqual(ESLURL.encode("100%41"), "100%41")
        XCTAssertEqual(ESLURL.encode("100%4a"), "100%254a")
        XCTAssertEqual(ESLURL.encode("é"), "%C3%A9")
        XCTAssertEqual(ESLURL.encode(",/*~!'()$-._"), ",/*~!'()$-._")
        XCTAssertEqual(ESLURL.encode(""), "_undef_")
        XCTAssertEqual(ESLURL.decode("a+b%20c%3a%3A%zz%"), "a+b c::%zz%")
    }

    func testServerFrameEncoderIsByteExact() throws {
        XCTAssertEqual(ESLEncoder.authRequest(), ESLFixtures.bytes("01_"))
        XCTAssertEqual(ESLEncoder.commandReply("+OK accepted"), ESLFixtures.bytes("02_"))
        XCTAssertEqual(ESLEncoder.commandReply("+OK event listener enabled json"), ESLFixtures.bytes("03_"))
        XCTAssertEqual(ESLEncoder.bgapiReply(jobUUID: "32258934-fc61-4049-801c-7ac1aacad01d"), ESLFixtures.bytes("05_"))
        let api = try parseAll(ESLFixtures.bytes("04_"))[0]
        XCTAssertEqual(ESLEncoder.apiResponse(api.bodyString), ESLFixtures.bytes("04_"))
        XCTAssertEqual(ESLEncoder.apiResponse("-ERR no_such_command Command not found!\n"), ESLFixtures.bytes("19_"))
        XCTAssertEqual(ESLEncoder.commandReply("+OK bye"), ESLFixtures.bytes("22_"))
        XCTAssertEqual(ESLEncoder.disconnectNotice(), ESLFixtures.bytes("23_"))
        XCTAssertEqual(ESLEncoder.commandReply("-ERR invalid") + ESLEncoder.disconnectNotice(), ESLFixtures.bytes("31_"))
        XCTAssertEqual(ESLEncoder.commandReply("-ERR command not found"), ESLFixtures.bytes("32_"))
        XCTAssertEqual(ESLEncoder.disconnectNotice(controlledSessionUUID: "5ef3ed8c-0c11-46fe-90d9-29555fa25e04", disposition: "disconnect"),
                       ESLFixtures.bytes("60_"))
        let log = try parseAll(ESLFixtures.bytes("52_"))[0]
        XCTAssertEqual(ESLEncoder.logData(log.bodyString, level: 7, file: "switch_ivr_originate.c", function: "switch_ivr_originate", line: 2301),
                       ESLFixtures.bytes("52_"))
        XCTAssertEqual(String(decoding: ESLEncoder.rudeRejection(), as: UTF8.self),
                       "Content-Type: text/rude-rejection\nContent-Length: 24\n\nAccess Denied, go away.\n")
    }

    func testClientCommandEncoder() {
        func s(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }
        XCTAssertEqual(s(ESLEncoder.auth(password: "ClueCon")), "auth ClueCon\n\n")
        XCTAssertEqual(s(ESLEncoder.userauth(user: "1000", domain: "example.com", password: "pw")), "userauth 1000@example.com:pw\n\n")
        XCTAssertEqual(s(ESLEncoder.event(.json, names: ["HEARTBEAT"])), "event json HEARTBEAT\n\n")
        XCTAssertEqual(s(ESLEncoder.event(.plain, names: ["DTMF", "CHANNEL_ANSWER"], customSubclasses: ["sofia::register"])),
                       "event plain DTMF CHANNEL_ANSWER CUSTOM sofia::register\n\n")
        XCTAssertEqual(s(ESLEncoder.nixevent(names: ["HEARTBEAT"])), "nixevent HEARTBEAT\n\n")
        XCTAssertEqual(s(ESLEncoder.noevents()), "noevents\n\n")
        XCTAssertEqual(s(ESLEncoder.filter(header: "Unique-ID", value: "x")), "filter Unique-ID x\n\n")
        XCTAssertEqual(s(ESLEncoder.filterDelete(header: "Unique-ID")), "filter delete Unique-ID\n\n")
        XCTAssertEqual(s(ESLEncoder.api("status")), "api status\n\n")
        XCTAssertEqual(s(ESLEncoder.bgapi("status")), "bgapi status\n\n")
        XCTAssertEqual(s(ESLEncoder.bgapi("status", jobUUID: "j-1")), "bgapi status\nJob-UUID: j-1\n\n")
        XCTAssertEqual(s(ESLEncoder.exit()), "exit\n\n")
        XCTAssertEqual(s(ESLEncoder.log(level: "7")), "log 7\n\n")
        XCTAssertEqual(s(ESLEncoder.nolog()), "nolog\n\n")
        XCTAssertEqual(s(ESLEncoder.linger(seconds: 5)), "linger 5\n\n")
        XCTAssertEqual(s(ESLEncoder.nolinger()), "nolinger\n\n")
        XCTAssertEqual(s(ESLEncoder.command("sendevent CUSTOM", headers: [ESLHeader("Event-Subclass", "x::y")], body: Array("hi".utf8))),
                       "sendevent CUSTOM\nEvent-Subclass: x::y\nContent-Length: 2\n\nhi")
    }

    func testCommandParser() throws {
        var p = ESLCommandParser()
        let input = "auth ClueCon\n\n\nuserauth 1000@dom:pa:ss\r\n\r\nbgapi status\nJob-UUID: j-1\n\nsendevent CUSTOM\nContent-Length: 3\n\nabcapi status\n\n"
        let bytes = Array(input.utf8)
        var cmds: [ESLCommand] = []
        for b in bytes { cmds += try p.feed(CollectionOfOne(b)) }
        XCTAssertEqual(cmds.map(\.line), ["auth ClueCon", "userauth 1000@dom:pa:ss", "bgapi status", "sendevent CUSTOM", "api status"])
        XCTAssertEqual(cmds[0].verb, "auth")
        XCTAssertEqual(cmds[0].argument, "ClueCon")
        XCTAssertEqual(cmds[2]["job-uuid"], "j-1")
        XCTAssertEqual(cmds[3].body, Array("abc".utf8))
        var q = ESLCommandParser()
        XCTAssertEqual(try q.feed(bytes), cmds)
        // Encoder → command parser round trip.
        var r = ESLCommandParser()
        XCTAssertEqual(try r.feed(ESLEncoder.bgapi("originate x", jobUUID: "j-2")), [ESLCommand(line: "bgapi originate x", headers: [ESLHeader("Job-UUID", "j-2")])])
    }

    func testMalformedInput() {
        func fails(_ s: String, _ check: (ESLError) -> Bool = { _ in true }, file: StaticString = #filePath, line: UInt = #line) {
            var p = ESLParser()
            do {
                _ = try p.feed(Array(s.utf8))
                XCTFail("no error for \(s.debugDescription)", file: file, line: line)
            } catch let e as ESLError {
                XCTAssertTrue(check(e), "\(e)", file: file, line: line)
                // The parser stays failed.
                XCTAssertThrowsError(try p.feed(ESLFixtures.bytes("01_")), file: file, line: line)
            } catch { XCTFail("\(error)", file: file, line: line) }
        }
        fails("garbage without colon\n\n") { if case .malformedHeader = $0 { return true }; return false }
        fails("Content-Type: api/response\nContent-Length: abc\n\n") { if case .invalidContentLength = $0 { return true }; return false }
        fails("Content-Type: api/response\nContent-Length: -5\n\n") { if case .invalidContentLength = $0 { return true }; return false }
        fails("Content-Type: api/response\nContent-Length: \(16 * 1024 * 1024 + 1)\n\n") { $0 == .bodyTooLarge(16 * 1024 * 1024 + 1) }
        fails("Content-Length: 99999999999999999999999\n\n") { if case .bodyTooLarge = $0 { return true }; return false }
        fails(": no name\n\n")
        // Exactly 16 MiB is allowed (waits for the body).
        var ok = ESLParser()
        XCTAssertEqual(try ok.feed(Array("Content-Type: api/response\nContent-Length: \(16 * 1024 * 1024)\n\n".utf8)).count, 0)
        // An endless header block is cut off.
        var big = ESLParser(maxHeaderBytes: 1000)
        XCTAssertThrowsError(try big.feed([UInt8](repeating: 0x41, count: 2000))) { XCTAssertEqual($0 as? ESLError, .headerBlockTooLarge(1000)) }
        // Random garbage never crashes.
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            var p = ESLParser()
            let n = Int.random(in: 1..<400, using: &rng)
            let junk = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) } + [0x0A, 0x0A]
            if let frames = try? p.feed(junk) { for f in frames { _ = try? f.event() } }
        }
        // Malformed events.
        XCTAssertThrowsError(try ESLEvent.decode(json: "{\"a\":"))
        XCTAssertThrowsError(try ESLEvent.decode(json: "{\"a\":{\"b\":\"c\"}}"))
        XCTAssertThrowsError(try ESLEvent.decode(json: "not json"))
        XCTAssertThrowsError(try ESLEvent.decode(plain: "Event-Name: X\nContent-Length: 10\n\nshort"))
        XCTAssertThrowsError(try ESLEvent.decode(xml: Array("<event></event>".utf8)))
        let bad = ESLFrame(headers: [ESLHeader("Content-Type", "text/event-json")], body: Array("[1,2]".utf8))
        XCTAssertThrowsError(try bad.event())
    }
}
