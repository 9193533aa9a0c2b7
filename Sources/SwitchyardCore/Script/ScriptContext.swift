import SwitchyardABI
import SwitchyardSIP
/// Per-worker storage that persists across runs ($var, like OpenSIPS's per-process variables).
public final class WorkerState: @unchecked Sendable {
    // Confined to the worker's own thread.
    public let rank: Int
    public var vars: [Value]
    /// `$mi`: the last message given a number on this worker, and that number (see MoreMessagePVs).
    weak var numberedMessage: SIPMessage?
    var messageNumber = 0

    public init(rank: Int, varCount: Int) {
        self.rank = rank
        self.vars = Array(repeating: .null, count: varCount)
    }

    @inline(__always)
    func ensureVar(_ slot: Int) {
        if slot >= vars.count { vars.append(contentsOf: repeatElement(.null, count: slot - vars.count + 1)) }
    }
}

/// How a statement ended: go on, or unwind to a loop, the calling route, or the top.
public enum Flow: Sendable {
    case normal
    case breakLoop
    case returnRoute
    case exitScript
}

/// The context one route run executes in: one message or event, on one worker thread.
/// It is the `sy_ctx` plugins receive. Never shared across threads.
public final class ScriptContext: @unchecked Sendable {
    public let worker: WorkerState
    public let engine: ScriptEngine
    public var routeType: RouteKind
    public var rc: Int = 1
    /// The statement being run, for `$cfg_line` / `$cfg_file`: set by each block before a statement runs. Unowned:
    /// the nodes live as long as the route set that runs them.
    unowned(unsafe) var currentStatement: StmtNode? = nil
    var flow: Flow = .normal
    var returnCode: Int = 1
    public var returnValues: [Value] = []
    /// Argument frames of route(name, args...) calls; the last one is current.
    var frames: [[Value]] = []
    /// Event parameters (name, value) when running an event_route.
    public var eventName: String?
    public var eventParams: [(name: String, value: Value)] = []
    /// The event parameters that hold a tree (ABI 1.9), by position in `eventParams`.
    public var eventTrees: [(index: Int, tree: ValueTree)] = []
    /// $avp stacks by slot; the newest value is the LAST element.
    var avps: [[Value]] = []
    var touchedAVPs: [Int] = []
    public var flags: UInt64 = 0
    public var message = ScriptMessage.dummy
    public var dropped = false
    /// The transaction layer's copy of this request (RequestSnapshot), once made: append_to_reply lines added later
    /// are kept there too.
    var keptBy: RequestSnapshot?
    /// The error raised on this message ($err.*; error_route runs after the statement that raised it).
    public var errorInfo = ErrorInfo()
    /// script_trace() in force for this run (nil: off).
    var trace: ScriptTrace?
    var depth = 0
    /// The routes being run, outermost first ($route): the top route, then each route() call.
    var routeStack: [RouteBox] = []
    /// The transaction layer's per-message slot (host ctx_slot_set): a pointer and how to release it.
    var slot: UnsafeMutableRawPointer?
    /// Values modules keep for the current message (ABI 1.14 ctx_value_set: rr's "record-routed already"): not AVPs,
    /// so the script never sees them and no snapshot copies them. Raw bytes as given (binary values round-trip).
    /// A few at most: a list.
    var moduleValues: [(key: [UInt8], value: [UInt8])] = []
    var slotRelease: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?
    /// The message a plugin's pseudo-variable context last lent as bytes, parsed once (nil: it does not parse), by
    /// the bytes' address and length: the plugin keeps them in the slot, so the memo goes with the slot.
    var pvContextMemo: (bytes: UnsafeRawPointer, count: Int, message: ScriptMessage?)?
    /// Bytes handed to plugins by the sip_build_* entries, kept until the next host call on this context.
    let bytesKeeper = CBuffer()
    /// forward()'s last parsed destination URI and resolved numeric address (kept across messages: routes mostly
    /// send to one `$du`; see SIPCore.target and lookup). Separate fields, not optional tuples: reading a tuple copied
    /// all of it (a retain and release per string) on every forward.
    var targetMemoText: String?
    var targetMemo: SIPTarget?
    var addressMemoHost: String?
    var addressMemoPort = 0
    var addressMemo: SocketAddress?
    /// The transaction layer's view of the message (sy_sip_info) last computed on this context, with the message it
    /// points into (kept alive by this reference): tm's request hook and t_relay both ask for it. Two fields, not an
    /// optional tuple: clearing that went through a generic outlined destroy (~150 instructions) on every message.
    var sipInfoMemoMessage: SIPMessage?
    var sipInfoMemo = sy_sip_info()
    /// Keeps strings handed to C plugins alive until the next host call on this context.
    let cStringKeeper = CBuffer(capacity: 64)

