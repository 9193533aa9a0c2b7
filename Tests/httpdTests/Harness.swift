import Foundation
import XCTest
@testable import SwitchyardCore

/// A whole Server on a config written to a temporary file, with its log captured (the small part of the core tests'
/// harness these tests need).
final class HTTPDHarness {
    let collector = LogCollector()
    let server: Server
    let path: String

    /// The directory holding the plugins of the same build as this test bundle.
    static var buildDirectory: URL {
        var url = Bundle(for: HTTPDHarness.self).bundleURL
        while url.pathExtension == "xctest" || url.lastPathComponent == "Contents" || url.lastPathComponent == "MacOS" {
            url.deleteLastPathComponent()
        }
        return url
    }

    init(_ config: String) {
        // A server in this process writes to sockets a peer may have closed: EPIPE, not a signal that ends the tests.
        signal(SIGPIPE, SIG_IGN)
        path = FileManager.default.temporaryDirectory.appendingPathComponent("sy-httpd-\(UUID().uuidString).cfg").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(("mpath = \"\(Self.buildDirectory.path)\"\n" + config).utf8))
        server = Server(configPath: path, logSink: .collector(collector))
    }

    /// Parses, prepares and starts; returns the errors (empty on success).
    func start() -> [String] {
        let diags = DiagnosticBag()
        let ast = Parser.parse(path: path, diagnostics: diags)
        if diags.hasErrors { return diags.errors.map(\.description) }
        do {
            try server.prepare(ast: ast, workersOverride: 2)
            try server.start()
            return []
        } catch {
            return error.diagnostics.map(\.description)
        }
    }

    func stop() { server.stop() }

    var messages: [String] { collector.messages }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A raw HTTP client connection over TCP to 127.0.0.1.
final class HTTPClient {
    let fd: Int32
    var buffer: [UInt8] = []

    struct Response {
        var status: Int
        var headers: [String: String] // lower-case names
        var body: String
    }

    init?(port: Int, timeout: Int = 30) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var sa = sockaddr_in()
        sa.sin_family = sa_family_t(AF_INET)
        sa.sin_addr.s_addr = inet_addr("127.0.0.1")
        sa.sin_port = UInt16(port).bigEndian
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &sa) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 { close(fd); return nil }
    }
    deinit { close(fd) }

    @discardableResult
    func send(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        buffer += chunk[0..<n]
        return true
    }

    /// True when the server has closed the connection: recv reports EOF (or a reset) without data.
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT))
        return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
    }

    /// Reads one response (head + Content-Length body). Nil on EOF/timeout first.
    func response() -> Response? {
        var end: Int? = nil
        while end == nil {
            if buffer.count >= 4 {
                for i in 0...(buffer.count - 4) where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
                    end = i
                    break
                }
            }
            if end == nil && !fill() { return nil }
        }
        let head = String(decoding: buffer[0..<end!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return nil }
        var headers: [String: String] = [:]
        for l in lines {
            guard let c = l.firstIndex(of: ":") else { continue }
            headers[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)
        }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        buffer.removeFirst(end! + 4)
        while buffer.count < length { if !fill() { return nil } }
        let body = String(decoding: buffer[0..<length], as: UTF8.self)
        buffer.removeFirst(length)
        return Response(status: status, headers: headers, body: body)
    }

    static func post(_ body: String, path: String = "/mi", extra: String = "") -> String {
        "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\(extra)\r\n\(body)"
    }
}
