import Synchronization

/// A parsed SIP message. `parse` finds the first line, splits the header fields (names recognised,
/// bodies kept as ranges) and the body by Content-Length; the bodies of From, To, Via, CSeq... are
/// parsed only when first asked for, and cached.
///
/// A message is owned by one worker thread at a time: the Via cache is not synchronised (fillCaches fills it before a
/// message is shared). From and To are parsed under a lock on first use: a request kept by a transaction is read by
/// other threads while its worker still routes it, and most are never asked for their From or To (parsing them for
/// every kept request was a tenth of a stateful relay's time).
public final class SIPMessage: @unchecked Sendable {
    public let bytes: [UInt8]
    public let isRequest: Bool
    /// Request: method, request-URI. Reply: status code and reason range.
    public let methodRange: Range<Int>
    public let uriRange: Range<Int>
    let versionRange: Range<Int>
    public let statusCode: Int?
    public let reasonRange: Range<Int>
    /// Where the header block starts (after the first line) and ends (the empty line included).
    public let headersStart: Int
    public let headersEnd: Int
    public let fields: [HeaderField]
    public let bodyRange: Range<Int>

    /// From and To once parsed. A box made on first use: most messages never ask, and an empty optional reference
    /// costs nothing to free (two inline `NameAddr??` cost a hundred instructions each to destroy with every message).
    private final class Parsed {
        var from: NameAddr?? = nil
        var to: NameAddr?? = nil
    }
    /// Guards `parsedBox`. The box is not the mutex's value: a `Mutex<Parsed?>` was destroyed with every message
    /// through a generic outlined destroy (~130 instructions); an optional reference field is one release.
    private let parsedLock = Mutex<Void>(())
    private var parsedBox: Parsed?
    private var viaCache: [SIPVia]?

    init(bytes: [UInt8], isRequest: Bool, methodRange: Range<Int>, uriRange: Range<Int>, versionRange: Range<Int>, statusCode: Int?,
         reasonRange: Range<Int>, headersStart: Int, headersEnd: Int, fields: [HeaderField], bodyRange: Range<Int>) {
        self.bytes = bytes
        self.isRequest = isRequest
        self.methodRange = methodRange
        self.uriRange = uriRange
        self.versionRange = versionRange
        self.statusCode = statusCode
        self.reasonRange = reasonRange
        self.headersStart = headersStart
        self.headersEnd = headersEnd
        self.fields = fields
        self.bodyRange = bodyRange
    }

    /// Parses a whole message (a datagram, or one framed message from a stream).
    public static func parse(_ bytes: [UInt8]) throws(SIPParseError) -> SIPMessage {
        try SIPParser.parse(bytes)
    }

    // MARK: text access

