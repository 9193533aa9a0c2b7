import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardTestSupport

/// What the tm tests share: sipp peers and switchyard (`SippTestCase`), the repository's tm scenarios, and a raw UDP
/// endpoint for the side of a call sipp cannot play (retransmitting on purpose).
class TMTestCase: SippTestCase {
    static let repoRoot: URL = Repo.root
    override class var workDirPrefix: String { "sy-tm" }
    /// Tests/SIP/tm first, then Tests/SIP.
    override class func scenario(_ name: String) -> String {
        let tm = repoRoot.appendingPathComponent("Tests/SIP/tm").appendingPathComponent(name).path
        if FileManager.default.fileExists(atPath: tm) { return tm }
        return Repo.sipScenario(name)
    }

    static func which(_ name: String) -> String? { LocalPorts.which(name) }

    // MARK: ports

    static func loopback(port: Int) -> sockaddr_in { LocalPorts.loopback(port: port) }

    /// True when something is bound to 127.0.0.1:port (UDP, or TCP when `tcp`).
    static func portInUse(_ port: Int, tcp: Bool = false) -> Bool { LocalPorts.inUse(port, tcp: tcp) }

    static func waitForPort(_ port: Int, tcp: Bool = false, timeout: TimeInterval = 10, while alive: () -> Bool) -> Bool {
        LocalPorts.waitFor(port, tcp: tcp, timeout: timeout, while: alive)
    }

    /// Polls `cond` until it holds or `timeout` passes.
    @discardableResult
    func waitUntil(_ timeout: TimeInterval, _ cond: () -> Bool) -> Bool {
        SwitchyardTestSupport.waitUntil(timeout: timeout, poll: 0.02, cond)
    }

    // MARK: processes

    typealias Sipp = SippProcess

    /// A UAS run ends with SIGTERM; its calls completed when its trace shows the last message of each.
    func uasCompleted(_ uas: Sipp, lastReceived: String, calls: Int, timeout: TimeInterval = 10) -> Bool {
        waitUntil(timeout) { uas.received(lastReceived) >= calls }
    }

    /// The head of a config: one socket, the module path of this build, tm.
    static func config(port: Int, proto: String = "udp", extra: String = "") -> String {
        """
        log_level = 3
        udp_workers = 2
        socket = \(proto):127.0.0.1:\(port)
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "proto_\(proto).so"
        loadmodule "tm.so"
        \(extra)
        """
    }
}

/// A plain UDP endpoint on 127.0.0.1 playing the caller or the callee by hand.
final class RawSIP {
    private(set) var fd: Int32
    let port: Int

    init(port: Int) throws {
        self.port = port
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw NSError(domain: "socket", code: Int(errno)) }
        var addr = TMTestCase.loopback(port: port)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(fd); throw NSError(domain: "bind", code: Int(errno)) }
    }

    deinit { if fd >= 0 { close(fd) } }

    func send(_ text: String, to port: Int) {
        var addr = TMTestCase.loopback(port: port)
        let bytes = Array(text.utf8)
        _ = withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }

    /// The next datagram, or nil after `timeout`.
    func receive(timeout: TimeInterval) -> String? {
        var buf = [UInt8](repeating: 0, count: 65536)
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            var tv = timeval(tv_sec: 0, tv_usec: 50_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let n = recv(fd, &buf, buf.count, 0)
            if n > 0 { return String(decoding: buf[0..<n], as: UTF8.self) }
        }
        return nil
    }

    /// Datagrams until one starts with `prefix` (returned last), or nil after `timeout`.
    func receive(startingWith prefix: String, timeout: TimeInterval, seen: inout [String]) -> String? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            guard let m = receive(timeout: end.timeIntervalSinceNow) else { return nil }
            seen.append(m)
            if m.hasPrefix(prefix) { return m }
        }
        return nil
    }

    /// Everything received during `duration`.
    func drain(_ duration: TimeInterval) -> [String] {
        var out: [String] = []
        let end = Date().addingTimeInterval(duration)
        while Date() < end { if let m = receive(timeout: end.timeIntervalSinceNow) { out.append(m) } }
        return out
    }

    static func header(_ msg: String, _ name: String) -> String? {
        for l in msg.components(separatedBy: "\r\n") where l.lowercased().hasPrefix(name.lowercased() + ":") {
            return String(l.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    /// A request as a UAC sends it (`branch` fixed, so that sending it twice is a retransmission).
    static func request(_ method: String, ruri: String, localPort: Int, branch: String, callID: String, cseq: Int = 1,
                        cseqMethod: String? = nil, to: String? = nil, body: String = "") -> String {
        "\(method) \(ruri) SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 127.0.0.1:\(localPort);branch=\(branch)\r\n"
            + "From: <sip:caller@127.0.0.1:\(localPort)>;tag=raw\(callID.hashValue & 0xffff)\r\n"
            + "To: \(to ?? "<\(ruri)>")\r\n"
            + "Call-ID: \(callID)\r\n"
            + "CSeq: \(cseq) \(cseqMethod ?? method)\r\n"
            + "Contact: <sip:caller@127.0.0.1:\(localPort)>\r\n"
            + "Max-Forwards: 70\r\n"
            + (body.isEmpty ? "" : "Content-Type: text/plain\r\n")
            + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
    }
}
