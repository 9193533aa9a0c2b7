// The core's transaction entries (ABI 1.7) as Swift calls: build without sending, send, snapshots, contexts.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI
import SwitchyardPluginKit

/// A request or reply the core built: bytes copied out of the context, and where they go.
struct Built {
    var bytes: [UInt8]
    var target: sy_sip_target
}

/// The host table's 1.7 and 1.8 entries, checked once at load.
struct CoreLink: @unchecked Sendable {
    // Function pointers of the core's table: immutable, valid until the server stops.
    let host: PluginHost
    var api: sy_host_api { host.raw.pointee }

    /// The core builds toward a destination's next address (ABI 1.11 DNS failover); false on an older core.
    let hasFailover: Bool

    init?(host: PluginHost) {
        guard host.provides(\.sip_msg_state_free) else { return nil }
        self.host = host
        hasFailover = host.provides(\.sip_build_request_at)
    }

    /// A branch's destination failed (a failed send, a received 503, a silent timeout) and no failover follows: the
    /// core learns its address into the `dns` blacklist when that is on. Nothing on an older core.
    func learnFailed(_ target: sy_sip_target) {
        guard let f = api.rt_sip_learn_failed else { return }
        var t = target
        _ = f(host.raw.pointee.runtime, &t)
    }

    static func copy(_ s: sy_str) -> [UInt8] {
        guard let p = s.s, s.len > 0 else { return [] }
        // From a typed buffer: one memcpy (an UnsafeRawBufferPointer is copied byte by byte, and
        // Array(repeating:)/Array(unsafeUninitializedCapacity:) allocate through an unspecialized runtime entry that
        // looks up generic metadata on every call).
        return Array(UnsafeBufferPointer(start: UnsafeRawPointer(p).assumingMemoryBound(to: UInt8.self), count: s.len))
    }

    /// Byte equality of a C slice and a string (no string is made).
    static func equals(_ s: sy_str, _ t: String) -> Bool {
        var t = t
        return t.withUTF8 { u in
            guard u.count == s.len else { return false }
            guard let p = s.s, s.len > 0 else { return true }
            return memcmp(p, u.baseAddress!, s.len) == 0
        }
    }

    /// Byte equality of a C slice and a literal (method names): no string is touched.
    @inline(__always)
    static func equals(_ s: sy_str, literal t: StaticString) -> Bool {
        guard s.len == t.utf8CodeUnitCount else { return false }
        guard let p = s.s, s.len > 0 else { return true }
        return memcmp(p, t.utf8Start, s.len) == 0
    }

    /// ASCII case-insensitive equality of a C slice and a string (host names).
    static func equalsIgnoringCase(_ s: sy_str, _ t: String) -> Bool {
        var t = t
        return t.withUTF8 { u in
            guard u.count == s.len else { return false }
            guard let p = s.s, s.len > 0 else { return true }
            let a = UnsafeRawBufferPointer(start: p, count: s.len)
            for i in 0..<u.count where a[i] != u[i] {
                let x = a[i] | 0x20, y = u[i] | 0x20
                guard x == y, x >= 97, x <= 122 else { return false }
            }
            return true
        }
    }

