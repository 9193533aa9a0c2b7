// SwitchyardESL — a stateless, dependency-free codec for the FreeSWITCH Event Socket (ESL) protocol.
// Shared by the `freeswitch` connection-manager plugin and the `esl-simulator` executable.

/// One header of a frame or event: name and (decoded) value, order preserved.
public struct ESLHeader: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
    public var description: String { "\(name): \(value)" }
}

/// The Content-Type of a server → client frame.
public enum ESLContentType: Sendable, Equatable, Hashable {
    case authRequest          // auth/request
    case commandReply         // command/reply
    case apiResponse          // api/response
    case eventPlain           // text/event-plain
    case eventJSON            // text/event-json
    case eventXML             // text/event-xml
    case logData              // log/data
    case disconnectNotice     // text/disconnect-notice
    case rudeRejection        // text/rude-rejection
    case other(String)        // anything else (as sent)
    case none                 // no Content-Type header

    public init(_ raw: String?) {
        guard let raw else { self = .none; return }
        switch raw.lowercased() {
        case "auth/request": self = .authRequest
        case "command/reply": self = .commandReply
        case "api/response": self = .apiResponse
        case "text/event-plain": self = .eventPlain
        case "text/event-json": self = .eventJSON
        case "text/event-xml": self = .eventXML
        case "log/data": self = .logData
        case "text/disconnect-notice": self = .disconnectNotice
        case "text/rude-rejection": self = .rudeRejection
        default: self = .other(raw)
        }
    }

    /// The wire spelling.
    public var rawValue: String {
        switch self {
        case .authRequest: return "auth/request"
        case .commandReply: return "command/reply"
        case .apiResponse: return "api/response"
        case .eventPlain: return "text/event-plain"
        case .eventJSON: return "text/event-json"
        case .eventXML: return "text/event-xml"
        case .logData: return "log/data"
        case .disconnectNotice: return "text/disconnect-notice"
        case .rudeRejection: return "text/rude-rejection"
        case .other(let s): return s
        case .none: return ""
        }
    }

    public var isEvent: Bool { self == .eventPlain || self == .eventJSON || self == .eventXML }
}

/// One complete server → client message: headers (in wire order, values URL-decoded) and body bytes.
public struct ESLFrame: Sendable, Equatable {
    public var headers: [ESLHeader]
    /// As read. A frame from ESLParser has a NUL after the last byte in the array's storage
    /// (NulTerminatedBytes.isTerminated) until the array is mutated.
    public var body: [UInt8]

    public init(headers: [ESLHeader], body: [UInt8] = []) {
        self.headers = headers
        self.body = body
    }

    /// First header with this name (case-insensitive).
    public subscript(_ name: String) -> String? {
        for h in headers where h.name.caseInsensitiveEquals(name) { return h.value }
        return nil
    }

    public var contentTypeString: String? { self["Content-Type"] }
    public var contentType: ESLContentType { ESLContentType(self["Content-Type"]) }
    public var contentLength: Int? { self["Content-Length"].flatMap { Int($0) } }
    public var bodyString: String { String(decoding: body, as: UTF8.self) }

    /// `Reply-Text` of a command/reply.
    public var replyText: String? { self["Reply-Text"] }
    /// True for a command/reply whose Reply-Text starts with `+OK`, or an api/response whose body doesn't start with `-ERR`.
    public var isOK: Bool {
        switch contentType {
        case .commandReply: return replyText?.hasPrefix("+OK") ?? false
        case .apiResponse: return !bodyString.hasPrefix("-ERR")
        default: return false
        }
    }
    /// True for a `-ERR` reply (command/reply Reply-Text, or api/response body).
    public var isError: Bool {
        switch contentType {
        case .commandReply: return replyText?.hasPrefix("-ERR") ?? false
        case .apiResponse: return bodyString.hasPrefix("-ERR")
        default: return false
        }
    }
    /// Job-UUID of a bgapi reply (its own header, or parsed from `+OK Job-UUID: <id>`).
    public var jobUUID: String? {
        if let j = self["Job-UUID"] { return j }
        if let r = replyText, r.hasPrefix("+OK Job-UUID: ") { return String(r.dropFirst(14)) }
        return nil
    }
    /// A disconnect notice that ends the connection (any disposition but `linger`), or a rude rejection.
    public var endsConnection: Bool {
        switch contentType {
        case .disconnectNotice: return !(self["Content-Disposition"]?.lowercased() == "linger")
        case .rudeRejection: return true
        default: return false
        }
    }
    public var isEvent: Bool { contentType.isEvent }

