// A transaction ("cell"): the server side of one received request and the client sides (branches) it relays to.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import Synchronization

/// Cells and branches are plain data guarded by the lock of the cell's hash bucket (see TransactionTable): every
/// read or write below happens with that lock held, on whatever thread holds it.
let maxBranches = 12

/// One outgoing request of a transaction.
final class Branch {
    let index: Int
    /// The request-URI it was sent to: read from the request line when first asked (what the core wrote there is
    /// the `$ru` of the relay), kept as a string before the request is dropped.
    private var uriText: String?
    /// The request line's URI bytes, kept when the request is dropped (a copy of those bytes costs half of making
    /// a string of them, which only a script reading `$tm.branch.uri` of an answered branch needs).
    private var uriBytes: [UInt8]?
    var uri: String {
        get {
            if let uriText { return uriText }
            if let uriBytes { return String(decoding: uriBytes, as: UTF8.self) }
            return Branch.requestURI(request)
        }
        set { uriText = newValue }
    }
    /// `$du` of the relay (empty: none).
    var dst: String
    /// q value and Path the branch was made with ($tm.branch.q/.path).
    var attrs = BranchAttrs()
    /// The request as sent (retransmitted as is; CANCEL and ACK are built from it).
    var request: [UInt8]
    var target: sy_sip_target
    var reliable: Bool { target.reliable != 0 }
    /// Last status received (0: none yet) and the final one (0: still pending).
    var lastCode = 0
    var finalCode = 0
    /// The final reply as it would be relayed upstream; nil for a timeout generated here.
    var finalReply: [UInt8]?
    /// The final reply (>= 300) as received, kept while the cell has a failure route for `$(<reply>..)` there.
    var receivedFinal: [UInt8]?
    var finalReason = ""
    var localFinal = false
    var receivedAny = false
    /// Request retransmission: next time (ms, 0 = off) and current interval.
    var retrAt: Int64 = 0
    var retrInterval: Int64 = 0
    var retrCount = 0
    /// Final-response timer (ms, 0 = off) and whether it is the INVITE one (fr_inv).
    var frAt: Int64 = 0
    var frIsInv = false
    /// CANCEL of this branch: none, owed (sent at the first provisional reply), sent.
    enum CancelState { case none, pending, sent }
    var cancel = CancelState.none
    var cancelReason = ""
    var cancelBytes: [UInt8] = []
    var cancelRetrAt: Int64 = 0
    var cancelInterval: Int64 = 0
    var cancelAnswered = false
    /// Per-branch reply route (t_on_reply in a branch route).
    var onReply: OpaquePointer?
    /// $bavp, branch flags and attributes the script set (nil: none).
    var script: BranchScript?
    /// The number of the destination's address it was sent to (DNS failover goes on with the next one).
    var addrIndex: UInt32 = 0
    /// Kept when the destination has further addresses (DNS failover); nil otherwise.
    var failover: FailoverState?

    init(index: Int, uri: String?, dst: String, request: [UInt8], target: sy_sip_target) {
        self.index = index
        uriText = uri
        self.dst = dst
        self.request = request
        self.target = target
    }

    /// Drops the stored request (a branch that needs it no more), keeping its request-URI.
    func dropRequest() {
        if uriText == nil && uriBytes == nil {
            let r = Branch.requestURIRange(request)
            uriBytes = request.withUnsafeBufferPointer { Array(UnsafeBufferPointer(rebasing: $0[r])) }
        }
        request = []
    }

    /// The URI of a request line ("METHOD SP URI SP SIP/2.0"); empty if there is none. It ends at a tab too, as
    /// the core's parser ends it.
    static func requestURI(_ r: [UInt8]) -> String {
        let range = requestURIRange(r)
        return r.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }

    static func requestURIRange(_ r: [UInt8]) -> Range<Int> {
        r.withUnsafeBufferPointer { b in
            guard let sp = b.firstIndex(of: 32) else { return 0..<0 }
            var e = sp + 1
            while e < b.count, b[e] != 32, b[e] != 9, b[e] != 13, b[e] != 10 { e += 1 }
            return (sp + 1)..<e
        }
    }
}

final class Cell {
    let hashIndex: Int
    let label: UInt32
    let isInvite: Bool
    let isCancel: Bool
    /// Locally originated (t_uac): no upstream.
    let isLocal: Bool
    /// Matching keys of the received request (one buffer); the string forms below are for the rare readers.
    let keys: CellKeys
    let viaPort: Int32
    let cseq: Int64
    var method: String { keys.text(.method) }
    var viaBranch: String { keys.text(.viaBranch) }
    var viaHost: String { keys.text(.viaHost) }
    var viaTransport: String { keys.text(.viaTransport) }
    var callID: String { keys.text(.callID) }
    var fromTag: String { keys.text(.fromTag) }
    var ruri: String { keys.text(.ruri) }
    var viaValue: String { keys.text(.viaValue) }
    var from: String { keys.text(.from) }
    var toURI: String { keys.text(.toURI) }
    /// The request kept by the core (for failure routes and replies built later); freed with the cell.
    var snapshot: OpaquePointer?
    /// What the request route changed on that request at its first relay (StoredRequest.swift); freed with it.
    var requestState: OpaquePointer?
    var upstream: sy_sip_target  // set again after REQUEST_IN callbacks (newTransaction)
    /// To tag of the replies this module generates (deterministic per request; made when first needed).
    lazy var localTag: String = TagMaker.tag(viaHost: viaHost, viaPort: viaPort, viaBranch: viaBranch, callID: callID,
                                             cseq: cseq, fromTag: fromTag)

