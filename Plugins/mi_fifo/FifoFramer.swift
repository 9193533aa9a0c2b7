// Request framing of the MI FIFO: `:<reply_name>:<json>`, several requests possibly back to back in one read,
// a request possibly split over several reads. Pure logic (no I/O), driven by the reader thread.
import SwitchyardJSON

/// What the framer found in the bytes fed so far.
enum FifoFrame: Equatable {
    /// A complete request: reply to `replyName` (empty: no reply wanted). `json` may be invalid JSON (a syntax error
    /// found while framing): the core's MI then answers -32700.
    case request(replyName: String, json: [UInt8])
    /// The request exceeds the size limit: answer an error to `replyName` (the rest of it is being discarded).
    case tooLarge(replyName: String)
    /// The reply name contains `/`, `\` or `.`: the request is dropped without an answer.
    case badReplyName(String)
    /// Text that is not a request (no leading `:`, an unterminated reply name): dropped without an answer.
    case garbage(String)
    /// A request cut short by another writer's request written into the FIFO meanwhile (`bytes` of it were read):
    /// answered with an error to `replyName`; the other request is framed on its own.
    case interrupted(replyName: String, bytes: Int)
}

struct FifoFramer {
    /// Largest accepted request, `:name:` included.
    let limit: Int
    /// Longest reply name.
    static let maxNameLength = 255

    private(set) var pending: [UInt8] = []
    private let parser = JSONParser()

    init(limit: Int) { self.limit = limit }

    /// True when a partial request is waiting for more bytes.
    var hasPartial: Bool { pending.contains { !Self.isSpace($0) } }

