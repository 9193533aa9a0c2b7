// MI answers given later (ABI 1.9): a handler that waits for something promises its answer and returns at once;
// transports receive such answers through a callback instead of holding a thread.
import SwitchyardABI
import Synchronization

/// An MI answer promised by `MIRequest.answerLater()`: send it exactly once, from any thread.
public final class MILaterReply: @unchecked Sendable { // the token is used once, by whoever wins `sent` (atomic)
    private let host: PluginHost
    private let token: OpaquePointer
    private let sent = Atomic<Bool>(false)

    init(host: PluginHost, token: OpaquePointer) {
        self.host = host
        self.token = token
    }

    /// Sends the answer (`.pending`/`.built` send "OK"); later calls do nothing.
    public func send(_ reply: MIReply) {
        guard !sent.exchange(true, ordering: .acquiringAndReleasing) else { return }
        switch reply {
        case .error(let code, let message, let data):
            guard let f = host.raw.pointee.mi_async_reply_error else { return }
            message.withCString { m in
                if let data { data.withCString { f(token, code, m, $0) } } else { f(token, code, m, nil) }
            }
        default:
            guard let f = host.raw.pointee.mi_async_reply_json else { return }
            var text = reply.jsonText ?? "\"OK\""
            text.withUTF8 { b in f(token, UnsafeRawPointer(b.baseAddress)?.assumingMemoryBound(to: CChar.self), b.count) }
        }
    }

    deinit {
        // Never answered (a lost reference): the core still needs its answer, and the token must be freed.
        if !sent.exchange(true, ordering: .acquiringAndReleasing), let f = host.raw.pointee.mi_async_reply_error { f(token, 500, "No answer", nil) }
    }
}

extension MIRequest {
    /// Promises the answer for later (ABI 1.9 mi_async_begin): return `.pending` from the handler and call `send` on
    /// the result once, from any thread. Nil on an older core (answer now) or when the call was answered already.
    public func answerLater() -> MILaterReply? {
        guard host.provides(\.mi_async_begin), let f = host.raw.pointee.mi_async_begin, let token = f(raw) else { return nil }
        return MILaterReply(host: host, token: token)
    }
}

/// How `PluginHost.miDispatchAsync` went.
public enum MIDispatchOutcome: Sendable {
    /// The reply was given before the call returned.
    case answered
    /// The reply comes later, from another thread.
    case later
    /// A notification: no reply.
    case none
    /// The core has no rt_mi_dispatch_async (older than ABI 1.9) or has stopped: use `miDispatch`.
    case unsupported
}

extension PluginHost {
    /// Runs one JSON-RPC request through the core's MI without holding the calling thread for a command that answers
    /// later: `reply` runs exactly once with the single-line response — before this returns (`.answered`) or later on
    /// another thread (`.later`; keep it short: queue the bytes to the transport's own thread) — or never (`.none`,
    /// `.unsupported`).
    public func miDispatchAsync(_ request: UnsafeRawBufferPointer, reply: @escaping @Sendable ([UInt8]) -> Void) -> MIDispatchOutcome {
        guard let runtime, provides(\.rt_mi_dispatch_async), let f = raw.pointee.rt_mi_dispatch_async else { return .unsupported }
        let box = Unmanaged.passRetained(ReplyBox(reply)).toOpaque()
        let rc = f(runtime, request.baseAddress?.assumingMemoryBound(to: CChar.self), request.count, { arg, json, len in
            guard let arg else { return }
            let box = Unmanaged<ReplyBox>.fromOpaque(arg).takeRetainedValue()
            box.reply(json.map { Array(UnsafeRawBufferPointer(start: $0, count: len)) } ?? [])
        }, box)
        switch rc {
        case 1: return .answered
        case 2: return .later
        default:
            Unmanaged<ReplyBox>.fromOpaque(box).release() // never called
            return rc == 0 ? .none : .unsupported
        }
    }

    /// `miDispatchAsync` over any byte collection.
    public func miDispatchAsync(_ request: some Collection<UInt8>, reply: @escaping @Sendable ([UInt8]) -> Void) -> MIDispatchOutcome {
        if let r = request.withContiguousStorageIfAvailable({ miDispatchAsync(UnsafeRawBufferPointer($0), reply: reply) }) { return r }
        return Array(request).withUnsafeBytes { miDispatchAsync($0, reply: reply) }
    }
}

private final class ReplyBox: Sendable {
    let reply: @Sendable ([UInt8]) -> Void
    init(_ reply: @escaping @Sendable ([UInt8]) -> Void) { self.reply = reply }
}