    /// Last status sent upstream (0 none) and those bytes (re-sent to request retransmissions).
    var uasStatus = 0
    var lastReply: [UInt8] = []
    var lastReplyLocal = false
    var branches: [Branch] = []
    /// First branch of the current set (branches since the last relay).
    var firstBranch = 0
    var onFailure: OpaquePointer?
    var onReply: OpaquePointer?
    var onBranch: OpaquePointer?
    var frTimeout: Int64
    var frInvTimeout: Int64
    var wasCancelled = false
    var noNewBranches = false
    /// t_relay("no-dns-failover"): a failed branch is not tried at its destination's next address.
    var noDNSFailover = false
    /// Made or relayed by t_replicate: replies end here, nothing is sent upstream (not even a local reply).
    var replicated = false
    /// t_wait_for_new_branches: deadline of the wait (0: not waiting) and branches still awaited (-1: any number).
    var waitBranchesUntil: Int64 = 0
    var waitBranchesLeft = -1
    /// Blind branches t_write_* asked for in a branch route, added when the relay is done (TWrite.swift).
    var blindOwed = 0
    var cancelReason: String?
    var addHeaders = ""
    var flags: UInt64 = 0
    /// Upstream reply retransmission (INVITE final waiting for its ACK): next time, interval, give-up time.
    var replyRetrAt: Int64 = 0
    var replyInterval: Int64 = 0
    var replyFRAt: Int64 = 0
    /// Deadline of a transaction that has no branch and no final reply yet (0 once it has either).
    var orphanAt: Int64 = 0
    /// Set when the cell waits to be removed (absorbing late messages).
    var waitAt: Int64 = 0
    var removed = false
    /// The next cell of the same bucket (TransactionTable's list).
    var nextInBucket: Cell?
    var statCounted = false
    /// The time of the one timer entry that is live for this cell (0: none); entries at other times are stale.
    /// Written with the bucket lock held; atomic so that the timer thread can drop stale entries without taking
    /// the lock (it sees every value written before the entry it handles was queued: the inbox lock orders them).
    private let timerAt = Atomic<Int64>(0)
    var scheduledAt: Int64 {
        get { timerAt.load(ordering: .relaxed) }
        set { timerAt.store(newValue, ordering: .relaxed) }
    }
    /// Index of the branch whose reply (or timeout) completed the current set.
    var lastCompletedBranch = -1
    /// A failure route is running on this cell (its replies are the route's to make).
    var inFailureRoute = false
    /// The cell went to WAIT during its failure route: what `$(<reply>..)`/`$(<request>..)` read goes when it ends.
    var releaseAfterFailureRoute = false
    /// Callbacks other modules registered on this cell (the tm API).
    var callbacks: [Callback] = []
    /// For a locally originated request: who is told the outcome.
    var uacDone: ((UACResult) -> Void)?

    convenience init(hashIndex: Int, label: UInt32, info: MessageKeys, snapshot: OpaquePointer?, upstream: sy_sip_target,
                     isLocal: Bool, frTimeout: Int64, frInvTimeout: Int64) {
        self.init(hashIndex: hashIndex, label: label, keys: CellKeys(info), viaPort: info.viaPort, cseq: info.cseq,
                  snapshot: snapshot, upstream: upstream, isLocal: isLocal, frTimeout: frTimeout, frInvTimeout: frInvTimeout)
    }

    init(hashIndex: Int, label: UInt32, keys: CellKeys, viaPort: Int32, cseq: Int64, snapshot: OpaquePointer?,
         upstream: sy_sip_target, isLocal: Bool, frTimeout: Int64, frInvTimeout: Int64) {
        self.hashIndex = hashIndex
        self.label = label
        isInvite = keys.equals(.method, "INVITE")
        isCancel = keys.equals(.method, "CANCEL")
        self.isLocal = isLocal
        self.keys = keys
        self.viaPort = viaPort
        self.cseq = cseq
        self.snapshot = snapshot
        self.upstream = upstream
        self.frTimeout = frTimeout
        self.frInvTimeout = frInvTimeout
    }

    var currentSet: ArraySlice<Branch> { branches[firstBranch...] }
    var completed: Bool { uasStatus >= 200 }

    /// `$T_id`: label then hash index, both in reversed hex.
    var id: String { RevHex.encode(UInt32(label)) + "." + RevHex.encode(UInt32(hashIndex)) }

