import Foundation
import Synchronization

/// MI load for the event-scenario benchmark: client threads POSTing `get_statistics all` to mi_http back to back, a
/// new TCP connection per request as opensips-cli makes, until stopped.
final class MIBurst: @unchecked Sendable { // threads are started and joined by the owner
    let port: Int
    let served = Atomic<Int>(0)
    let failed = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private let done = DispatchGroup()
    static let request = Array(#"{"jsonrpc":"2.0","method":"get_statistics","params":[["all"]],"id":1}"#.utf8)

    init(port: Int) { self.port = port }

    /// A free TCP port on 127.0.0.1 (bound and released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &sa) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { s -> Int32 in
                _ = bind(fd, s, len)
                return getsockname(fd, s, &len)
            }
        }
        return Int(UInt16(bigEndian: sa.sin_port))
    }

    func start(threads: Int) {
        running.store(true, ordering: .relaxed)
        for _ in 0..<threads {
            done.enter()
            Thread { [self] in
                while running.load(ordering: .relaxed) {
                    if once() { served.add(1, ordering: .relaxed) } else { failed.add(1, ordering: .relaxed) }
                }
                done.leave()
            }.start()
        }
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        done.wait()
    }

    /// One statistic (`group:name`) read through mi_http's get_statistics, or nil.
    static func statistic(port: Int, _ name: String) -> Int? {
        let fd = loopbackTCP(port: port)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let body = Array(#"{"jsonrpc":"2.0","method":"get_statistics","params":[["\#(name)"]],"id":1}"#.utf8)
        let req = Array("POST /mi HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
        guard req.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == req.count else { return nil }
        var reply: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let k = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if k <= 0 { break }
            reply += buf[..<k]
        }
        let text = String(decoding: reply, as: UTF8.self)
        guard let r = text.range(of: "\"\(name)\":") else { return nil }
        return Int(text[r.upperBound...].drop(while: { $0 == " " }).prefix(while: { $0.isNumber }))
    }

    private func once() -> Bool {
        let fd = loopbackTCP(port: port)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let req = Array("POST /mi HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: \(MIBurst.request.count)\r\n\r\n".utf8) + MIBurst.request
        guard req.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == req.count else { return false }
        var buf = [UInt8](repeating: 0, count: 65536)
        var got = 0
        while true {
            let k = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if k <= 0 { break }
            got += k
        }
        return got > 12 && buf[9] == UInt8(ascii: "2")
    }
}