    /// Decodes the event carried by a text/event-* frame (nil for other frames).
    public func event() throws -> ESLEvent? {
        switch contentType {
        case .eventJSON: return try ESLEvent.decode(json: body)
        case .eventPlain: return try ESLEvent.decode(plain: body)
        case .eventXML: return try ESLEvent.decode(xml: body)
        default: return nil
        }
    }

    /// Wire bytes: headers in order (values written raw), blank line, body. Use the `ESLEncoder` helpers
    /// to build frames with the right Content-Length.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + headers.count * 32 + 1)
        for h in headers {
            out.append(contentsOf: Array(h.name.utf8)); out.append(0x3A); out.append(0x20)
            out.append(contentsOf: Array(h.value.utf8)); out.append(0x0A)
        }
        out.append(0x0A)
        out.append(contentsOf: body)
        return out
    }
}

/// One client → server command: the command line (e.g. `api status`), raw headers, optional body.
public struct ESLCommand: Sendable, Equatable {
    public var line: String
    public var headers: [ESLHeader]
    public var body: [UInt8]

    public init(line: String, headers: [ESLHeader] = [], body: [UInt8] = []) {
        self.line = line
        self.headers = headers
        self.body = body
    }

    public subscript(_ name: String) -> String? {
        for h in headers where h.name.caseInsensitiveEquals(name) { return h.value }
        return nil
    }

    /// The first word, lower-cased (`api`, `bgapi`, `event`...).
    public var verb: String {
        let l = line.drop(while: { $0 == " " })
        return String(l.prefix(while: { $0 != " " })).lowercased()
    }
    /// Everything after the first word and its following spaces.
    public var argument: String {
        let l = line.drop(while: { $0 == " " })
        return String(l.drop(while: { $0 != " " }).drop(while: { $0 == " " }))
    }
    /// Whitespace-separated words after the verb.
    public var arguments: [String] { argument.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) }

    public func encoded() -> [UInt8] { ESLEncoder.command(line, headers: headers, body: body.isEmpty ? nil : body) }
}

public enum ESLError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformedHeader(String)
    case invalidContentLength(String)
    case bodyTooLarge(Int)
    case headerBlockTooLarge(Int)
    case malformedEvent(String)

    public var description: String {
        switch self {
        case .malformedHeader(let l): return "ESL: malformed header line \(l.debugDescription)"
        case .invalidContentLength(let v): return "ESL: invalid Content-Length \(v.debugDescription)"
        case .bodyTooLarge(let n): return "ESL: body of \(n) bytes exceeds the 16 MiB limit"
        case .headerBlockTooLarge(let n): return "ESL: header block exceeds \(n) bytes"
        case .malformedEvent(let s): return "ESL: malformed event: \(s)"
        }
    }
}

extension String {
    /// ASCII case-insensitive equality, on the contiguous UTF-8 of both strings when they have it (native strings
    /// always do): the header lookups of every frame go through it, and zipping two UTF8Views is several times slower.
    @inline(__always)
    func caseInsensitiveEquals(_ other: String) -> Bool {
        let a = self.utf8, b = other.utf8
        guard a.count == b.count else { return false }
        if let r = a.withContiguousStorageIfAvailable({ x in b.withContiguousStorageIfAvailable { y in Self.asciiCaseEqual(x, y) } }),
           let r {
            return r
        }
        for (x, y) in zip(a, b) where x != y {
            let lx = (x >= 0x41 && x <= 0x5A) ? x | 0x20 : x
            let ly = (y >= 0x41 && y <= 0x5A) ? y | 0x20 : y
            if lx != ly { return false }
        }
        return true
    }

    /// Equal-length buffers compared byte by byte, ASCII letters folded.
    @inline(__always)
    static func asciiCaseEqual(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < x.count {
            let p = x[i], q = y[i]
            if p != q {
                let lp = (p >= 0x41 && p <= 0x5A) ? p | 0x20 : p
                let lq = (q >= 0x41 && q <= 0x5A) ? q | 0x20 : q
                if lp != lq { return false }
            }
            i += 1
        }
        return true
    }
}
