import XCTest
import SwitchyardSIP
@testable import SwitchyardCore

/// The core's credential variables read the first Proxy-Authorization header, else the first Authorization one, as
/// OpenSIPS's pv_get_authattr: null without credentials, on an ACK or CANCEL, on a reply, for a non-Digest header, or
/// for an empty field. With the message variables of the same batch ($hdr_name, $mi, $oP, $Au, $ru_q, $argv) on real
/// messages.
final class CredentialPVTests: XCTestCase {
    static func request(_ method: String = "INVITE", uri: String = "sip:b@x;transport=tcp", headers: [String]) -> [UInt8] {
        Array(([
            "\(method) \(uri) SIP/2.0",
            "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1",
            "From: <sip:alice@a.example>;tag=1",
            "To: <sip:b@x>",
            "Call-ID: cred@test",
            "CSeq: 1 \(method)",
        ] + headers + ["Content-Length: 0", "", ""]).joined(separator: "\r\n").utf8)
    }

    static let digest = "Digest username=\"alice@a.example\", realm=\"a.example\", nonce=\"n0nce\", "
        + "uri=\"sip:b@x\", response=\"0123abcd\", algorithm=MD5, opaque=\"op\", qop=auth, nc=00000001, cnonce=\"c\""

    static let reply = Array([
        "SIP/2.0 200 OK",
        "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-1",
        "From: <sip:alice@a.example>;tag=1",
        "To: <sip:b@x>;tag=2",
        "Call-ID: cred@test",
        "CSeq: 1 INVITE",
        "Proxy-Authorization: " + digest,
        "Content-Length: 0", "", "",
    ].joined(separator: "\r\n").utf8)

    /// Each message as a module would supply it in a `$(<name>pv)` context; `number` is what the receiving worker
    /// gave it ($mi).
    static func register(_ engine: ScriptEngine) throws {
        let msgs: [(String, [UInt8])] = [
            ("auth", request(headers: ["Authorization: " + digest])),
            ("proxy", request(headers: ["Authorization: Digest username=\"www\", realm=\"w\"",
                                        "Proxy-Authorization: Digest username=\"bob\",realm=\"p\\\"q\",nonce=abc"])),
            ("ack", request("ACK", headers: ["Authorization: " + digest])),
            ("basic", request(headers: ["Authorization: Basic YWxpY2U6c2VjcmV0"])),
            ("none", request(headers: [])),
            ("sips", request(uri: "sips:b@x", headers: [])),
            ("reply", reply),
            ("nouser", request(headers: ["Authorization: Digest realm=\"r\", nonce=\"n\""])),
        ]
        for (n, (name, raw)) in msgs.enumerated() {
            let msg = try SIPMessage.parse(raw)
            msg.number = UInt32(7 + n)
            try engine.register(pvContext: PVContext(name: name, module: "test", source: .native { _ in
                ScriptMessage(sip: msg, origin: nil)
            }))
        }
    }

    func testDigestFields() {
        let h = ScriptHarness("""
        route {
            xlog("au=$(<auth>au) ad=$(<auth>ad) aU=$(<auth>aU) ar=$(<auth>ar) adu=$(<auth>adu) an=$(<auth>an)\\n");
            xlog("nonce=$(<auth>auth.nonce) resp=$(<auth>auth.resp) cnonce=$(<auth>auth.cnonce) opaque=$(<auth>auth.opaque) alg=$(<auth>auth.alg) qop=$(<auth>auth.qop) nc=$(<auth>auth.nc)\\n");
            xlog("proxy au=$(<proxy>au) ad=[$(<proxy>ad)] ar=$(<proxy>ar) an=$(<proxy>an) alg=[$(<proxy>auth.alg)]\\n");
            xlog("none au=$(<none>au) ack=$(<ack>au) basic=$(<basic>aU) dummy=$au $ar reply=$(<reply>au) cnonce=[$(<proxy>auth.cnonce)] nouser=$(<nouser>au)/$(<nouser>ar)\\n");
        }
        """, setup: Self.register)
        h.run()
        XCTAssertEqual(h.output, [
            "au=alice ad=a.example aU=alice@a.example ar=a.example adu=sip:b@x an=n0nce",
            "nonce=n0nce resp=0123abcd cnonce=c opaque=op alg=MD5 qop=auth nc=00000001",
            "proxy au=bob ad=[<null>] ar=p\\\"q an=abc alg=[<null>]",
            "none au=<null> ack=<null> basic=<null> dummy=<null> <null> reply=<null> cnonce=[<null>] nouser=<null>/r",
        ])
    }

