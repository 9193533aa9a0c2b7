import Foundation
import XCTest
import SwitchyardTestSupport

/// What the signaling tests share: sipp peers around switchyard (`SippTestCase`) with the tm scenarios (Tests/SIP/tm,
/// then Tests/SIP), a config head, and a raw UDP caller for retransmissions.
class SignalingTestCase: SippTestCase {
    override class var workDirPrefix: String { "sy-signaling" }

    override class func scenario(_ name: String) -> String {
        let tm = Repo.root.appendingPathComponent("Tests/SIP/tm").appendingPathComponent(name).path
        return FileManager.default.fileExists(atPath: tm) ? tm : Repo.sipScenario(name)
    }

    /// One UDP socket, this build's modules, proto_udp, tm when `tm`, and signaling. One worker: requests are
    /// handled in the order they are sent.
    static func config(port: Int, tm: Bool) -> String {
        """
        log_level = 3
        udp_workers = 1
        socket = udp:127.0.0.1:\(port)
        mpath = "\(BinaryRunner.buildDirectory.path)"
        loadmodule "proto_udp.so"
        \(tm ? "loadmodule \"tm.so\"" : "")
        loadmodule "signaling.so"

        """
    }

    /// An INVITE as a caller on `local` sends it (a fixed branch: sent twice, it is a retransmission).
    static func invite(user: String, proxy: Int, local: Int, callID: String, branch: String) -> String {
        "INVITE sip:\(user)@127.0.0.1:\(proxy) SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 127.0.0.1:\(local);branch=\(branch)\r\n"
            + "From: <sip:caller@127.0.0.1:\(local)>;tag=c1\r\n"
            + "To: <sip:\(user)@127.0.0.1:\(proxy)>\r\n"
            + "Call-ID: \(callID)\r\n"
            + "CSeq: 1 INVITE\r\n"
            + "Contact: <sip:caller@127.0.0.1:\(local)>\r\n"
            + "Max-Forwards: 70\r\n"
            + "Content-Length: 0\r\n\r\n"
    }

    /// The next datagram whose first line starts with `prefix`, within `timeout`.
    static func receive(_ s: UDPSocket, startingWith prefix: String, timeout: TimeInterval = 5) -> String? {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end {
            if let (m, _) = s.receive(), m.hasPrefix(prefix) { return m }
        }
        return nil
    }

    static func toTag(_ msg: String) -> String? {
        for line in msg.components(separatedBy: "\r\n") where line.lowercased().hasPrefix("to:") {
            guard let r = line.range(of: ";tag=") else { return nil }
            return String(line[r.upperBound...].prefix { $0 != ";" && $0 != ">" })
        }
        return nil
    }

    /// How many lines of the output contain `text`.
    static func count(_ output: String, _ text: String) -> Int {
        output.components(separatedBy: "\n").filter { $0.contains(text) }.count
    }
}
