import Foundation
import XCTest
import SwitchyardTestSupport

/// A request with a binary (non-UTF-8) body part, a compact `l:` Content-Length, forwarded to a TCP peer: the header
/// rewrites still work, remove_body_part keeps the other part byte for byte, the Content-Length line (as written,
/// `l:`) carries the new body's length so the stream is framed, and a text edit of that line is refused.
final class BinaryBodyTests: TextOpsTestCase {
    func testBinaryPartOverTCPWithCompactLength() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, peerPort, caller) = (ports[0], ports[1], ports[2])
        let peer = try TCPPeer(port: peerPort)
        let sy = try startSwitchyard("""
        log_level = 3
        udp_workers = 2
        socket = udp:127.0.0.1:\(proxy)
        socket = tcp:127.0.0.1:\(proxy)
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "proto_udp.so"
        loadmodule "proto_tcp.so"
        loadmodule "textops.so"
        loadmodule "sipmsgops.so"
        route {
            if (replace("X-Tag: a", "X-Tag: b")) append_hf("X-Replaced: 1\\r\\n");
            if (!replace_all("^l: [0-9]+", "l: 1")) append_hf("X-Length-Kept: 1\\r\\n");
            if (remove_body_part("application/sdp")) append_hf("X-Removed: 1\\r\\n");
            $du = "sip:127.0.0.1:\(peerPort);transport=tcp";
            forward();
        }
        """, port: proxy)
        // An ISUP-like part: bytes that are not UTF-8.
        let isup: [UInt8] = [0x01, 0x83, 0x90, 0xff, 0xfe, 0x0a, 0x83, 0x41]
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
        let body = Array("--XX\r\nContent-Type: application/sdp\r\n\r\n\(sdp)\r\n--XX\r\nContent-Type: application/isup\r\n\r\n".utf8)
            + isup + Array("\r\n--XX--\r\n".utf8)
        let head = ["INVITE sip:bob@127.0.0.1:\(proxy) SIP/2.0",
                    "Via: SIP/2.0/UDP 127.0.0.1:\(caller);branch=z9hG4bK-bin1",
                    "From: <sip:alice@127.0.0.1:\(caller)>;tag=a1",
                    "To: <sip:bob@127.0.0.1:\(proxy)>",
                    "Call-ID: textops-binary",
                    "CSeq: 1 INVITE",
                    "Max-Forwards: 70",
                    "X-Tag: a",
                    "Content-Type: multipart/mixed;boundary=XX",
                    "l: \(body.count)", "", ""].joined(separator: "\r\n")
        let socket = try UDPSocket(port: caller)
        socket.send(bytes: Array(head.utf8) + body, to: proxy)

        let got = try XCTUnwrap(peer.receiveMessage(timeout: 10), sy.output)
        let text = String(decoding: got.head, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        for line in ["X-Tag: b", "X-Replaced: 1", "X-Length-Kept: 1", "X-Removed: 1", "l: \(got.body.count)"] {
            XCTAssertTrue(lines.contains(line), "\(line) in\n\(text)\n\(sy.output)")
        }
        XCTAssertEqual(lines.filter { $0.lowercased().hasPrefix("l:") || $0.lowercased().hasPrefix("content-length:") }.count,
                       1, text)
        let expected = Array("--XX\r\nContent-Type: application/isup\r\n\r\n".utf8) + isup + Array("\r\n--XX--\r\n".utf8)
        XCTAssertEqual(got.body, expected, text)
    }


    /// sipmsgops's SDP rewrites through t_relay keep the bytes they do not edit: a Latin-1 `s=` line and a line of
    /// bytes that are not UTF-8 reach the callee exactly as sent (not as U+FFFD), the edited m= line and the dropped
    /// lines as OpenSIPS makes them, and the Content-Length is the body's.
    func testSDPRewritesKeepLatin1BytesThroughTRelay() throws {
        let ports = LocalPorts.freePorts(3)
        let (proxy, peerPort, caller) = (ports[0], ports[1], ports[2])
        let peer = try TCPPeer(port: peerPort)
        let sy = try startSwitchyard("""
        log_level = 3
        udp_workers = 2
        socket = udp:127.0.0.1:\(proxy)
        socket = tcp:127.0.0.1:\(proxy)
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "proto_udp.so"
        loadmodule "proto_tcp.so"
        loadmodule "tm.so"
        loadmodule "sipmsgops.so"
        route {
            if (codec_delete("G729")) append_hf("X-Deleted: 1\\r\\n");
            if (codec_move_up("PCMA")) append_hf("X-Moved: 1\\r\\n");
            if (stream_delete("video")) append_hf("X-Stream: 1\\r\\n");
            $du = "sip:127.0.0.1:\(peerPort);transport=tcp";
            t_relay();
        }
        """, port: proxy)
        func b(_ s: String) -> [UInt8] { Array(s.utf8) }
        let latin1: [UInt8] = b("s=") + [0xe9, 0x74, 0xe9] + b("\r\n")  // "s=été" in Latin-1
        let junk: [UInt8] = b("i=") + [0x80, 0xff, 0xc3] + b("\r\n")    // no text at all
        let info: [UInt8] = b("i=caf") + [0xe9] + b("\r\n")              // a media title in Latin-1
        let head = b("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n") + latin1 + junk + b("c=IN IP4 127.0.0.1\r\nt=0 0\r\n")
        let body = head + b("m=audio 9 RTP/AVP 0 8 18\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\n")
            + info + b("m=video 9 RTP/AVP 31\r\n")
        let request = ["INVITE sip:bob@127.0.0.1:\(proxy) SIP/2.0",
                       "Via: SIP/2.0/UDP 127.0.0.1:\(caller);branch=z9hG4bK-latin1",
                       "From: <sip:alice@127.0.0.1:\(caller)>;tag=a1",
                       "To: <sip:bob@127.0.0.1:\(proxy)>",
                       "Call-ID: textops-latin1",
                       "CSeq: 1 INVITE",
                       "Max-Forwards: 70",
                       "Content-Type: application/sdp",
                       "Content-Length: \(body.count)", "", ""].joined(separator: "\r\n")
        let socket = try UDPSocket(port: caller)
        socket.send(bytes: Array(request.utf8) + body, to: proxy)

        let got = try XCTUnwrap(peer.receiveMessage(timeout: 10), sy.output)
        let text = String(decoding: got.head, as: UTF8.self)
        let lines = text.components(separatedBy: "\r\n")
        for line in ["X-Deleted: 1", "X-Moved: 1", "X-Stream: 1", "Content-Length: \(got.body.count)"] {
            XCTAssertTrue(lines.contains(line), "\(line) in\n\(text)\n\(sy.output)")
        }
        let expected = head + b("m=audio 9 RTP/AVP 8 0\r\n") + info
        XCTAssertEqual(got.body, expected, String(decoding: got.body, as: UTF8.self))
    }
}

