import Foundation
import XCTest
import SwitchyardTestSupport

/// codec_exists, codec_exists_re, stream_exists and is_audio_on_hold on SDP bodies sent byte for byte over UDP.
final class SDPTests: MsgOpsTestCase {
    static let route = """
    route {
        if (codec_exists("pcmu")) xlog("L_NOTICE", "$ci: pcmu\\n");
        if (codec_exists("G729", "8000")) xlog("L_NOTICE", "$ci: g729\\n");
        if (codec_exists("telephone-event")) xlog("L_NOTICE", "$ci: dtmf\\n");
        if (codec_exists("opus")) xlog("L_NOTICE", "$ci: opus\\n");
        if (codec_exists_re("^sp[a-z]+$")) xlog("L_NOTICE", "$ci: speex\\n");
        if (stream_exists("video")) xlog("L_NOTICE", "$ci: video\\n");
        if (stream_exists("image")) xlog("L_NOTICE", "$ci: image\\n");
        is_audio_on_hold();
        xlog("L_NOTICE", "$ci: hold=$rc\\n");
        exit;
    }
    """

    func testSDPTests() throws {
        let (sy, p) = try startSwitchyard(ports: 1) { Self.config(port: $0[0]) + Self.route }
        let caller = try UDPSocket()
        func sdp(_ c: String, _ media: [String]) -> String {
            (["v=0", "o=- 1 1 IN IP4 127.0.0.1", "s=-", c, "t=0 0"] + media).joined(separator: "\r\n") + "\r\n"
        }
        let cases: [(id: String, type: String, body: String, expect: [String], hold: String)] = [
            // Static PCMU (no rtpmap), G729 by rtpmap, telephone-event, speex; a video stream; not on hold.
            ("sdp-active", "application/sdp",
             sdp("c=IN IP4 127.0.0.1", ["m=audio 4000 RTP/AVP 0 18 101 97", "a=rtpmap:101 telephone-event/8000",
                                         "a=rtpmap:97 speex/16000", "a=sendrecv", "m=video 4002 RTP/AVP 31"]),
             ["pcmu", "g729", "dtmf", "speex", "video"], "-1"),
            // An rtpmap whose payload is not on the m= line does not count; c=0.0.0.0 is RFC 2543 hold.
            ("sdp-hold0", "application/sdp",
             sdp("c=IN IP4 0.0.0.0", ["m=audio 4000 RTP/AVP 8", "a=rtpmap:111 opus/48000/2"]), [], "1"),
            // a=sendonly is RFC 3264 hold; a fax stream.
            ("sdp-sendonly", "application/sdp",
             sdp("c=IN IP4 127.0.0.1", ["m=audio 4000 RTP/AVP 111", "a=rtpmap:111 opus/48000/2", "a=sendonly",
                                         "m=image 4004 udptl t38"]), ["opus", "image"], "2"),
            // The SDP part of a multipart body.
            ("sdp-multipart", "multipart/mixed;boundary=XX",
             "--XX\r\nContent-Type: application/sdp\r\n\r\n"
                + sdp("c=IN IP4 127.0.0.1", ["m=audio 4000 RTP/AVP 0", "a=inactive"])
                + "--XX\r\nContent-Type: text/plain\r\n\r\nm=video 1 RTP/AVP 31\r\n--XX--\r\n", ["pcmu"], "2"),
            // No SDP at all.
            ("sdp-none", "text/plain", "m=audio 4000 RTP/AVP 0\r\n", [], "-1"),
        ]
        for c in cases {
            let msg = (["INVITE sip:bob@127.0.0.1:\(p[0]) SIP/2.0",
                        "Via: SIP/2.0/UDP 127.0.0.1:\(caller.port);branch=z9hG4bK-\(c.id)",
                        "From: <sip:a@127.0.0.1>;tag=a1", "To: <sip:b@127.0.0.1>", "Call-ID: \(c.id)", "CSeq: 1 INVITE",
                        "Contact: <sip:a@127.0.0.1:\(caller.port)>", "Max-Forwards: 70", "Content-Type: \(c.type)",
                        "Content-Length: \(c.body.utf8.count)", "", c.body]).joined(separator: "\r\n")
            caller.send(msg, to: p[0])
            XCTAssertTrue(sy.waitFor("\(c.id): hold=\(c.hold)"), "\(c.id)\n\(sy.output)")
        }
        let out = sy.output
        for c in cases {
            for label in ["pcmu", "g729", "dtmf", "opus", "speex", "video", "image"] {
                XCTAssertEqual(Self.count(out, "\(c.id): \(label)"), c.expect.contains(label) ? 1 : 0, "\(c.id) \(label)\n\(out)")
            }
        }
    }
}