    /// Copies `s` NUL-terminated into `cStringKeeper`, reusing its storage (no allocation per host call once it has
    /// grown), and returns it as the ABI string (len without the NUL).
    func keepCString(_ s: String) -> sy_str {
        var s = s
        return s.withUTF8 { cStringKeeper.keep(UnsafeRawBufferPointer($0)) }
    }

    /// `keepCString` for bytes (a header's text lent by the message).
    func keepCBytes(_ b: UnsafeBufferPointer<UInt8>) -> sy_str {
        cStringKeeper.keep(UnsafeRawBufferPointer(b))
    }

    init(worker: WorkerState, engine: ScriptEngine, routeType: RouteKind) {
        self.worker = worker
        self.engine = engine
        self.routeType = routeType
        if Self.runsOnDummy(routeType) { message.sip = dummyRequest }
    }

    /// OpenSIPS's dummy request (action.c), what startup, timer and event routes run on: $rm is DUMMY, $ci dummy-1,
    /// $fu sip:from@dummy.com... Parsed once per context (a message's Via cache is not shared across threads).
    static let dummyRequestText = "DUMMY sip:user@dummy.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKdummy\r\n"
        + "To: <sip:to@dummy.com>\r\nFrom: <sip:from@dummy.com>;tag=1\r\nCall-ID: dummy-1\r\nCSeq: 1 DUMMY\r\n\r\n"
    var dummyRequest: SIPMessage? {
        if let d = dummyMade { return d }
        dummyMade = try? SIPMessage.parse(Array(Self.dummyRequestText.utf8))
        return dummyMade
    }
    /// The dummy request once a route ran on it; nil before (then no message is it, and asking parses nothing).
    private var dummyMade: SIPMessage?
    var dummyParsed: Bool { dummyMade != nil }

    @inline(__always)
    static func runsOnDummy(_ kind: RouteKind) -> Bool { kind == .startup || kind == .timer || kind == .event }

    /// True while the route runs on the dummy request (no transport, nothing to answer).
    public var onDummyRequest: Bool {
        guard message.origin == nil, let d = dummyMade, let m = message.sip else { return false }
        return m === d
    }

    /// Clears per-run state so the context can serve the next message or event.
    public func reset(routeType: RouteKind) {
        self.routeType = routeType
        rc = 1
        flow = .normal
        returnCode = 1
        // Twice per SIP message: only what a run filled is cleared (clearing an empty array still retains and
        // releases its storage).
        if !returnValues.isEmpty { returnValues.removeAll(keepingCapacity: true) }
        if !frames.isEmpty { frames.removeAll(keepingCapacity: true) }
        if eventName != nil { eventName = nil }
        if !eventParams.isEmpty { eventParams.removeAll(keepingCapacity: true) }
        if !eventTrees.isEmpty { eventTrees.removeAll(keepingCapacity: true) }
        if !touchedAVPs.isEmpty {
            for s in touchedAVPs { avps[s].removeAll(keepingCapacity: true) }
            touchedAVPs.removeAll(keepingCapacity: true)
        }
        flags = 0
        if !moduleValues.isEmpty { moduleValues.removeAll(keepingCapacity: true) }
        message.reset()
        if Self.runsOnDummy(routeType) { message.sip = dummyRequest }
        if sipInfoMemoMessage != nil { sipInfoMemoMessage = nil }
        dropped = false
        if errorInfo.errorClass != 0 { errorInfo = ErrorInfo() }
        if keptBy != nil { keptBy = nil }
        if trace != nil { trace = nil }
        depth = 0
        releaseSlot()
    }

