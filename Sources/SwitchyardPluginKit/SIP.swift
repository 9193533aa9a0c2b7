// SIP conveniences (ABI 1.4): transports for proto_* modules, and the host's SIP message functions.
#if canImport(Glibc)
import Glibc
#endif
import SwitchyardABI

/// A listening socket of a transport module. The core calls `serve` on each worker thread it starts for the
/// socket (return only after `stop`), `send` from any thread.
public protocol SIPListener: AnyObject, Sendable {
    /// Reads messages until `stop()`, handing each to `host.sipReceive(worker:...)`.
    func serve(worker: OpaquePointer)
    /// Sends one whole message; `conn` is a connection id from `sipReceive` (streams), 0 = any / new.
    func send(conn: UInt64, to address: UnsafePointer<sockaddr>, length: socklen_t, bytes: UnsafeRawBufferPointer) -> Bool
    func stop()
}

/// What `ModuleExportsBuilder.transport` declares.
struct ProtoDecl {
    let name: String
    let defaultPort: UInt16
    let stream: Bool
    let listen: @Sendable (UnsafePointer<sockaddr>, socklen_t) throws -> any SIPListener
}

final class ProtoBox: Sendable {
    let listen: @Sendable (UnsafePointer<sockaddr>, socklen_t) throws -> any SIPListener
    init(_ listen: @escaping @Sendable (UnsafePointer<sockaddr>, socklen_t) throws -> any SIPListener) { self.listen = listen }
}

/// Keeps a listener alive behind the `void *` the core holds.
final class ListenerBox: Sendable {
    let listener: any SIPListener
    init(_ l: any SIPListener) { listener = l }
    static func from(_ p: UnsafeMutableRawPointer) -> any SIPListener {
        Unmanaged<ListenerBox>.fromOpaque(p).takeUnretainedValue().listener
    }
}

extension ProtoDecl {
    func export() -> sy_proto_export {
        var e = sy_proto_export()
        e.name = CMemory.string(name)
        e.default_port = defaultPort
        e.flags = stream ? UInt32(SY_PROTO_STREAM.rawValue) : 0
        e.user = CMemory.retain(ProtoBox(listen))
        e.listen = { sa, len, err, errlen, user in
            let box = Unmanaged<ProtoBox>.fromOpaque(user!).takeUnretainedValue()
            do {
                let l = try box.listen(sa!, len)
                return Unmanaged.passRetained(ListenerBox(l)).toOpaque()  // lives as long as the server
            } catch {
                let text = Array("\(error)".utf8.prefix(max(0, errlen - 1)))
                if let err, errlen > 0 {
                    for (i, c) in text.enumerated() { err[i] = CChar(bitPattern: c) }
                    err[text.count] = 0
                }
                return nil
            }
        }
        e.serve = { l, w, _ in
            guard let l, let w else { return }
            ListenerBox.from(l).serve(worker: w)
        }
        e.send = { l, conn, dst, dstLen, buf, len, _ in
            guard let l, let dst, let buf else { return -1 }
            return ListenerBox.from(l).send(conn: conn, to: dst, length: dstLen, bytes: UnsafeRawBufferPointer(start: buf, count: len)) ? 0 : -1
        }
        e.stop = { l, _ in
            guard let l else { return }
            ListenerBox.from(l).stop()
        }
        return e
    }
}

extension ModuleExportsBuilder {
    /// A SIP transport (`socket = name:host:port`). `listen` opens a socket at startup (throw to refuse with a reason).
    public mutating func transport(_ name: String, defaultPort: UInt16 = 5060, stream: Bool = false,
                                   listen: @escaping @Sendable (UnsafePointer<sockaddr>, socklen_t) throws -> any SIPListener) {
        protoDecls.append(ProtoDecl(name: name, defaultPort: defaultPort, stream: stream, listen: listen))
    }
}

extension PluginHost {
    /// Hands one received message to the core (from `serve`, on the worker's thread). False if it was rejected.
    @discardableResult
    public func sipReceive(worker: OpaquePointer, conn: UInt64, source: UnsafePointer<sockaddr>, sourceLength: socklen_t,
                           bytes: UnsafeRawBufferPointer) -> Bool {
        guard provides(\.sip_receive), let f = raw.pointee.sip_receive else { return false }
        return f(worker, conn, source, sourceLength, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count) == 0
    }

    /// Stateless reply to the context's request. 1 sent, -1 no request, -2 not sent.
    public func sipReply(_ ctx: SYContext, code: Int, reason: String, extraHeaders: String = "") -> Int32 {
        guard provides(\.sip_reply), let f = raw.pointee.sip_reply else { return -1 }
        var r = reason, x = extraHeaders
        return r.withUTF8 { rb in
            x.withUTF8 { xb in
                f(ctx.raw, Int32(code), SYStr.make(rb), SYStr.make(xb))
            }
        }
    }