    /// The next time something is due on this cell (0: nothing).
    func nextDeadline() -> Int64 {
        var t: Int64 = 0
        @inline(__always) func consider(_ v: Int64) { if v > 0 && (t == 0 || v < t) { t = v } }
        for b in branches {
            consider(b.retrAt); consider(b.frAt); consider(b.cancelRetrAt)
        }
        consider(replyRetrAt); consider(replyFRAt); consider(waitAt); consider(orphanAt); consider(waitBranchesUntil)
        return t
    }
}

/// A callback another module registered (switchyard_tm.h).
struct Callback {
    let types: UInt32
    let fn: sy_tm_cb
    let param: UnsafeMutableRawPointer?
}

/// The TMCB_* kinds of switchyard_tm.h.
enum TMCB {
    static let requestIn = UInt32(SY_TMCB_REQUEST_IN.rawValue)
    static let responseIn = UInt32(SY_TMCB_RESPONSE_IN.rawValue)
    static let onFailure = UInt32(SY_TMCB_ON_FAILURE.rawValue)
    static let responseOut = UInt32(SY_TMCB_RESPONSE_OUT.rawValue)
    static let localCompleted = UInt32(SY_TMCB_LOCAL_COMPLETED.rawValue)
    static let cancelled = UInt32(SY_TMCB_TRANS_CANCELLED.rawValue)
    static let deleted = UInt32(SY_TMCB_TRANS_DELETED.rawValue)
    static let perCell = responseIn | onFailure | responseOut | cancelled | deleted
}

/// The identifying fields of a request, copied out of the core's view.
struct MessageKeys {
    var method = ""
    var ruri = ""
    var callID = ""
    var cseq: Int64 = -1
    var cseqMethod = ""
    var fromTag = ""
    var toTag = ""
    var from = ""
    var toURI = ""
    var viaBranch = ""
    var viaHost = ""
    var viaPort: Int32 = 0
    var viaTransport = ""
    var viaValue = ""
    var status = 0
    var reason = ""

    init() {}

    init(_ i: sy_sip_info) {
        method = CoreLink.text(i.method)
        callID = CoreLink.text(i.call_id)
        cseq = i.cseq
        cseqMethod = CoreLink.text(i.cseq_method)
        fromTag = CoreLink.text(i.from_tag)
        toTag = CoreLink.text(i.to_tag)
        viaBranch = CoreLink.text(i.via_branch)
        viaHost = CoreLink.text(i.via_host)
        viaPort = i.via_port
        viaTransport = CoreLink.text(i.via_transport)
        status = Int(i.status)
        reason = CoreLink.text(i.reason)
        // Only RFC 2543 matching (no magic cookie) compares these whole headers: not copied otherwise.
        if !isRFC3261 {
            ruri = CoreLink.text(i.ruri)
            from = CoreLink.text(i.from)
            toURI = CoreLink.text(i.to_uri)
            viaValue = CoreLink.text(i.via_value)
        }
    }

    var isRFC3261: Bool { viaBranch.hasPrefix("z9hG4bK") && viaBranch.utf8.count > 7 }

    /// The same test on the core's bytes: "z9hG4bK" and at least one more character.
    static func isRFC3261(_ b: sy_str) -> Bool {
        guard let p = b.s, b.len > 7 else { return false }
        return memcmp(p, "z9hG4bK", 7) == 0
    }
}

/// Hexadecimal with the least significant nibble first (OpenSIPS's branch and $T_id encoding).
enum RevHex {
    static let digits = Array("0123456789abcdef".utf8)

    static func encode(_ v: UInt32) -> String {
        if v == 0 { return "0" }
        var n = v
        var out: [UInt8] = []
        while n > 0 { out.append(digits[Int(n & 15)]); n >>= 4 }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode<S: Sequence>(_ s: S) -> UInt32? where S.Element == UInt8 {
        var v: UInt32 = 0
        var shift: UInt32 = 0
        var any = false
        for c in s {
            let d: UInt32
            switch c {
            case 48...57: d = UInt32(c - 48)
            case 97...102: d = UInt32(c - 87)
            case 65...70: d = UInt32(c - 55)
            default: return nil
            }
            guard shift < 32 else { return nil }
            v |= d << shift
            shift += 4
            any = true
        }
        return any ? v : nil
    }
}

/// The To tag of replies this module makes: the same for every retransmission of a request.
enum TagMaker {
    static func fnv(_ parts: [String], seed: UInt64) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325 ^ seed
        for p in parts {
            for c in p.utf8 { h = (h ^ UInt64(c)) &* 0x100000001b3 }
            h = (h ^ 0xff) &* 0x100000001b3
        }
        return h
    }

    static func hex(_ v: UInt64, width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    /// 4 hex digits, a dash, 32 hex digits (37 characters, as OpenSIPS's TM tags).
    static func tag(viaHost: String, viaPort: Int32, viaBranch: String, callID: String, cseq: Int64, fromTag: String) -> String {
        let a = fnv(["Switchyard-TM/tags"], seed: 0) & 0xffff
        let b = fnv([viaHost, String(viaPort), viaBranch, callID, fromTag], seed: 1)
        let c = fnv([viaBranch, callID, String(cseq), fromTag], seed: 2)
        return hex(a, width: 4) + "-" + hex(b, width: 16) + hex(c, width: 16)
    }
}
