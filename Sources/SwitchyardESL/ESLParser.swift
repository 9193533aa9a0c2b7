#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte buffer + header-block/body splitter shared by both parsers.
struct ESLFramer: Sendable {
    var buffer: [UInt8] = []

    /// The `n` bytes at `from` as a new array with a NUL after its last byte in its storage (NulTerminatedBytes): the
    /// freeswitch module hands the body to C subscribers as it is. The byte after the body is set to NUL while the
    /// n + 1 bytes are copied (the array copy specialised for bytes), then put back; the copy's count drops by one.
    /// A fresh array of n + 1 made uninitialised cost ~1.5k instructions of generic metadata lookups per event, and
    /// a copy's capacity is rarely above its count.
    mutating func bodyWithNul(from: Int, count n: Int) -> [UInt8] {
        let end = from + n
        let atEnd = end == buffer.count
        let saved: UInt8 = atEnd ? 0 : buffer[end]
        if atEnd { buffer.append(0) } else { buffer[end] = 0 }
        var body = Array(buffer[from...end])
        body.removeLast() // the count drops, the NUL stays in the storage
        if atEnd { buffer.removeLast() } else { buffer[end] = saved }
        return body
    }
    var start = 0            // first unconsumed byte
    var scanFrom = 0         // where to resume searching for the end of the header block
    var pendingHeaderEnd: Int? = nil   // header block [start, end) found; body follows at bodyStart
    var pendingBodyStart = 0
    var pendingLength = 0
    var failed: ESLError? = nil
    let maxBody: Int
    let maxHeader: Int

    init(maxBody: Int, maxHeader: Int) {
        self.maxBody = maxBody
        self.maxHeader = maxHeader
    }

    var bufferedCount: Int { buffer.count - start }

    mutating func append<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            scanFrom -= start
            if let e = pendingHeaderEnd { pendingHeaderEnd = e - start; pendingBodyStart -= start }
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Skips leading blank lines (LF or CRLF) before a message.
    mutating func skipLeadingNewlines() {
        while start < buffer.count {
            if buffer[start] == 0x0A { start += 1; continue }
            if buffer[start] == 0x0D && start + 1 < buffer.count && buffer[start + 1] == 0x0A { start += 2; continue }
            break
        }
        if scanFrom < start { scanFrom = start }
    }

    /// Finds the end of the header block: returns (end of header text, start of the next part) or nil.
    mutating func findHeaderEnd() throws -> (Int, Int)? {
        var i = max(scanFrom, start)
        let n = buffer.count
        while i < n {
            i = lineEnd(from: i, to: n)
            if i == n { break }
            if i + 1 < n && buffer[i + 1] == 0x0A { return (i, i + 2) }
            if i + 2 < n && buffer[i + 1] == 0x0D && buffer[i + 2] == 0x0A { return (i, i + 3) }
            if i + 1 >= n || (i + 2 >= n && buffer[i + 1] == 0x0D) { break }  // need more bytes
            i += 1
        }
        scanFrom = i
        if n - start > maxHeader { throw ESLError.headerBlockTooLarge(maxHeader) }
        return nil
    }

    /// The first LF in [from, to), or `to` (memchr: every frame's header block is searched this way).
    @inline(__always)
    func lineEnd(from: Int, to: Int) -> Int {
        guard from < to else { return to }
        return buffer.withUnsafeBufferPointer { b in
            guard let p = memchr(b.baseAddress! + from, 0x0A, to - from) else { return to }
            return UnsafeRawPointer(p) - UnsafeRawPointer(b.baseAddress!)
        }
    }

    /// Splits the header text into lines (LF, trailing CR stripped).
    func lines(_ from: Int, _ to: Int) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var ls = from
        var i = from
        while i <= to {
            if i == to || buffer[i] == 0x0A {
                var le = i
                if le > ls && buffer[le - 1] == 0x0D { le -= 1 }
                out.append(buffer[ls..<le])
                ls = i + 1
            }
            i += 1
        }
        return out
    }
}

/// Splits `Name: value` (first colon; spaces/tabs after it skipped).
func splitHeaderLine(_ line: ArraySlice<UInt8>, urlDecode: Bool) throws -> ESLHeader {
    guard let colon = line.firstIndex(of: 0x3A), colon > line.startIndex else {
        throw ESLError.malformedHeader(String(decoding: line.prefix(200), as: UTF8.self))
    }
    var vs = colon + 1
    while vs < line.endIndex && (line[vs] == 0x20 || line[vs] == 0x09) { vs += 1 }
    let name = line[line.startIndex..<colon].withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
    let raw = line[vs..<line.endIndex]
    let value = urlDecode ? ESLURL.decode(raw) : raw.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
    return ESLHeader(name, value)
}

func parseContentLength(_ v: String, max: Int) throws -> Int {
    // Plain digits, as FreeSWITCH sends it: read at once (the rules below give the same result for them).
    let u = v.utf8
    if !u.isEmpty && u.count <= 10 {
        var n = 0
        var digits = true
        for c in u {
            guard c >= 0x30 && c <= 0x39 else { digits = false; break }
            n = n * 10 + Int(c - 0x30)
        }
        if digits {
            if n > max { throw ESLError.bodyTooLarge(n) }
            return n
        }
    }
    let t = v.trimmingSpaces()
    guard !t.isEmpty, t.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { throw ESLError.invalidContentLength(v) }
    guard t.utf8.count <= 10, let n = Int(t) else { throw ESLError.bodyTooLarge(Int.max) }
    if n > max { throw ESLError.bodyTooLarge(n) }
    return n
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}

