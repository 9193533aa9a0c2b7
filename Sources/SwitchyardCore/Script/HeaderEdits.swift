/// Header changes a script made (maxfwd, record_route, modules through the host table), applied by MessageWriter to
/// what forward()/relay sends.
///
/// Built for the common case, one short value replaced (maxfwd's Max-Forwards on every request): that value is kept
/// inline as bytes, so the edit allocates nothing, and while there is no box a copy or a reset of the edits retains
/// and releases nothing. Everything else (other replacements, removals, added lines) lives in a box made on first use
/// and copied on write; a copy of edits that have one retains it, and the first change made through either copy
/// copies the box.
struct HeaderEdits {
    /// Field index of the inline replaced value; -1: none.
    private var inlineField: Int32 = -1
    private var inlineCount: UInt8 = 0
    /// Up to `inlineCapacity` bytes of the inline value.
    private var inlineBytes: (UInt64, UInt64) = (0, 0)
    private var box: Box?

    static let inlineCapacity = 16

    private final class Box {
        /// New bodies by field index of the received message (a field is here or inline, never both).
        var replaced: [(field: Int, value: [UInt8])] = []
        /// Field indexes not sent on.
        var removed: [Int] = []
        /// Whole lines (no CRLF) to send first after the first line / last before the empty line, with the number of
        /// the call that added each (lines at one place go out in call order, as OpenSIPS's lumps at one offset).
        var top: [(seq: Int, line: String)] = []
        var bottom: [(seq: Int, line: String)] = []
        /// The number the next added line gets.
        var nextSeq = 0
        /// Whole lines sent right before or after a field of the received message (ABI 1.11 sip_header_insert).
        var anchored: [AnchoredLine] = []
        /// Whole lines for the replies the core builds for this request (ABI 1.11 sip_reply_header_add).
        var replyLines: [String] = []
        /// Byte replacements in received header lines (ABI 1.16 sip_text_replace), sorted, non-overlapping.
        var textEdits: [TextReplacement] = []
        /// The body sent instead of the received one, and the status line a relayed reply gets (ABI 1.16).
        var body: [UInt8]?
        var statusLine: String?

        init() {}

        init(copying o: Box) {
            replaced = o.replaced
            removed = o.removed
            top = o.top
            bottom = o.bottom
            nextSeq = o.nextSeq
            anchored = o.anchored
            replyLines = o.replyLines
            textEdits = o.textEdits
            body = o.body
            statusLine = o.statusLine
        }

        var isEmpty: Bool {
            replaced.isEmpty && removed.isEmpty && top.isEmpty && bottom.isEmpty && anchored.isEmpty && replyLines.isEmpty
                && textEdits.isEmpty && body == nil && statusLine == nil
        }
    }

    /// The box, made or copied so that this value alone owns it.
    private mutating func owned() -> Box {
        if box != nil {
            // Tested before binding it: a bound copy would be a second reference.
            if !isKnownUniquelyReferenced(&box) { box = Box(copying: box!) }
            return box!
        }
        let b = Box()
        box = b
        return b
    }

    var isEmpty: Bool { inlineField < 0 && (box?.isEmpty ?? true) }

    /// True when at most one value is replaced, inline, and nothing else changed (the writer's fast path).
    var onlyInline: Bool { box?.isEmpty ?? true }

    /// The field whose value is replaced inline, if any.
    var inlineReplacedField: Int? { inlineField < 0 ? nil : Int(inlineField) }

    /// Calls `body` with the replaced value of field `i`; nil (body not called) when the field is not replaced.
    func withReplaced<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        if Int(inlineField) == i {
            var copy = inlineBytes
            let n = Int(inlineCount)
            return withUnsafeBytes(of: &copy) { body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        guard let b = box else { return nil }
        for e in b.replaced where e.field == i { return e.value.withUnsafeBytes(body) }
        return nil
    }

    func isReplaced(_ i: Int) -> Bool {
        if Int(inlineField) == i { return true }
        return box?.replaced.contains { $0.field == i } ?? false
    }

    /// Sets the new body of field `i` (bytes of one line, no CR or LF).
    mutating func replace(_ i: Int, with v: UnsafeRawBufferPointer) {
        let inlineFree = inlineField < 0 || Int(inlineField) == i
        if inlineFree, v.count <= HeaderEdits.inlineCapacity, !(box.map { b in b.replaced.contains { $0.field == i } } ?? false) {
            var w: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &w) { $0.copyMemory(from: v) }
            inlineBytes = w
            inlineCount = UInt8(v.count)
            inlineField = Int32(i)
            return
        }
        if Int(inlineField) == i { inlineField = -1 }
        let b = owned()
        if let at = b.replaced.firstIndex(where: { $0.field == i }) {
            b.replaced[at].value = Array(v)
        } else {
            b.replaced.append((field: i, value: Array(v)))
        }
    }