    static func text(_ s: sy_str) -> String {
        guard let p = s.s, s.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: s.len), as: UTF8.self)
    }

    /// A non-NULL pointer for an empty body: a static string's storage (never written, never freed).
    static var emptyBody: UnsafePointer<CChar> {
        let empty: StaticString = ""
        return UnsafeRawPointer(empty.utf8Start).assumingMemoryBound(to: CChar.self)
    }

    func withStr<R>(_ s: String, _ body: (sy_str) -> R) -> R {
        var t = s
        return t.withUTF8 { b in body(sy_str(s: b.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, len: b.count)) }
    }

    func info(_ ctx: SYContext) -> sy_sip_info? {
        var out = sy_sip_info()
        return api.sip_info!(ctx.raw, &out) == 0 ? out : nil
    }

    /// The forwarded request for one branch, on a core without DNS failover; the core's error code on failure.
    func buildRequest(_ ctx: SYContext, ruri: String, dst: String, branch: sy_str) -> Result<Built, BuildFailure> {
        var out = sy_str()
        var t = sy_sip_target()
        let rc = withStr(ruri) { r in withStr(dst) { d in api.sip_build_request!(ctx.raw, r, d, branch, &out, &t) } }
        guard rc == 0 else { return .failure(BuildFailure(code: rc)) }
        return .success(Built(bytes: CoreLink.copy(out), target: t))
    }

    /// buildReply into out parameters, for the 100 Trying on every INVITE: an Optional of `Built` (an array beside
    /// the 160-byte C target) is copied and destroyed through its value witnesses, some 500 instructions a copy; the
    /// target alone is a plain C struct, copied inline. False when the core built nothing.
    func buildReply(_ ctx: SYContext, code: Int, reason: String, toTag: String, bytes: inout [UInt8],
                    target: inout sy_sip_target) -> Bool {
        var out = sy_str()
        let rc = withStr(reason) { r in withStr(toTag) { tt in
            api.sip_build_reply!(ctx.raw, Int32(code), r, tt, sy_str(), sy_str(), &out, &target)
        } }
        guard rc == 0 else { return false }
        bytes = CoreLink.copy(out)
        return true
    }

    struct BuildFailure: Error { let code: Int32 }

    /// The forwarded request toward the destination's addresses from number `from` on, with the number used and
    /// how many the destination has.
    func buildRequest(_ ctx: SYContext, ruri: String, dst: String, branch: sy_str, from: UInt32)
        -> Result<(Built, UInt32, UInt32), BuildFailure> {
        var built = Built(bytes: [], target: sy_sip_target())
        var used: UInt32 = 0, count: UInt32 = 1
        let rc = buildRequest(ctx, ruri: ruri, dst: dst, branch: branch, from: from, into: &built, used: &used, count: &count)
        guard rc == 0 else { return .failure(BuildFailure(code: rc)) }
        return .success((built, used, count))
    }

    /// The same into out parameters (t_relay's path: a Result of this tuple is copied through its value witnesses,
    /// ~400 instructions a copy). 0, or the core's error code: then `built.bytes` is untouched, while `built.target`
    /// may hold what the core wrote into it before it failed (not to be used).
    func buildRequest(_ ctx: SYContext, ruri: String, dst: String, branch: sy_str, from: UInt32, into built: inout Built,
                      used: inout UInt32, count: inout UInt32) -> Int32 {
        guard let f = api.sip_build_request_at else { return -4 }
        var out = sy_str()
        let rc = withStr(ruri) { r in withStr(dst) { d in f(ctx.raw, r, d, branch, from, &used, &count, &out, &built.target) } }
        guard rc == 0 else { return rc }
        built.bytes = CoreLink.copy(out)
        return 0
    }

    /// Builds the forwarded request (no new branch: the core's stateless one) and sends it from the core's buffer:
    /// nothing is kept, so nothing is copied (the end-to-end ACK of a 2xx). 0, the core's error code, or -6.
    /// `branch` empty: the core's stateless Via branch.
    func forwardStateless(_ ctx: SYContext, branch: sy_str) -> Int32 {
        var out = sy_str()
        var t = sy_sip_target()
        let rc = api.sip_build_request!(ctx.raw, sy_str(), sy_str(), branch, &out, &t)
        guard rc == 0 else { return rc }
        return api.sip_send!(&t, out.s, out.len) == 0 ? 0 : -6
    }

    /// `printSet`: a 3xx carries the destination set (t_reply's, not t_reply_with_body's): the core prints it only
    /// when given no body at all (body.s NULL), so without it an empty body is handed as a non-NULL pointer.
    func buildReply(_ ctx: SYContext, code: Int, reason: String, toTag: String, extra: String = "", body: String = "",
                    printSet: Bool = false) -> Built? {
        var out = sy_str()
        var t = sy_sip_target()
        let rc = withStr(reason) { r in withStr(toTag) { tt in withStr(extra) { x in withStr(body) { b in
            var b = b
            if body.isEmpty { b = printSet ? sy_str() : sy_str(s: CoreLink.emptyBody, len: 0) }
            return api.sip_build_reply!(ctx.raw, Int32(code), r, tt, x, b, &out, &t)
        } } } }
        guard rc == 0 else { return nil }
        return Built(bytes: CoreLink.copy(out), target: t)
    }

    /// Where replies to the context's request go.
    func replyTarget(_ ctx: SYContext) -> sy_sip_target? {
        var out = sy_str()
        var t = sy_sip_target()
        return api.sip_build_reply!(ctx.raw, 0, sy_str(), sy_str(), sy_str(), sy_str(), &out, &t) == 0 ? t : nil
    }

    func buildRelayed(_ ctx: SYContext) -> [UInt8]? {
        var out = sy_str()
        return api.sip_build_relayed!(ctx.raw, &out) == 0 ? CoreLink.copy(out) : nil
    }

    @discardableResult
    func send(_ target: sy_sip_target, _ bytes: [UInt8]) -> Bool {
        var t = target
        return bytes.withUnsafeBufferPointer { b in
            b.withMemoryRebound(to: CChar.self) { api.sip_send!(&t, $0.baseAddress, $0.count) == 0 }
        }
    }

    func snapshot(_ ctx: SYContext) -> OpaquePointer? { api.sip_snapshot!(ctx.raw) }
    func snapshotFree(_ s: OpaquePointer) { api.sip_snapshot_free!(s) }

    func open(_ snap: OpaquePointer, kind: RouteMask, parent: SYContext?) -> SYContext? {
        api.sip_ctx_open!(snap, kind.rawValue, parent?.raw).map { SYContext($0) }
    }

    func close(_ ctx: SYContext, saveTo: OpaquePointer?) { api.sip_ctx_close!(ctx.raw, saveTo) }

    /// A route by kind and name, through this plugin's own core (rt_route_find_kind on a 1.9 core).
    func route(_ kind: RouteMask, _ name: String) -> OpaquePointer? { host.routeFind(kind, name) }

    /// Runs a route on a context; returns its code (0 when it ended with exit/drop).
    @discardableResult
    func run(_ ctx: SYContext, _ route: OpaquePointer) -> Int32 { api.route_run!(ctx.raw, route) }

    func dropped(_ ctx: SYContext) -> Bool { api.ctx_dropped!(ctx.raw) == 1 }

    func slot(_ ctx: SYContext) -> UnsafeMutableRawPointer? { api.ctx_slot_get!(ctx.raw) }

    func setSlot(_ ctx: SYContext, _ p: UnsafeMutableRawPointer?, release: (@convention(c) (UnsafeMutableRawPointer?) -> Void)?) {
        _ = api.ctx_slot_set!(ctx.raw, p, release)
    }

    /// The branches added with append_branch() (uri, destination).
    func branches(_ ctx: SYContext) -> [(String, String)] {
        var out: [(String, String)] = []
        var i: UInt32 = 0
        while true {
            var u = sy_str(), d = sy_str()
            guard api.sip_branch_get!(ctx.raw, i, &u, &d) == 0 else { break }
            out.append((CoreLink.text(u), CoreLink.text(d)))
            i += 1
        }
        return out
    }

    func clearBranches(_ ctx: SYContext) { api.sip_branches_clear!(ctx.raw) }

    /// q value and Path of branch `index` (-1: the request-URI branch) of the context (ABI 1.9); none on an older core.
    func branchAttrs(_ ctx: SYContext, _ index: Int64) -> BranchAttrs {
        guard host.provides(\.sip_branch_attrs), let f = api.sip_branch_attrs else { return BranchAttrs() }
        var q: Int32 = -1
        var path = sy_str()
        guard f(ctx.raw, index, &q, &path) == 0 else { return BranchAttrs() }
        return BranchAttrs(q: q, path: CoreLink.text(path))
    }

    /// What a branch route may change on the request, to put back for the next branch (ABI 1.8).
    func msgSave(_ ctx: SYContext) -> OpaquePointer? { api.sip_msg_save!(ctx.raw) }
    func msgRestore(_ ctx: SYContext, _ s: OpaquePointer) { _ = api.sip_msg_restore!(ctx.raw, s) }
    func msgFree(_ s: OpaquePointer) { api.sip_msg_state_free!(s) }
}