    func testMessageVariables() {
        let h = ScriptHarness("""
        route {
            xlog("hn=$(<auth>hdr_name) all=[$(<auth>hdr_name[*])] last=$(<auth>hdr_name[-1]) out=[$(<auth>hdr_name[9])]\\n");
            xlog("oP=$(<auth>oP) oP0=$(<none>oP) sips=$(<sips>oP) reply=$(<reply>oP) Au=$(<auth>Au) Au0=$(<none>Au) argv=$argv(who) missing=$argv(nope) empty=$argv(empty)\\n");
            xlog("mi=$(<auth>mi) again=$(<auth>mi) other=$(<none>mi) first=$(<auth>mi) dummy=$mi\\n");
            xlog("ruq=$ru_q reply=$(<reply>ru_q)\\n");
            $ru_q = 700;
            xlog("ruq=$ru_q\\n");
            $ru_q = NULL;
            xlog("ruq=$ru_q\\n");
            $ru_q = 5000;
            xlog("ruq=$ru_q\\n");
        }
        """, setup: { engine in
            try Self.register(engine)
            engine.argv = ["who": "world", "empty": ""]
        })
        h.run()
        XCTAssertEqual(h.output, [
            "hn=Via all=[Via, From, To, Call-ID, CSeq, Authorization, Content-Length] last=Content-Length out=[<null>]",
            "oP=tcp oP0=tcp sips=tls reply=<null> Au=alice@a.example Au0=alice@a.example argv=world missing=<null> empty=<null>",
            "mi=7 again=7 other=11 first=7 dummy=0",
            "ruq=-1 reply=<null>",
            "ruq=700",
            "ruq=700",
            "ruq=1000",
        ])
    }

    func testStartupErrors() {
        let diags = diagnosticsOf("route { xlog(\"$socket_out(colour)\"); }")
        XCTAssertTrue(diags.contains { $0.contains("$socket_out(colour): unknown field") }, diags.joined(separator: "\n"))
        XCTAssertTrue(diagnosticsOf("route { xlog(\"$(var(x){s.md5_hmac,k})\"); }").contains { $0.contains("unknown transformation s.md5_hmac") })
        XCTAssertTrue(diagnosticsOf("route { xlog(\"$(var(x){s.sha1_hmac})\"); }").contains { $0.contains("needs a key") })
        XCTAssertTrue(diagnosticsOf("route { xlog(\"$(var(x){sdp.line,m,-1})\"); }").contains { $0.contains("negative") })
        // OpenSIPS fails the read with "unsupported index: [*]"; here the config does not start.
        XCTAssertTrue(diagnosticsOf("route { xlog(\"$(route.name[*])\"); }").contains { $0.contains("unsupported index: [*]") })
        XCTAssertTrue(diagnosticsOf("route { xlog(\"$(route.type[*])\"); }").contains { $0.contains("unsupported index: [*]") })
        XCTAssertEqual(diagnosticsOf("route { xlog(\"$socket_out(TAG) $socket_out(anycast) $socket_out(forced) $socket_in(tag)\"); }"), [])
        XCTAssertTrue(diagnosticsOf("route { xlog(\"$socket_out(name)\"); }").contains { $0.contains("$socket_out(name): unknown field") })
    }

    /// `{s.eval}` runs on worker threads: a `$var` name the script itself never uses gets no slot while serving; it
    /// reads as null, as the unset variable would. A module's variable fails the evaluation (not tested: no module).
    func testEvalReadsOnlyNamesKnownAtStartup() {
        let h = ScriptHarness("""
        route {
            $var(who) = "w";
            $var(t) = "a $var(who) b $var(nosuch) c";
            xlog("[$(var(t){s.eval})]\\n");
            $var(u) = "x $var(who) y $(var(who){s.toupper})";
            xlog("[$(var(u){s.eval})]\\n");
        }
        """)
        h.run()
        XCTAssertEqual(h.output, ["[a w b <null> c]", "[x w y W]"])
        XCTAssertNil(h.engine.varSlots.lookup("nosuch"))
    }
}