    mutating func replace(_ i: Int, with s: String) {
        var s = s
        s.withUTF8 { replace(i, with: UnsafeRawBufferPointer($0)) }
    }

    func isRemoved(_ i: Int) -> Bool { box?.removed.contains(i) ?? false }
    var hasRemovals: Bool { !(box?.removed.isEmpty ?? true) }

    mutating func remove(_ i: Int) {
        let b = owned()
        if !b.removed.contains(i) { b.removed.append(i) }
    }

    var top: [String] { box?.top.map(\.line) ?? [] }
    var bottom: [String] { box?.bottom.map(\.line) ?? [] }
    /// Top and bottom lines with the number of the call that added each (AnchoredLine.seq counts with them).
    var numberedTop: [(seq: Int, line: String)] { box?.top ?? [] }
    var numberedBottom: [(seq: Int, line: String)] { box?.bottom ?? [] }
    var anchored: [AnchoredLine] { box?.anchored ?? [] }
    var replyLines: [String] {
        get { box?.replyLines ?? [] }
        set {
            if newValue.isEmpty && box == nil { return }
            owned().replyLines = newValue
        }
    }

    mutating func addTop(_ line: String) {
        let b = owned()
        b.top.append((b.nextSeq, line))
        b.nextSeq += 1
    }
    mutating func addBottom(_ line: String) {
        let b = owned()
        b.bottom.append((b.nextSeq, line))
        b.nextSeq += 1
    }
    mutating func addAnchored(_ a: AnchoredLine) {
        let b = owned()
        var a = a
        a.seq = b.nextSeq
        b.nextSeq += 1
        b.anchored.append(a)
    }
    mutating func addReplyLine(_ line: String) { owned().replyLines.append(line) }

    var textEdits: [TextReplacement] { box?.textEdits ?? [] }
    var body: [UInt8]? { box?.body }
    var statusLine: String? { box?.statusLine }

    /// Adds a replacement of received bytes; false when it overlaps one made before (an insertion, an empty range,
    /// overlaps only a range strictly around its place).
    mutating func addTextEdit(_ e: TextReplacement) -> Bool {
        let overlaps = textEdits.contains { o in
            if e.range.isEmpty || o.range.isEmpty {
                return (o.range.lowerBound < e.range.lowerBound && e.range.lowerBound < o.range.upperBound)
                    || (e.range.lowerBound < o.range.lowerBound && o.range.lowerBound < e.range.upperBound)
            }
            return o.range.overlaps(e.range)
        }
        if overlaps { return false }
        let b = owned()
        // After every edit at or before its place: two insertions at one offset are sent in the order made.
        let at = b.textEdits.firstIndex { $0.range.lowerBound > e.range.lowerBound } ?? b.textEdits.endIndex
        b.textEdits.insert(e, at: at)
        return true
    }

    mutating func setBody(_ bytes: [UInt8]) { owned().body = bytes }
    mutating func setStatusLine(_ line: String) { owned().statusLine = line }
}

/// Received bytes of the header lines sent as other text (ABI 1.16 sip_text_replace).
struct TextReplacement {
    let range: Range<Int>
    let text: [UInt8]
}

/// A header line placed next to a field of the received message.
struct AnchoredLine {
    let field: Int
    let after: Bool
    let line: String
    /// The number of the call that added it, set by HeaderEdits.addAnchored.
    var seq = 0

    init(field: Int, after: Bool, line: String) {
        self.field = field
        self.after = after
        self.line = line
    }
}
