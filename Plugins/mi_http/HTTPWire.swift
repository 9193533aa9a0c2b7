// The small part of HTTP/1.x mi_http needs: parse a request head, decide keep-alive, format a response.
// Pure functions over bytes (no sockets), so they are easy to reason about and test.

/// A parsed request line plus the headers mi_http looks at.
struct HTTPRequestHead: Equatable, Sendable {
    var method: String
    /// The request target without its query string.
    var path: String
    var minorVersion: Int // HTTP/1.<minor>
    var contentLength: Int? = nil
    var hasTransferEncoding = false
    var keepAlive: Bool
    var expectContinue = false

    /// Parses the head (request line and header lines, without the blank line that ends it). Nil: malformed (400).
    static func parse(_ head: ArraySlice<UInt8>) -> HTTPRequestHead? {
        let text = String(decoding: head, as: UTF8.self)
        var lines = text.split(separator: "\r\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        // Tolerate bare LF line ends.
        if lines.count == 1 && text.contains("\n") { lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0[...] } }
        guard let requestLine = lines.first else { return nil }
        let parts = requestLine.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1."), let minor = Int(parts[2].dropFirst(7)), minor >= 0 else { return nil }
        let method = String(parts[0])
        guard !method.isEmpty, method.utf8.allSatisfy({ (0x41...0x5A).contains($0) || $0 == 0x2D || $0 == 0x5F }) else { return nil }
        var target = Substring(parts[1])
        if !target.hasPrefix("/"), let colon = target.firstIndex(of: ":"), target[colon...].hasPrefix("://") { // absolute-form
            let rest = target[target.index(colon, offsetBy: 3)...]
            target = rest.firstIndex(of: "/").map { rest[$0...] } ?? "/"
        }
        if let q = target.firstIndex(where: { $0 == "?" || $0 == "#" }) { target = target[..<q] }
        guard target.hasPrefix("/") else { return nil }

        var h = HTTPRequestHead(method: method, path: String(target), minorVersion: minor, keepAlive: minor >= 1)
        var connectionTokens: [Substring] = []
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":"), colon != line.startIndex else { return nil }
            let name = line[..<colon].lowercased()
            guard !name.contains(" "), !name.contains("\t") else { return nil }
            let value = line[line.index(after: colon)...].trimmingWhitespace()
            switch name {
            case "content-length":
                guard !value.isEmpty, value.utf8.allSatisfy({ (0x30...0x39).contains($0) }), value.utf8.count <= 15,
                      let n = Int(value) else { return nil }
                if let old = h.contentLength, old != n { return nil } // conflicting lengths: request smuggling risk
                h.contentLength = n
            case "transfer-encoding":
                h.hasTransferEncoding = true
            case "connection":
                connectionTokens += value.split(separator: ",").map { $0.trimmingWhitespace() }
            case "expect":
                if value.lowercased() == "100-continue" { h.expectContinue = true }
            default:
                break
            }
        }
        let tokens = connectionTokens.map { $0.lowercased() }
        if tokens.contains("close") { h.keepAlive = false } else if tokens.contains("keep-alive") { h.keepAlive = true }
        return h
    }

    /// Where the head ends: the index just after "\r\n\r\n" (or "\n\n"), and the head's own end. Nil: not complete.
    static func findEnd(_ buf: [UInt8], from start: Int) -> (headEnd: Int, bodyStart: Int)? {
        var i = start
        while i < buf.count {
            if buf[i] == 0x0A {
                if i + 1 < buf.count, buf[i + 1] == 0x0A { return (i, i + 2) }
                if i + 2 < buf.count, buf[i + 1] == 0x0D, buf[i + 2] == 0x0A { return (i - (i > start && buf[i - 1] == 0x0D ? 1 : 0), i + 3) }
            }
            i += 1
        }
        return nil
    }
}

enum HTTPResponse {
    static func reason(_ status: Int) -> String {
        switch status {
        case 100: return "Continue"
        case 200: return "OK"
        case 202: return "Accepted"
        case 400: return "Bad Request"
        case 404: return "Not Found"
        case 405: return "Method Not Allowed"
        case 408: return "Request Timeout"
        case 411: return "Length Required"
        case 413: return "Content Too Large"
        case 431: return "Request Header Fields Too Large"
        case 500: return "Internal Server Error"
        case 503: return "Service Unavailable"
        case 505: return "HTTP Version Not Supported"
        default: return "Error"
        }
    }

    /// A complete response. `body` nil: no body and no Content-Type (202); errors carry a one-line text body.
    static func build(status: Int, contentType: String?, body: [UInt8]?, keepAlive: Bool, http10: Bool,
                      extraHeaders: [String] = []) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(reason(status))\r\nServer: Switchyard mi_http\r\n"
        if let contentType, body != nil { head += "Content-Type: \(contentType)\r\n" }
        head += "Content-Length: \(body?.count ?? 0)\r\n"
        if !keepAlive { head += "Connection: close\r\n" } else if http10 { head += "Connection: keep-alive\r\n" }
        for h in extraHeaders { head += h + "\r\n" }
        head += "\r\n"
        var out = Array(head.utf8)
        if let body { out += body }
        return out
    }

    static func error(_ status: Int, _ text: String, keepAlive: Bool, http10: Bool, extraHeaders: [String] = []) -> [UInt8] {
        build(status: status, contentType: "text/plain; charset=utf-8", body: Array("\(status) \(reason(status)): \(text)\n".utf8),
              keepAlive: keepAlive, http10: http10, extraHeaders: extraHeaders)
    }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        let s = self
        guard let first = s.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return s[s.endIndex...] }
        let last = s.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return s[first...last]
    }
}