    /// The index-th header called `name` of the context's message (as changed so far); nil if absent.
    public func sipHeader(_ ctx: SYContext, _ name: String, index: Int = 0) -> String? {
        guard provides(\.sip_header_get), let f = raw.pointee.sip_header_get else { return nil }
        var n = name
        var out = sy_str()
        let rc = n.withUTF8 { f(ctx.raw, SYStr.make($0), UInt32(index), &out) }
        guard rc == 0 else { return nil }
        return SYStr.string(out)
    }

    /// The index-th header called `name` as bytes, lent to `body` for the call only; nil if absent. No string is
    /// made on either side (maxfwd reads Max-Forwards on every request).
    public func withSIPHeader<R>(_ ctx: SYContext, _ name: StaticString, index: Int = 0,
                                 _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard provides(\.sip_header_get), let f = raw.pointee.sip_header_get else { return nil }
        var out = sy_str()
        guard f(ctx.raw, SYStr.make(name), UInt32(index), &out) == 0 else { return nil }
        return body(UnsafeRawBufferPointer(start: out.s, count: out.s == nil ? 0 : out.len))
    }

    /// True when the context runs on a received ACK request (read from the core's parsed request line, no string
    /// made): sl and signaling never answer one, as OpenSIPS.
    public func sipIsACK(_ ctx: SYContext) -> Bool {
        guard provides(\.sip_info), let f = raw.pointee.sip_info else { return false }
        var info = sy_sip_info()
        guard f(ctx.raw, &info) == 0, info.is_request != 0 else { return false }
        let m = info.method.bytes
        return m.count == 3 && m[0] == UInt8(ascii: "A") && m[1] == UInt8(ascii: "C") && m[2] == UInt8(ascii: "K")
    }

    /// True when the context runs on a received SIP message.
    public func sipHasMessage(_ ctx: SYContext) -> Bool {
        guard provides(\.sip_header_get), let f = raw.pointee.sip_header_get else { return false }
        var n = "Call-ID"
        var out = sy_str()
        return n.withUTF8 { f(ctx.raw, SYStr.make($0), 0, &out) } != -2
    }

    /// Replaces (or adds) a header in what is sent on.
    @discardableResult
    public func sipHeaderSet(_ ctx: SYContext, _ name: String, _ value: String) -> Bool {
        guard provides(\.sip_header_set), let f = raw.pointee.sip_header_set else { return false }
        var n = name, v = value
        return n.withUTF8 { nb in v.withUTF8 { vb in f(ctx.raw, SYStr.make(nb), SYStr.make(vb)) } } == 0
    }

    /// `sipHeaderSet` with the name and value as bytes (no string made).
    @discardableResult
    public func sipHeaderSet(_ ctx: SYContext, _ name: StaticString, bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard provides(\.sip_header_set), let f = raw.pointee.sip_header_set else { return false }
        // An empty value is "" (a null pointer would mean remove).
        let value = bytes.isEmpty ? SYStr.make("") : SYStr.make(bytes)
        return f(ctx.raw, SYStr.make(name), value) == 0
    }

    /// Removes the first header called `name` from what is sent on; false if there was none.
    @discardableResult
    public func sipHeaderRemove(_ ctx: SYContext, _ name: String) -> Bool {
        guard provides(\.sip_header_set), let f = raw.pointee.sip_header_set else { return false }
        var n = name
        return n.withUTF8 { nb in f(ctx.raw, SYStr.make(nb), sy_str(s: nil, len: 0)) } == 0
    }

    /// Adds a whole header line ("Name: value") first or last in what is sent on.
    @discardableResult
    public func sipHeaderAdd(_ ctx: SYContext, _ line: String, atTop: Bool) -> Bool {
        guard provides(\.sip_header_add), let f = raw.pointee.sip_header_add else { return false }
        var l = line
        return l.withUTF8 { f(ctx.raw, SYStr.make($0), atTop ? 1 : 0) } == 0
    }

    /// Adds a whole header line ("Name: value") right after (or before) the first header called `anchor` in what is
    /// sent on (ABI 1.11). Returns 0, -1 no header called `anchor`, -2 no SIP message, -3 refused (no "Name:", or a
    /// Via), -4 the core is older than 1.11, -5 a reply built here (local_reply_route).
    @discardableResult
    public func sipHeaderInsert(_ ctx: SYContext, _ line: String, anchor: String, after: Bool) -> Int32 {
        guard provides(\.sip_header_insert), let f = raw.pointee.sip_header_insert else { return -4 }
        var l = line, a = anchor
        return l.withUTF8 { lb in a.withUTF8 { ab in f(ctx.raw, SYStr.make(lb), SYStr.make(ab), after ? 1 : 0) } }
    }