    @inline(__always)
    public func text(_ r: Range<Int>) -> String {
        bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[r]), as: UTF8.self) }
    }

    public var method: String? { isRequest ? text(methodRange) : nil }
    public var requestURIText: String? { isRequest ? text(uriRange) : nil }
    public var reason: String? { isRequest ? nil : text(reasonRange) }
    /// "SIP/2.0" (a request may carry another version, which a server answers with 505).
    public var version: String { text(versionRange) }
    public var isVersion2: Bool {
        // "SIP/2.0" ASCII case-insensitively (0x20 ORed into each byte, as equalsIgnoringCase does), as one word.
        guard versionRange.count == 7 else { return false }
        return bytes.withUnsafeBytes { raw -> Bool in
            let w = UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: versionRange.lowerBound, as: UInt32.self)))
                | UInt64(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: versionRange.lowerBound + 3, as: UInt32.self))) << 24
            return w | 0x0020_2020_2020_2020 == 0x0030_2e32_2f70_6973  // "sip/2.0" ('/', '.' and digits keep their value)
        }
    }
    public var body: [UInt8] { Array(bytes[bodyRange]) }
    public var length: Int { bytes.count }

    /// True when the method (of a request) or the CSeq method (of a reply) is `m` (case-sensitive, as RFC 3261).
    public func methodIs(_ m: StaticString) -> Bool {
        let r = isRequest ? methodRange : (cseqMethodRange ?? 0..<0)
        guard r.count == m.utf8CodeUnitCount else { return false }
        let p = m.utf8Start
        for i in 0..<r.count where bytes[r.lowerBound + i] != p[i] { return false }
        return true
    }

    /// The unfolded body text of a field.
    public func value(of f: HeaderField) -> String {
        bytes.withUnsafeBufferPointer { Byte.unfolded($0, f.value) }
    }

    public func name(of f: HeaderField) -> String { text(f.name) }

    /// The first field of a kind.
    public func field(_ kind: HeaderKind) -> HeaderField? {
        for f in fields where f.kind == kind { return f }
        return nil
    }

    /// Fields with this name (compact forms included), in order.
    public func fields(named name: String) -> [HeaderField] {
        fieldIndexes(named: name).map { fields[$0] }
    }

    /// Indexes into `fields` of the headers with this name (compact forms included), in order.
    public func fieldIndexes(named name: String) -> [Int] {
        let kind = HeaderKind.named(name)
        if kind != .other { return fields.indices.filter { fields[$0].kind == kind } }
        // The name as asked, and its other form (compact <-> full) for the headers the core does not classify.
        let lower = name.lowercased()
        let names = [Array(lower.utf8)] + (HeaderKind.otherForms[lower].map { [Array($0.utf8)] } ?? [])
        return fields.indices.filter { idx in
            let f = fields[idx]
            guard f.kind == .other else { return false }
            return names.contains { want in
                guard f.name.count == want.count else { return false }
                for i in 0..<want.count {
                    var c = bytes[f.name.lowerBound + i]
                    if c >= 65 && c <= 90 { c += 32 }
                    if c != want[i] { return false }
                }
                return true
            }
        }
    }

    /// Index into `fields` of the `nth` header with this name (compact forms included) that `include` accepts; nil
    /// when there are fewer. A header the core classifies is found without making an array (modules read and set
    /// Max-Forwards on every request).
    public func fieldIndex(named name: String, nth: Int = 0, where include: (Int) -> Bool = { _ in true }) -> Int? {
        let kind = HeaderKind.named(name)
        if kind != .other { return fieldIndex(kind: kind, nth: nth, where: include) }
        var seen = 0
        for i in fieldIndexes(named: name) where include(i) {
            if seen == nth { return i }
            seen += 1
        }
        return nil
    }

    /// `fieldIndex(kind:nth:where:)` accepting every field (no closure called per field).
    public func fieldIndex(kind: HeaderKind, nth: Int = 0) -> Int? {
        var seen = 0
        for i in fields.indices where fields[i].kind == kind {
            if seen == nth { return i }
            seen += 1
        }
        return nil
    }

    /// `fieldIndex(named:)` for a header the core classifies (`kind` is not `.other`).
    public func fieldIndex(kind: HeaderKind, nth: Int = 0, where include: (Int) -> Bool) -> Int? {
        var seen = 0
        for i in fields.indices where fields[i].kind == kind && include(i) {
            if seen == nth { return i }
            seen += 1
        }
        return nil
    }

    /// True when `value(of:)` is exactly the field's bytes `bytes[f.value]` (ASCII, no line break: nothing to unfold
    /// or repair), so a caller may copy them instead of making a string.
    public func isPlainValue(_ f: HeaderField) -> Bool {
        bytes.withUnsafeBufferPointer { b -> Bool in
            for i in f.value where b[i] >= 0x80 || b[i] == Byte.cr || b[i] == Byte.lf { return false }
            return true
        }
    }

    /// First header body with this name, unfolded and trimmed; nil if absent.
    public func header(_ name: String) -> String? {
        fields(named: name).first.map { value(of: $0) }
    }

    /// Every header body with this name, in order (not split at commas).
    public func headers(_ name: String) -> [String] {
        fields(named: name).map { value(of: $0) }
    }

    // MARK: common headers

    public var callID: String? { field(.callID).map { value(of: $0) } }

    public var cseqMethodRange: Range<Int>? {
        guard let f = field(.cseq) else { return nil }
        return bytes.withUnsafeBufferPointer { b -> Range<Int>? in
            var i = f.value.lowerBound
            while i < f.value.upperBound, !Byte.isLWS(b[i]) { i += 1 }
            while i < f.value.upperBound, Byte.isLWS(b[i]) { i += 1 }
            var j = i
            while j < f.value.upperBound, !Byte.isLWS(b[j]) { j += 1 }
            return i < j ? i..<j : nil
        }
    }

    public var cseqNumber: Int? {
        guard let f = field(.cseq) else { return nil }
        var n = 0, digits = 0
        var i = f.value.lowerBound
        while i < f.value.upperBound, bytes[i] >= 48, bytes[i] <= 57, digits < 10 {
            n = n * 10 + Int(bytes[i] - 48); digits += 1; i += 1
        }
        return digits > 0 ? n : nil
    }

    public var cseqMethod: String? { cseqMethodRange.map { text($0) } }

    public var contentLength: Int? {
        guard let f = field(.contentLength) else { return nil }
        return SIPParser.parseDecimal(bytes, f.value)
    }

    /// From, parsed on first use; nil if absent or malformed.
    public var from: NameAddr? { nameAddr(.from) }

    public var to: NameAddr? { nameAddr(.to) }

    private func nameAddr(_ kind: HeaderKind) -> NameAddr? {
        parsedLock.withLock { _ -> NameAddr? in
            let box: Parsed
            if let b = parsedBox { box = b } else { box = Parsed(); parsedBox = box }
            if let v = kind == .from ? box.from : box.to { return v }
            let v = field(kind).flatMap { NameAddr.parse(value(of: $0)) }
            if kind == .from { box.from = .some(v) } else { box.to = .some(v) }
            return v
        }
    }

    public var fromURI: String? { from?.uri }
    public var toURI: String? { to?.uri }
    public var fromTag: String? { from?.param("tag") }
    public var toTag: String? { to?.param("tag") }

    /// Every Via value in order (all Via fields, split at commas), parsed on first use.
    public func vias() throws(SIPParseError) -> [SIPVia] {
        if let c = viaCache { return c }
        var out: [SIPVia] = []
        out.reserveCapacity(4)
        try bytes.withUnsafeBufferPointer { (b) throws(SIPParseError) in
            for f in fields where f.kind == .via {
                do throws(SIPParseError) { try SIPVia.parseAll(bytes, b, f.value, into: &out) } catch { throw SIPParseError(error.reason, at: f.line.lowerBound) }
            }
        }
        viaCache = out
        return out
    }

    public func topVia() throws(SIPParseError) -> SIPVia? { try vias().first }

    /// Fills the parse-on-first-use caches that are not locked (the Via list) now. After it, reads of them never
    /// write, so the message may be read from several threads at once (a request kept by a transaction while its
    /// worker still routes it). A Via list that does not parse is never cached, so its reads never write either.
    public func fillCaches() {
        _ = try? vias()
    }
}