/// Incremental parser for server → client frames. Feed arbitrary chunks; take out complete frames.
/// After a thrown error the parser stays failed (the connection should be dropped).
public struct ESLParser: Sendable {
    public static let maxBodyBytes = 16 * 1024 * 1024
    public static let defaultMaxHeaderBytes = 1024 * 1024

    var f: ESLFramer
    var pendingHeaders: [ESLHeader] = []

    public init(maxBodyBytes: Int = ESLParser.maxBodyBytes, maxHeaderBytes: Int = ESLParser.defaultMaxHeaderBytes) {
        f = ESLFramer(maxBody: maxBodyBytes, maxHeader: maxHeaderBytes)
    }

    /// Bytes received but not yet returned as a frame.
    public var bufferedByteCount: Int { f.bufferedCount }

    /// Appends bytes and returns every frame completed by them (possibly none).
    public mutating func feed<S: Sequence>(_ bytes: S) throws -> [ESLFrame] where S.Element == UInt8 {
        append(bytes)
        var out: [ESLFrame] = []
        while let fr = try next() { out.append(fr) }
        return out
    }

    public mutating func append<S: Sequence>(_ bytes: S) where S.Element == UInt8 { f.append(bytes) }

    /// The next complete frame in the buffer, or nil if more bytes are needed.
    public mutating func next() throws -> ESLFrame? {
        if let e = f.failed { throw e }
        do { return try nextUnchecked() } catch let e as ESLError { f.failed = e; throw e }
    }

    mutating func nextUnchecked() throws -> ESLFrame? {
        if f.pendingHeaderEnd == nil {
            f.skipLeadingNewlines()
            guard f.start < f.buffer.count, let (end, next) = try f.findHeaderEnd() else { return nil }
            // Line by line as ESLFramer.lines splits them, without building the array of lines first.
            var headers: [ESLHeader] = []
            headers.reserveCapacity(4)
            var length = 0
            var ls = f.start
            while ls <= end {
                let lf = f.lineEnd(from: ls, to: end)
                var le = lf
                if le > ls && f.buffer[le - 1] == 0x0D { le -= 1 }
                let h = try splitHeaderLine(f.buffer[ls..<le], urlDecode: true)
                if h.name.caseInsensitiveEquals("Content-Length") { length = try parseContentLength(h.value, max: f.maxBody) }
                headers.append(h)
                ls = lf + 1
            }
            f.pendingHeaderEnd = end
            f.pendingBodyStart = next
            f.pendingLength = length
            pendingHeaders = headers
        }
        let bs = f.pendingBodyStart
        guard f.buffer.count - bs >= f.pendingLength else { return nil }
        let body = f.bodyWithNul(from: bs, count: f.pendingLength)
        f.start = bs + f.pendingLength
        f.scanFrom = f.start
        f.pendingHeaderEnd = nil
        let frame = ESLFrame(headers: pendingHeaders, body: body)
        pendingHeaders = []
        return frame
    }
}

/// Incremental parser for client → server commands (used by a server such as the simulator).
/// The first line is the command; following `Name: value` lines are raw (not URL-decoded) headers;
/// a `Content-Length` header announces a body. Leading blank lines are skipped; CRLF is tolerated.
public struct ESLCommandParser: Sendable {
    var f: ESLFramer
    var pending: ESLCommand? = nil

    public init(maxBodyBytes: Int = ESLParser.maxBodyBytes, maxHeaderBytes: Int = 10 * 1024 * 1024) {
        f = ESLFramer(maxBody: maxBodyBytes, maxHeader: maxHeaderBytes)
    }

    public var bufferedByteCount: Int { f.bufferedCount }

    public mutating func feed<S: Sequence>(_ bytes: S) throws -> [ESLCommand] where S.Element == UInt8 {
        f.append(bytes)
        var out: [ESLCommand] = []
        while let c = try next() { out.append(c) }
        return out
    }

    public mutating func append<S: Sequence>(_ bytes: S) where S.Element == UInt8 { f.append(bytes) }

    public mutating func next() throws -> ESLCommand? {
        if let e = f.failed { throw e }
        do { return try nextUnchecked() } catch let e as ESLError { f.failed = e; throw e }
    }

    mutating func nextUnchecked() throws -> ESLCommand? {
        if pending == nil {
            f.skipLeadingNewlines()
            guard f.start < f.buffer.count, let (end, next) = try f.findHeaderEnd() else { return nil }
            let lines = f.lines(f.start, end)
            var cmd = ESLCommand(line: String(decoding: lines.first ?? [], as: UTF8.self))
            var length = 0
            for line in lines.dropFirst() where !line.isEmpty {
                let h = try splitHeaderLine(line, urlDecode: false)
                if h.name.caseInsensitiveEquals("Content-Length") { length = try parseContentLength(h.value, max: f.maxBody) }
                cmd.headers.append(h)
            }
            f.pendingHeaderEnd = end
            f.pendingBodyStart = next
            f.pendingLength = length
            pending = cmd
        }
        let bs = f.pendingBodyStart
        guard f.buffer.count - bs >= f.pendingLength else { return nil }
        var cmd = pending!
        cmd.body = Array(f.buffer[bs..<(bs + f.pendingLength)])
        f.start = bs + f.pendingLength
        f.scanFrom = f.start
        f.pendingHeaderEnd = nil
        pending = nil
        return cmd
    }
}