    /// Keeps a whole header line ("Name: value") for every reply the core builds later for the context's request
    /// (ABI 1.11; OpenSIPS's append_to_reply). False when refused (not a header line, a Via, no request) or the core
    /// is older.
    @discardableResult
    public func sipReplyHeaderAdd(_ ctx: SYContext, _ line: String) -> Bool {
        guard provides(\.sip_reply_header_add), let f = raw.pointee.sip_reply_header_add else { return false }
        var l = line
        return l.withUTF8 { f(ctx.raw, SYStr.make($0)) } == 0
    }

    /// Sends a stateless request from the core; `done` gets the final code (408 timeout, 477 not sent, 0 the server
    /// stopped first) on a core thread. False (and `done` is never called) if it was not queued.
    @discardableResult
    public func sipRequest(method: String, ruri: String, destination: String = "", extraHeaders: String = "",
                           timeoutMS: UInt32, done: @escaping @Sendable (Int) -> Void) -> Bool {
        if runtime != nil { return sipRequest(method: method, ruri: ruri, destination: destination, extraHeaders: extraHeaders,
                                              socket: "", timeoutMS: timeoutMS, done: done) == 0 }
        guard provides(\.sip_request), let f = raw.pointee.sip_request else { return false }
        let arg = Unmanaged.passRetained(DoneBox(done)).toOpaque()
        var m = method, r = ruri, d = destination, x = extraHeaders
        let rc = m.withUTF8 { mb in r.withUTF8 { rb in d.withUTF8 { db in x.withUTF8 { xb in
            f(SYStr.make(mb), SYStr.make(rb), SYStr.make(db), SYStr.make(xb), timeoutMS, DoneBox.fire, arg)
        } } } }
        if rc != 0 { Unmanaged<DoneBox>.fromOpaque(arg).release() }
        return rc == 0
    }

    /// `sipRequest` sent from the listening socket `socket` (`[proto:]host[:port]`; ABI 1.5). Returns the core's
    /// code: 0 queued (`done` will be called), -1 no SIP transport, -2 bad arguments, -3 not a listening socket of
    /// the request's transport, -4 the core is older than ABI 1.5 (no socket choice).
    public func sipRequest(method: String, ruri: String, destination: String = "", extraHeaders: String = "",
                           socket: String, timeoutMS: UInt32, done: @escaping @Sendable (Int) -> Void) -> Int32 {
        let rt = runtime
        let viaRuntime = rt != nil && raw.pointee.rt_sip_request != nil
        guard viaRuntime || provides(\.sip_request_from) else { return -4 }
        let arg = Unmanaged.passRetained(DoneBox(done)).toOpaque()
        var m = method, r = ruri, d = destination, x = extraHeaders, so = socket
        let rc: Int32 = m.withUTF8 { mb in r.withUTF8 { rb in d.withUTF8 { db in x.withUTF8 { xb in so.withUTF8 { sb in
            if viaRuntime, let rt, let f = raw.pointee.rt_sip_request {
                return f(rt, SYStr.make(mb), SYStr.make(rb), SYStr.make(db), SYStr.make(xb), SYStr.make(sb), timeoutMS, DoneBox.fire, arg)
            }
            return raw.pointee.sip_request_from?(SYStr.make(mb), SYStr.make(rb), SYStr.make(db), SYStr.make(xb), SYStr.make(sb),
                                                 timeoutMS, DoneBox.fire, arg) ?? -4
        } } } } }
        if rc != 0 { Unmanaged<DoneBox>.fromOpaque(arg).release() }
        return rc
    }
}

/// A request's completion, kept alive (retained) until the core calls `done` once.
private final class DoneBox: Sendable {
    let done: @Sendable (Int) -> Void
    init(_ d: @escaping @Sendable (Int) -> Void) { done = d }
    /// The C completion: takes back the retain of the request's box and calls it once.
    static let fire: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Void = { arg, code in
        Unmanaged<DoneBox>.fromOpaque(arg!).takeRetainedValue().done(Int(code))
    }
}

/// sy_str helpers.
enum SYStr {
    /// `utf8Start` traps for a StaticString holding one scalar (no pointer representation): only literals of text.
    static func make(_ s: StaticString) -> sy_str {
        precondition(s.hasPointerRepresentation, "SYStr.make needs a string literal, not a single scalar")
        return sy_str(s: UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self), len: s.utf8CodeUnitCount)
    }
    static func make(_ b: UnsafeBufferPointer<UInt8>) -> sy_str {
        sy_str(s: b.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, len: b.count)
    }
    static func string(_ s: sy_str) -> String {
        guard let p = s.s, s.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: s.len), as: UTF8.self)
    }
}