    /// Set after an oversized request was cut while still arriving: its remaining bytes are skipped by tracking the
    /// JSON nesting (strings and escapes included) until its closing bracket; requests after it are then served.
    private var skipper: JSONSkipper? = nil
    var discarding: Bool { skipper != nil }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard var sk = skipper else { pending.append(contentsOf: bytes); return }
        if let end = sk.scan(bytes) {
            skipper = nil
            pending.append(contentsOf: bytes[end...])
        } else {
            skipper = sk
        }
    }

    /// No bytes arrived for a while: give up skipping an oversized request (e.g. it was never completed).
    mutating func idleTick() { skipper = nil }

    mutating func reset() { pending.removeAll(keepingCapacity: true); skipper = nil }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    static func validReplyName(_ name: String) -> Bool {
        !name.utf8.contains { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: ".") }
    }

    /// The next complete frame, or nil when more bytes are needed (or nothing is pending).
    /// `idle`: no more bytes are coming soon — a partial request is then handed over as it is (the core answers it
    /// with a parse error) instead of waiting.
    mutating func next(idle: Bool = false) -> FifoFrame? {
        var start = 0
        while start < pending.count, Self.isSpace(pending[start]) { start += 1 }
        if start == pending.count { pending.removeAll(keepingCapacity: true); return nil }
        if start > 0 { pending.removeFirst(start) }

        guard pending[0] == UInt8(ascii: ":") else {
            // Up to the next request, which may be another writer's (e.g. after the rest of an interrupted one).
            let cut = nextRequestStart(from: 1) ?? pending.count
            let text = String(decoding: pending.prefix(min(cut, 64)), as: UTF8.self)
            pending.removeFirst(cut)
            return .garbage("request does not start with ':' (\(text))")
        }
        let nameEnd = pending[1...].prefix(Self.maxNameLength + 1).firstIndex(of: UInt8(ascii: ":"))
        guard let nameEnd else {
            if pending.count > Self.maxNameLength + 1 || idle {
                pending.removeAll(keepingCapacity: true)
                return .garbage("reply name not terminated by ':' within \(Self.maxNameLength) bytes")
            }
            return nil
        }
        let name = String(decoding: pending[1..<nameEnd], as: UTF8.self)
        let jsonStart = nameEnd + 1

        var jsonStartNonSpace = jsonStart
        while jsonStartNonSpace < pending.count, Self.isSpace(pending[jsonStartNonSpace]) { jsonStartNonSpace += 1 }
        if jsonStartNonSpace == pending.count && !idle {
            return pending.count > limit ? takeTooLarge(name, jsonStart: jsonStart) : nil
        }

        let result = pending.withUnsafeBufferPointer { buf in
            Result { () throws(JSONParseError) in
                try parser.parsePrefix(UnsafeBufferPointer(rebasing: buf[jsonStart...]))
            }
        }
        switch result {
        case .success(let (_, consumed)):
            let end = jsonStart + consumed
            if end > limit { return takeTooLarge(name, upTo: end) }
            let json = Array(pending[jsonStart..<end])
            pending.removeFirst(end)
            return frame(name, json)
        case .failure(let error) where error.kind == .unexpectedEnd && !idle:
            return pending.count > limit ? takeTooLarge(name, jsonStart: jsonStart) : nil
        case .failure(let error):
            // Invalid text: the bad request runs to the first newline at or after the error (or to the end)...
            let errorAt = min(pending.count, jsonStart + error.offset)
            let end = pending[errorAt...].firstIndex(of: 0x0A).map { $0 + 1 } ?? pending.count
            // ...unless another request starts before that: a writer's request written while this one was only
            // partly written. The partial one is reported; the other is served.
            if let other = nextRequestStart(from: jsonStart), other < end {
                pending.removeFirst(other)
                return Self.validReplyName(name) ? .interrupted(replyName: name, bytes: other) : .badReplyName(name)
            }
            if end > limit { return takeTooLarge(name, upTo: end) }
            let json = Array(pending[jsonStart..<end])
            pending.removeFirst(end)
            return frame(name, json)
        }
    }

    /// Where a request seems to start at or after `from`: `:`, a reply name of letters, digits, `_` or `-` (possibly
    /// empty), `:`, optional whitespace, then `{` or `[`.
    func nextRequestStart(from: Int) -> Int? {
        var i = from
        while i < pending.count {
            defer { i += 1 }
            guard pending[i] == UInt8(ascii: ":") else { continue }
            var j = i + 1
            while j < pending.count, j - i <= Self.maxNameLength, Self.isNameByte(pending[j]) { j += 1 }
            guard j < pending.count, pending[j] == UInt8(ascii: ":") else { continue }
            var k = j + 1
            while k < pending.count, Self.isSpace(pending[k]) { k += 1 }
            if k < pending.count, pending[k] == UInt8(ascii: "{") || pending[k] == UInt8(ascii: "[") { return i }
        }
        return nil
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    private func frame(_ name: String, _ json: [UInt8]) -> FifoFrame {
        Self.validReplyName(name) ? .request(replyName: name, json: json) : .badReplyName(name)
    }

    /// Drops the oversized request: up to `end`, or (still arriving) all that is pending, skipping the rest as it comes.
    private mutating func takeTooLarge(_ name: String, upTo end: Int? = nil, jsonStart: Int? = nil) -> FifoFrame {
        if let end {
            pending.removeFirst(end)
        } else {
            var sk = JSONSkipper()
            let done = pending.withUnsafeBytes { buf in sk.scan(UnsafeRawBufferPointer(rebasing: buf[(jsonStart ?? pending.count)...])) }
            if let done {
                pending.removeFirst((jsonStart ?? 0) + done)
            } else {
                pending.removeAll(keepingCapacity: true)
                skipper = sk
            }
        }
        return Self.validReplyName(name) ? .tooLarge(replyName: name) : .badReplyName(name)
    }
}

/// Finds where a JSON value ends without building it: nesting depth, strings and escapes, across chunks.
/// Values that are neither containers nor strings end at the first whitespace or structural byte.
struct JSONSkipper {
    private var started = false
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var scalar = false

    /// Feeds bytes; returns the offset just past the value's end, or nil if it has not ended in these bytes.
    mutating func scan(_ bytes: UnsafeRawBufferPointer) -> Int? {
        for (i, b) in bytes.enumerated() {
            if !started {
                if FifoFramer.isSpace(b) { continue }
                started = true
                switch b {
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth = 1
                case UInt8(ascii: "\""): inString = true
                default: scalar = true
                }
                continue
            }
            if scalar {
                if FifoFramer.isSpace(b) || b == UInt8(ascii: ":") || b == UInt8(ascii: ",") { return i }
                continue
            }
            if inString {
                if escaped { escaped = false }
                else if b == UInt8(ascii: "\\") { escaped = true }
                else if b == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 0 { return i + 1 }
                }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth == 0 { return i + 1 }
            default: break
            }
        }
        return nil
    }
}
