import Foundation
import SwitchyardCore

/// `switchyard-bench mi [requests]`: sequential `version` requests over the MI transports, as a client sees them.
/// FIFO: opensips-cli's handshake per request (mkfifo a reply FIFO, write `:name:{json}` into the server FIFO, open the
/// reply FIFO, read the reply to EOF, unlink). Datagram: one request datagram from a bound UNIX socket, one reply.
/// HTTP: a POST to /mi on a new TCP connection per request (as opensips-cli's urllib does), and on one keep-alive one.
extension Bench {
    static func miThroughput(requests: Int) throws {
        let dir = "/tmp/sy-bench-mi-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let httpPort = 20_000 + Int(getpid() % 20_000)
        let s = try server("""
        mpath = "\(buildDir.path)"
        loadmodule "mi_fifo.so"
        loadmodule "mi_datagram.so"
        modparam("mi_fifo", "fifo_name", "\(dir)/fifo")
        modparam("mi_fifo", "reply_dir", "\(dir)/")
        modparam("mi_datagram", "socket_name", "\(dir)/mi.sock")
        loadmodule "httpd.so"
        loadmodule "mi_http.so"
        modparam("httpd", "port", \(httpPort))
        """, workers: 1)
        defer { s.stop() }
        let request = Array(#"{"jsonrpc":"2.0","method":"version","id":"1"}"#.utf8)

        func fifoOnce(_ i: Int) -> Bool {
            let name = "opensips_fifo_reply_\(getpid())_\(i)"
            let path = "\(dir)/\(name)"
            guard mkfifo(path, 0o666) == 0 else { return false }
            defer { unlink(path) }
            let w = open("\(dir)/fifo", O_WRONLY)
            guard w >= 0 else { return false }
            let frame = Array(":\(name):".utf8) + request
            let n = frame.withUnsafeBytes { write(w, $0.baseAddress, $0.count) }
            close(w)
            guard n == frame.count else { return false }
            let r = open(path, O_RDONLY) // blocks until the server opens it, like the Python client
            guard r >= 0 else { return false }
            defer { close(r) }
            var buf = [UInt8](repeating: 0, count: 4096)
            var got = 0
            while true {
                let k = buf.withUnsafeMutableBytes { read(r, $0.baseAddress, $0.count) }
                if k <= 0 { break }
                got += k
            }
            return got > 0
        }

        let client = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(client) }
        func unixAddress(_ path: String) -> sockaddr_un {
            var sa = sockaddr_un()
            sa.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &sa.sun_path) { dst in
                let b = Array(path.utf8); dst.copyBytes(from: b); dst[b.count] = 0
            }
            return sa
        }
        var me = unixAddress("\(dir)/client.sock")
        _ = withUnsafePointer(to: &me) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(client, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        var srv = unixAddress("\(dir)/mi.sock")
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var rbuf = [UInt8](repeating: 0, count: 65536)
        func datagramOnce(_ i: Int) -> Bool {
            let sent = request.withUnsafeBytes { r in
                withUnsafePointer(to: &srv) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(client, r.baseAddress, r.count, 0, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                } }
            }
            guard sent == request.count else { return false }
            return rbuf.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) } > 0
        }

        let httpRequest = Array("POST /mi HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(request.count)\r\n\r\n".utf8) + request
        func httpConnect() -> Int32 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var sa = sockaddr_in()
            sa.sin_family = sa_family_t(AF_INET)
            sa.sin_addr.s_addr = inet_addr("127.0.0.1")
            sa.sin_port = UInt16(httpPort).bigEndian
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let rc = withUnsafePointer(to: &sa) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if rc != 0 { close(fd); return -1 }
            return fd
        }
        /// Sends the POST and reads one whole response (head + Content-Length body).
        func httpExchange(_ fd: Int32) -> Bool {
            guard httpRequest.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == httpRequest.count else { return false }
            var got: [UInt8] = []
            while true {
                let k = rbuf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if k <= 0 { return false }
                got += rbuf[0..<k]
                if let end = got.indices.dropLast(3).first(where: { got[$0] == 13 && got[$0 + 1] == 10 && got[$0 + 2] == 13 && got[$0 + 3] == 10 }) {
                    let head = String(decoding: got[0..<end], as: UTF8.self).lowercased()
                    guard head.hasPrefix("http/1.1 200"), let cl = head.range(of: "content-length: ") else { return false }
                    let length = Int(head[cl.upperBound...].prefix(while: \.isNumber)) ?? 0
                    if got.count - end - 4 >= length { return true }
                }
            }
        }
        func httpNewConnection(_ i: Int) -> Bool {
            let fd = httpConnect()
            guard fd >= 0 else { return false }
            defer { close(fd) }
            return httpExchange(fd)
        }
        var keepAliveFD = httpConnect()
        defer { close(keepAliveFD) }
        func httpKeepAlive(_ i: Int) -> Bool {
            if httpExchange(keepAliveFD) { return true }
            close(keepAliveFD); keepAliveFD = httpConnect()
            return false
        }

        func measure(_ label: String, _ once: (Int) -> Bool) {
            for i in 0..<min(200, requests) { _ = once(-i - 1) } // warm-up
            var lat: [Double] = []
            lat.reserveCapacity(requests)
            var failures = 0
            let start = DispatchTime.now().uptimeNanoseconds
            for i in 0..<requests {
                let t0 = DispatchTime.now().uptimeNanoseconds
                if !once(i) { failures += 1 }
                lat.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
            let secs = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            lat.sort()
            print(String(format: "mi: %@: %d sequential `version` requests: %.0f req/s, p50 %.3f ms, p99 %.3f ms%@",
                         label, requests, Double(requests) / secs, lat[lat.count / 2], lat[lat.count * 99 / 100],
                         failures > 0 ? ", \(failures) FAILED" : ""))
        }
        measure("mi_fifo (opensips-cli handshake)", fifoOnce)
        measure("mi_datagram (UNIX socket)", datagramOnce)
        measure("mi_http (new TCP connection per request, like opensips-cli)", httpNewConnection)
        measure("mi_http (keep-alive)", httpKeepAlive)
    }
}