    /// Releases the transaction slot (a new message, or the context is closed).
    func releaseSlot() {
        if pvContextMemo != nil { pvContextMemo = nil }
        guard let p = slot else { return }
        slot = nil
        let r = slotRelease
        slotRelease = nil
        r?(p)
    }

    @inline(__always)
    func avpStack(_ slot: Int) -> [Value] {
        slot < avps.count ? avps[slot] : []
    }

    func withAVP<R>(_ slot: Int, _ body: (inout [Value]) -> R) -> R {
        if slot >= avps.count { avps.append(contentsOf: repeatElement([], count: slot - avps.count + 1)) }
        // One entry per value pushed (for reset(), and the order avp_print walks: OpenSIPS's single AVP list, newest
        // first across names); nothing recorded when no value was added (clearing, replacing in place).
        let before = avps[slot].count
        let r = body(&avps[slot])
        var added = avps[slot].count - before
        while added > 0 {
            touchedAVPs.append(slot)
            added -= 1
        }
        return r
    }
}

/// A growable C byte buffer whose address stays put between growths: what the host table hands plugins as
/// `sy_str` (valid until the next call that refills it).
final class CBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        self.capacity = max(capacity, 1)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Forgets the content (the memory is reused).
    func clear() { count = 0 }

    /// Appends bytes and returns where they start.
    @discardableResult
    func append<C: Collection>(_ bytes: C) -> Int where C.Element == UInt8 {
        let start = count
        let n = bytes.count
        if count + n > capacity {
            var c = capacity
            while c < count + n { c *= 2 }
            let nb = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
            nb.update(from: base, count: count)
            base.deallocate()
            base = nb
            capacity = c
        }
        _ = UnsafeMutableBufferPointer(start: base + count, count: n).initialize(fromContentsOf: bytes)
        count += n
        return start
    }

    /// Replaces the content with `b` followed by a NUL byte and returns it as an ABI string (len without the NUL):
    /// one copy, no allocation once the buffer has grown (maxfwd reads a header through this on every request).
    func keep(_ b: UnsafeRawBufferPointer) -> sy_str {
        let n = b.count
        if n + 1 > capacity {
            var c = capacity
            while c < n + 1 { c *= 2 }
            base.deallocate()
            base = .allocate(capacity: c)
            capacity = c
        }
        if n > 0, let src = b.baseAddress { UnsafeMutableRawPointer(base).copyMemory(from: src, byteCount: n) }
        base[n] = 0
        count = n + 1
        return sy_str(s: UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self), len: n)
    }

    /// A C string slice of the buffer.
    func str(_ start: Int, _ len: Int) -> sy_str {
        len == 0 ? sy_str(s: nil, len: 0) : sy_str(s: UnsafeRawPointer(base + start).assumingMemoryBound(to: CChar.self), len: len)
    }
}

extension ScriptContext {
    /// The tree event parameter `index` holds (ABI 1.9), or nil.
    func eventTree(at index: Int) -> ValueTree? {
        for t in eventTrees where t.index == index { return t.tree }
        return nil
    }

    /// Event parameter `index` as the script reads it: a tree as its JSON text.
    func eventParam(at index: Int) -> Value {
        guard index >= 0, index < eventParams.count else { return .null }
        if !eventTrees.isEmpty, let tree = eventTree(at: index) { return .str(tree.text) }
        return eventParams[index].value
    }

    /// The position of the event parameter called `name`, or nil.
    func eventParamIndex(_ name: String) -> Int? {
        eventParams.firstIndex { $0.name == name }
    }
}
