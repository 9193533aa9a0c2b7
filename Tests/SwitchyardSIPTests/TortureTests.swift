import Foundation
import XCTest
@testable import SwitchyardSIP

/// The RFC 4475 section 3 messages (Fixtures/rfc4475/*.sip, wire bytes) and what the parser must do
/// with each (Fixtures/rfc4475/manifest.txt). See the manifest for the reasoning per message.
enum RFC4475 {
    struct Entry {
        let name: String
        let accept: Bool
        let note: String
    }

    static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent("rfc4475")
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name + ".sip")))
    }

    static func manifest() throws -> [Entry] {
        let text = try String(contentsOf: directory.appendingPathComponent("manifest.txt"), encoding: .utf8)
        var out: [Entry] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty || t.hasPrefix("#") { continue }
            let parts = t.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            precondition(parts.count >= 2, "bad manifest line: \(t)")
            precondition(parts[1] == "accept" || parts[1] == "reject", "bad verdict in manifest line: \(t)")
            out.append(Entry(name: String(parts[0]), accept: parts[1] == "accept",
                             note: parts.count > 2 ? parts[2].trimmingCharacters(in: .whitespaces) : ""))
        }
        return out
    }
}

final class TortureTests: XCTestCase {
    // MARK: helpers

    private func parse(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> SIPMessage {
        let b = try RFC4475.bytes(name)
        do {
            return try SIPMessage.parse(b)
        } catch {
            XCTFail("\(name): parse threw \(error.reason)", file: file, line: line)
            throw error
        }
    }

    /// A message is rejected when parse throws, or (for a parser that parses Via lazily) when the
    /// top Via cannot be parsed: either way the server answers 400 / drops it.
    private func isRejected(_ bytes: [UInt8]) -> (Bool, String) {
        do {
            let m = try SIPMessage.parse(bytes)
            do {
                _ = try m.topVia()
            } catch {
                return (true, "topVia: \(error.reason)")
            }
            return (false, "parsed")
        } catch {
            return (true, "parse: \(error.reason)")
        }
    }

    private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    // MARK: manifest-driven

    func testManifestCoversEveryFixture() throws {
        let names = Set(try RFC4475.manifest().map(\.name))
        XCTAssertEqual(names.count, 49, "RFC 4475 section 3 has 49 messages")
        let files = try FileManager.default.contentsOfDirectory(atPath: RFC4475.directory.path)
            .filter { $0.hasSuffix(".sip") }.map { String($0.dropLast(4)) }
        XCTAssertEqual(Set(files), names)
    }

    func testEveryMessageIsAcceptedOrRejectedAsTheManifestSays() throws {
        for e in try RFC4475.manifest() {
            let b = try RFC4475.bytes(e.name)
            let (rejected, why) = isRejected(b)
            if e.accept {
                XCTAssertFalse(rejected, "\(e.name) must be accepted (\(e.note)) but was rejected: \(why)")
            } else {
                XCTAssertTrue(rejected, "\(e.name) must be rejected (\(e.note)) but parsed")
            }
        }
    }

    /// Whatever the verdict, every accessor must be callable without crashing on every message.
    func testAccessorsNeverTrapOnAnyTortureMessage() throws {
        // Every accessor on every message that parses answers, and the answers agree with each other: a request has
        // a method and R-URI and no status, a reply the reverse; header() is the first of headers(); compact and long
        // names are the same header; nothing answers for an unknown or empty name.
        var parsed = 0
        for e in try RFC4475.manifest() {
            guard let m = try? SIPMessage.parse(try RFC4475.bytes(e.name)) else { continue }
            parsed += 1
            XCTAssertEqual(m.method != nil, m.isRequest, e.name)
            XCTAssertEqual(m.requestURIText != nil, m.isRequest, e.name)
            XCTAssertEqual(m.statusCode == nil, m.isRequest, e.name)
            XCTAssertEqual(m.reason == nil, m.isRequest, e.name)
            _ = (m.body.count, m.callID, m.cseqNumber, m.cseqMethod, m.fromURI, m.toURI, m.fromTag, m.toTag, try? m.topVia())
            for (long, short) in [("Via", "v"), ("From", "f"), ("To", "t"), ("Call-ID", "i"), ("Contact", "m"),
                                  ("Content-Length", "l"), ("Content-Type", "c")] {
                XCTAssertEqual(m.header(long), m.headers(long).first, "\(e.name) \(long)")
                XCTAssertEqual(m.headers(long), m.headers(short), "\(e.name) \(long)/\(short)")
            }
            XCTAssertEqual(m.headers("X-Unknown"), [], e.name)
            XCTAssertEqual(m.headers(""), [], e.name)
        }
        XCTAssertGreaterThan(parsed, 0, "no torture message parsed")
    }

    // MARK: 3.1.1 valid messages: field checks

    func test_3_1_1_1_wsinv() throws {
        let m = try parse("wsinv")
        XCTAssertTrue(m.isRequest)
        XCTAssertEqual(m.method, "INVITE")
        XCTAssertEqual(m.requestURIText, "sip:vivekg@chair-dnrc.example.com;unknownparam")
        XCTAssertEqual(m.callID, "wsinv.ndaksdj@192.0.2.1")
        // "cseq: 0009\r\n  INVITE": leading zeros, method on a continuation line
        XCTAssertEqual(m.cseqNumber, 9)
        XCTAssertEqual(m.cseqMethod, "INVITE")
        // "TO :\r\n sip:..." : LWS before the colon, value starts on a continuation line
        XCTAssertEqual(m.header("To"), "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n")
        XCTAssertEqual(m.toURI, "sip:vivekg@chair-dnrc.example.com")
        XCTAssertEqual(m.toTag, "1918181833n")
        // escaped characters within quotes, folded parameters
        XCTAssertEqual(m.header("from"), #""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#)
        XCTAssertEqual(m.fromURI, "sip:jdrosen@example.com")
        XCTAssertEqual(m.fromTag, "98asjd8")
        XCTAssertEqual(m.header("Max-Forwards"), "0068")
        // "s :" — empty Subject, in compact form
        XCTAssertEqual(m.header("Subject"), "")
        XCTAssertEqual(m.header("s"), "")
        XCTAssertEqual(m.header("NewFangledHeader"), "newfangled value continued newfangled value")
        XCTAssertEqual(m.header("UnknownHeaderWithUnusualValue"), ";;,,;;,;")
        XCTAssertEqual(m.header("Content-Type"), "application/sdp")
        XCTAssertEqual(m.header("Route"), "<sip:services.example.com;lr;unknownwith=value;unknown-no-value>")
        XCTAssertEqual(m.header("Contact"), #""Quoted string \"\"" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33"#)
        XCTAssertEqual(m.header("m"), m.header("Contact"))
        // "Via  :" and "v:" are two Via fields (the second with two values); headers() does not split
        XCTAssertEqual(m.headers("Via").count, 2)
        XCTAssertEqual(m.headers("v"), m.headers("Via"))
        XCTAssertEqual(m.headers("Via").first, "SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw")
        let top = try XCTUnwrap(try m.topVia())
        XCTAssertEqual(top.transport, "UDP")
        XCTAssertEqual(top.host, "192.0.2.2")
        XCTAssertNil(top.port)
        XCTAssertEqual(top.branch, "390skdjuw")
        let vias = try m.vias()
        XCTAssertEqual(vias.map(\.transport), ["UDP", "TCP", "UDP"])
        XCTAssertEqual(vias.map(\.host), ["192.0.2.2", "spindle.example.com", "192.168.255.111"])
        XCTAssertEqual(vias.map(\.branch), ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"])
        XCTAssertEqual(m.body.count, 150)
        XCTAssertEqual(m.body, Array(try RFC4475.bytes("wsinv").suffix(150)))
        XCTAssertTrue(text(m.body).hasPrefix("v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\n"))
    }

    func test_3_1_1_2_intmeth() throws {
        let m = try parse("intmeth")
        let method = "!interesting-Method0123456789_*+`.%indeed'~"
        XCTAssertEqual(m.method, method)
        XCTAssertEqual(m.cseqMethod, method)   // methods are case-sensitive and compared as they are
        XCTAssertEqual(m.cseqNumber, 139122385)
        XCTAssertEqual(m.requestURIText,
                       "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com")
        XCTAssertEqual(m.callID, #"intmeth.word%ZK-!.*_+'@word`~)(><:\/"][?}{"#)
        XCTAssertEqual(m.header("Max-Forwards"), "255")
        let top = try XCTUnwrap(try m.topVia())
        XCTAssertEqual(top.transport, "TCP")
        XCTAssertEqual(top.host, "host1.example.com")
        XCTAssertEqual(top.branch, "z9hG4bK-.!%66*_+`'~")
        // To: quoted-pairs with BEL, NUL and DEL octets; nothing may be cut at the NUL
        let to = Array(try XCTUnwrap(m.header("To")).utf8)
        XCTAssertEqual(to.prefix(7), Array(#""BEL:\"#.utf8) + [0x07])
        XCTAssertTrue(to.contains(0x00))
        XCTAssertTrue(to.contains(0x7F))
        XCTAssertTrue(m.header("To")!.hasSuffix("<sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>"))
        XCTAssertEqual(m.toURI, "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com")
        XCTAssertNil(m.toTag)
        XCTAssertEqual(m.fromURI, "sip:mundane@example.com")
        XCTAssertEqual(m.fromTag, "_token~1'+`*%!-.")
        XCTAssertTrue(m.header("From")!.contains(#"fromParam''~+*_!.-%="работающий""#))
        // unknown header whose name has every non-alphanumeric token character, UTF-8 value with a BOM
        XCTAssertEqual(m.header("extensionHeader-!.%*+_`'~"), "\u{FEFF}大停電")
        XCTAssertEqual(m.body, [])
    }

    func test_3_1_1_3_esc01() throws {
        let m = try parse("esc01")
        XCTAssertEqual(m.method, "INVITE")
        // escapes are kept as they are: the parser never unescapes
        XCTAssertEqual(m.requestURIText, "sip:sips%3Auser%40example.com@example.net")
        XCTAssertEqual(m.toURI, "sip:%75se%72@example.com")
        XCTAssertEqual(m.fromURI, "sip:I%20have%20spaces@example.net")
        XCTAssertEqual(m.fromTag, "938")
        XCTAssertEqual(m.callID, "esc01.239409asdfakjkn23onasd0-3234")   // "i:" compact form
        XCTAssertEqual(m.header("Content-Type"), "application/sdp")       // "C:" compact form, upper case
        XCTAssertEqual(m.header("Contact"), "<sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>")
        XCTAssertEqual(m.cseqNumber, 234234)
        XCTAssertEqual(try m.topVia()?.branch, "z9hG4bKkdjuw")
        XCTAssertEqual(m.body.count, 150)
    }

    func test_3_1_1_4_escnull() throws {
        let m = try parse("escnull")
        XCTAssertEqual(m.method, "REGISTER")
        XCTAssertEqual(m.toURI, "sip:null-%00-null@example.com")
        XCTAssertEqual(m.fromURI, "sip:null-%00-null@example.com")
        XCTAssertEqual(m.fromTag, "839923423")
        XCTAssertFalse(m.toURI!.utf8.contains(0))
        // two distinct contacts
        XCTAssertEqual(m.headers("Contact"), ["<sip:%00@host5.example.com>", "<sip:%00%00@host5.example.com>"])
        XCTAssertEqual(m.header("Content-Length"), "0")    // "L:0"
        XCTAssertEqual(m.body, [])
    }

    func test_3_1_1_5_esc02() throws {
        let m = try parse("esc02")
        XCTAssertEqual(m.method, "RE%47IST%45R")   // an unknown method, not REGISTER
        XCTAssertNotEqual(m.method, "REGISTER")
        XCTAssertEqual(m.cseqMethod, "RE%47IST%45R")
        XCTAssertEqual(m.header("To"), #""%Z%45" <sip:resource@example.com>"#)
        XCTAssertEqual(m.toURI, "sip:resource@example.com")
        XCTAssertEqual(m.fromTag, "f232jadfj23")
        // two Contact values, not three: C%6Fntact is an unknown header
        XCTAssertEqual(m.headers("Contact"), ["<sip:alias1@host1.example.com>", "<sip:alias3@host3.example.com>"])
        XCTAssertEqual(m.header("C%6Fntact"), "<sip:alias2@host2.example.com>")
        XCTAssertEqual(try m.topVia()?.branch, "z9hG4bK209%fzsnel234")
    }

    func test_3_1_1_6_lwsdisp() throws {
        let m = try parse("lwsdisp")
        XCTAssertEqual(m.method, "OPTIONS")
        XCTAssertEqual(m.header("From"), "caller<sip:caller@example.com>;tag=323")
        XCTAssertEqual(m.fromURI, "sip:caller@example.com")
        XCTAssertEqual(m.fromTag, "323")
        XCTAssertEqual(m.toURI, "sip:user@example.com")
        XCTAssertEqual(m.cseqNumber, 60)
    }

    func test_3_1_1_7_longreq() throws {
        let m = try parse("longreq")
        let long = { (n: Int) in String(repeating: "long", count: n) }
        XCTAssertEqual(m.method, "INVITE")
        XCTAssertEqual(m.callID, "longreq.one" + String(repeating: "really", count: 20) + "longcallid")
        XCTAssertEqual(m.cseqNumber, 3882340)
        XCTAssertEqual(m.toURI, "sip:user@example.com:6000;unknownparam1=very" + long(20) + "value;longparam"
                       + String(repeating: "name", count: 26) + "=shortvalue;very" + long(25) + "ParameterNameWithNoValue")
        XCTAssertEqual(m.fromURI, "sip:" + String(repeating: "amazinglylongcallername", count: 5) + "@example.net")
        XCTAssertEqual(m.fromTag, "1" + String(repeating: "298", count: 50) + "2424")
        XCTAssertEqual(m.header("Unknown-" + String(repeating: "Long", count: 20) + "-Name"),
                       "unknown-" + long(20) + "-value; unknown-" + long(20) + "-parameter-name = unknown-" + long(20)
                       + "-parameter-value")
        // 34 Via fields under 17 spellings (Via, v, V, ViA, "V :", "Via  :"...), one value each
        XCTAssertEqual(m.headers("Via").count, 34)
        XCTAssertEqual(m.headers("v").count, 34)
        let vias = try m.vias()
        XCTAssertEqual(vias.count, 34)
        XCTAssertEqual(vias.prefix(33).map(\.host), (1...33).reversed().map { "sip\($0).example.com" })
        XCTAssertEqual(vias.first?.transport, "TCP")
        XCTAssertEqual(vias.last?.host, "host.example.com")
        XCTAssertEqual(vias.last?.received, "192.0.2.5")
        XCTAssertEqual(vias.last?.branch, "very" + long(50) + "branchvalue")
        XCTAssertEqual(m.header("Max-Forwards"), "70")
        XCTAssertEqual(m.header("Content-Length"), "150")   // "l: 150"
        XCTAssertEqual(m.body.count, 150)
    }

    func test_3_1_1_8_dblreq() throws {
        let m = try parse("dblreq")
        XCTAssertEqual(m.method, "REGISTER")
        XCTAssertEqual(m.callID, "dblreq.0ha0isndaksdj99sdfafnl3lk233412")   // "I:"
        XCTAssertEqual(m.cseqMethod, "REGISTER")
        XCTAssertEqual(m.body, [])   // the INVITE after Content-Length: 0 is noise (RFC 3261 18.3)
        XCTAssertEqual(m.headers("Call-ID").count, 1)
        XCTAssertEqual(m.headers("To"), ["sip:j.user@example.com"])
        XCTAssertEqual(m.toURI, "sip:j.user@example.com")
        XCTAssertEqual(try m.topVia()?.branch, "z9hG4bKkdjuw23492")
    }

    func test_3_1_1_9_semiuri() throws {
        let m = try parse("semiuri")
        XCTAssertEqual(m.requestURIText, "sip:user;par=u%40example.net@example.com")
        XCTAssertEqual(m.header("Accept"),
                       "application/sdp, application/pkcs7-mime, multipart/mixed, multipart/signed, message/sip, message/sipfrag")
        XCTAssertEqual(m.fromTag, "33242")
    }

    func test_3_1_1_10_transports() throws {
        let m = try parse("transports")
        XCTAssertEqual(m.callID, "transports.kijh4akdnaqjkwendsasfdj")
        let vias = try m.vias()
        XCTAssertEqual(vias.map(\.transport), ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"])
        XCTAssertEqual(vias.map(\.host), ["t1.example.com", "t2.example.com", "t3.example.com", "t4.example.com", "t5.example.com"])
        XCTAssertEqual(m.headers("Via").count, 5)
    }

    func test_3_1_1_11_mpart01() throws {
        let raw = try RFC4475.bytes("mpart01")
        let m = try parse("mpart01")
        XCTAssertEqual(m.method, "MESSAGE")
        XCTAssertEqual(m.header("Content-Type"), "multipart/mixed;boundary=7a9cbec02ceef655")
        XCTAssertEqual(m.body.count, 553)
        XCTAssertEqual(m.body, Array(raw.suffix(553)))       // binary body intact, NUL/CR/LF octets included
        XCTAssertTrue(m.body.contains(0))
        XCTAssertTrue(text(m.body).hasPrefix("--7a9cbec02ceef655\r\nContent-Type: text/plain\r\n"))
        XCTAssertTrue(text(m.body).hasSuffix("\r\n--7a9cbec02ceef655--\r\n"))
        let top = try XCTUnwrap(try m.topVia())
        XCTAssertEqual(top.host, "127.0.0.1")
        XCTAssertEqual(top.port, 5070)
        XCTAssertEqual(top.branch, "z9hG4bK-d87543-4dade06d0bdb11ee-1--d87543-")
        XCTAssertTrue(top.params.contains { $0.name == "rport" && $0.value == nil })
        XCTAssertEqual(m.fromTag, "2fb0dcc9")
        XCTAssertEqual(m.callID, "3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA..")
    }

    func test_3_1_1_12_unreason() throws {
        let m = try parse("unreason")
        XCTAssertFalse(m.isRequest)
        XCTAssertNil(m.method)
        XCTAssertNil(m.requestURIText)
        XCTAssertEqual(m.statusCode, 200)
        XCTAssertEqual(m.reason, "= 2**3 * 5**2 но сто девяносто девять - простое")
        XCTAssertEqual(m.cseqMethod, "INVITE")
        XCTAssertEqual(m.cseqNumber, 35)
        XCTAssertEqual(m.toTag, "2229")
        XCTAssertEqual(m.fromTag, "11141343")
        XCTAssertEqual(m.body.count, 154)
    }

    func test_3_1_1_13_noreason() throws {
        let m = try parse("noreason")
        XCTAssertFalse(m.isRequest)
        XCTAssertEqual(m.statusCode, 100)
        XCTAssertEqual(m.reason, "")
        XCTAssertEqual(m.toTag, "902jndnke3")
        XCTAssertEqual(m.callID, "noreason.asndj203insdf99223ndf")
    }

    // MARK: accepted messages of 3.1.2 - 3.4 (only when the manifest says accept)

    private func accepted(_ name: String) throws -> SIPMessage? {
        guard try RFC4475.manifest().first(where: { $0.name == name })?.accept == true else { return nil }
        return try parse(name)
    }

    func test_3_1_2_liberallyAccepted() throws {
        if let m = try accepted("escruri") {
            XCTAssertEqual(m.requestURIText, "sip:user@example.com?Route=%3Csip:example.com%3E")
        }
        if let m = try accepted("baddate") {
            XCTAssertEqual(m.header("Date"), "Fri, 01 Jan 2010 16:00:00 EST")
        }
        if let m = try accepted("regbadct") {
            XCTAssertEqual(m.header("Contact"), "sip:user@example.com?Route=%3Csip:sip.example.com%3E")
        }
        if let m = try accepted("badvers") {
            XCTAssertEqual(m.method, "OPTIONS")
            XCTAssertEqual(m.requestURIText, "sip:t.watson@example.org")
        }
        if let m = try accepted("mismatch02") {
            XCTAssertEqual(m.method, "NEWMETHOD")
            XCTAssertEqual(m.cseqMethod, "INVITE")
            XCTAssertEqual(m.body.count, 138)
        }
    }

    func test_3_2_1_badbranch() throws {
        let m = try parse("badbranch")
        let top = try XCTUnwrap(try m.topVia())
        XCTAssertEqual(top.branch, "z9hG4bK")   // the magic cookie with no identifier
        XCTAssertEqual(top.host, "192.0.2.1")
        XCTAssertEqual(m.header("Accept"), "application/sdp")
    }

    func test_3_3_applicationLayer() throws {
        if let m = try accepted("unkscm") {
            XCTAssertEqual(m.requestURIText, "nobodyKnowsThisScheme:totallyopaquecontent")
        }
        if let m = try accepted("novelsc") {
            XCTAssertEqual(m.requestURIText, "soap.beep://192.0.2.103:3002")
        }
        if let m = try accepted("unksm2") {
            XCTAssertEqual(m.toURI, "isbn:2983792873")
            XCTAssertEqual(m.fromURI, "http://www.example.com")
            XCTAssertEqual(m.fromTag, "3234233")
            XCTAssertEqual(m.header("Contact"), "<name:John_Smith>")
        }
        if let m = try accepted("bext01") {
            XCTAssertEqual(m.header("Require"), "nothingSupportsThis, nothingSupportsThisEither")
            XCTAssertEqual(m.header("Proxy-Require"), "noProxiesSupportThis, norDoAnyProxiesSupportThis")
            XCTAssertEqual(try m.topVia()?.transport, "TLS")
        }
        if let m = try accepted("invut") {
            XCTAssertEqual(m.header("Content-Type"), "application/unknownformat")
            XCTAssertEqual(m.body, Array("<audio>\r\n <pcmu port=\"443\"/>\r\n</audio>\r\n".utf8))
        }
        if let m = try accepted("regaut01") {
            XCTAssertEqual(m.header("Authorization"), "NoOneKnowsThisScheme opaque-data=here")
            XCTAssertEqual(m.header("Content-Length"), "0")
            XCTAssertEqual(m.body, [])
        }
        if let m = try accepted("bcast") {
            XCTAssertEqual(m.statusCode, 200)
            XCTAssertEqual(m.reason, "OK")
            XCTAssertEqual(try m.vias().map(\.host), ["192.0.2.198", "255.255.255.255"])
            XCTAssertEqual(m.body.count, 154)
        }
        if let m = try accepted("zeromf") {
            XCTAssertEqual(m.header("Max-Forwards"), "0")
        }
        if let m = try accepted("cparam01") {
            XCTAssertEqual(m.header("Contact"), "sip:+19725552222@gw1.example.net;unknownparam")
        }
        if let m = try accepted("cparam02") {
            XCTAssertEqual(m.header("Contact"), "<sip:+19725552222@gw1.example.net;unknownparam>")
        }
        if let m = try accepted("regescrt") {
            XCTAssertEqual(m.header("Contact"), "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>")   // "M:"
            XCTAssertEqual(m.body, [])
        }
        if let m = try accepted("sdp01") {
            XCTAssertEqual(m.header("Accept"), "text/nobodyKnowsThis")
            XCTAssertEqual(m.body.count, 150)
        }
    }

    func test_3_4_1_inv2543() throws {
        let raw = try RFC4475.bytes("inv2543")
        let m = try parse("inv2543")
        XCTAssertEqual(m.method, "INVITE")
        XCTAssertEqual(m.callID, "inv2543.1717@ift.client.example.com")
        XCTAssertEqual(m.cseqNumber, 56)
        XCTAssertNil(m.header("Max-Forwards"))
        XCTAssertNil(m.header("Content-Length"))
        let top = try XCTUnwrap(try m.topVia())
        XCTAssertEqual(top.host, "iftgw.example.com")
        XCTAssertNil(top.branch)
        XCTAssertEqual(m.fromURI, "sip:+13035551111@ift.client.example.net;user=phone")
        // no Content-Length over UDP: the body is the rest of the datagram
        XCTAssertEqual(m.body.count, 105)
        XCTAssertEqual(m.body, Array(raw.suffix(105)))
        XCTAssertTrue(text(m.body).hasSuffix("m=audio 49217 RTP/AVP 0\r\n"))
    }
}