/// A TCP listener that takes one connection and reads one SIP message framed by its Content-Length (or `l:`).
final class TCPPeer {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "socket", code: Int(errno)) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = LocalPorts.loopback(port: port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, listen(fd, 4) == 0 else { close(fd); throw NSError(domain: "bind", code: Int(errno)) }
    }

    deinit { close(fd) }

    /// The first message on the first connection: header bytes (up to and without the empty line) and exactly the
    /// body its length header announces; nil on a timeout or a message without one.
    func receiveMessage(timeout: TimeInterval) -> (head: [UInt8], body: [UInt8])? {
        let end = Date().addingTimeInterval(timeout)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(timeout * 1000)) > 0 else { return nil }
        let conn = accept(fd, nil, nil)
        guard conn >= 0 else { return nil }
        defer { close(conn) }
        var got: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while Date() < end {
            if let blank = Self.headerEnd(got) {
                let head = Array(got[..<blank])
                let text = String(decoding: head, as: UTF8.self)
                guard let line = text.components(separatedBy: "\r\n").first(where: {
                    $0.lowercased().hasPrefix("l:") || $0.lowercased().hasPrefix("content-length:")
                }), let n = Int(line[line.index(after: line.firstIndex(of: ":")!)...].trimmingCharacters(in: .whitespaces)) else {
                    return nil
                }
                if got.count >= blank + 4 + n { return (head, Array(got[(blank + 4)..<(blank + 4 + n)])) }
            }
            var p = pollfd(fd: conn, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 100) >= 0 else { return nil }
            if p.revents == 0 { continue }
            let n = recv(conn, &buf, buf.count, 0)
            if n <= 0 { return nil }
            got += buf[0..<n]
        }
        return nil
    }

    static func headerEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }
}
