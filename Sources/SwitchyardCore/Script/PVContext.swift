import SwitchyardABI
import SwitchyardSIP

/// A pseudo-variable context, `$(<name>pv)` (OpenSIPS's pv contexts; tm registers `request` and `reply`): reads any
/// pseudo-variable against another message than the route's own, which the registering module supplies.
public struct PVContext: Sendable {
    /// Where the message comes from: a module's C callback (ABI 1.10), or a Swift closure (core-side contexts).
    public enum Source: @unchecked Sendable {
        // The C function pointer and its user pointer are immutable after startup; the plugin answers for `user`.
        case plugin(get: sy_pv_context_fn, user: UnsafeMutableRawPointer?)
        case native(@Sendable (ScriptContext) -> ScriptMessage?)
    }

    public let name: String
    public let module: String
    public let source: Source

    public init(name: String, module: String, source: Source) {
        self.name = name
        self.module = module
        self.source = source
    }

    /// The message the context designates for a read on ctx; nil when there is none (the variable reads null).
    func message(_ ctx: ScriptContext) -> ScriptMessage? {
        switch source {
        case .native(let f): return f(ctx)
        case .plugin(let get, let user):
            var request: OpaquePointer? = nil
            var bytes = sy_str(s: nil, len: 0)
            let ctxPtr = OpaquePointer(Unmanaged.passUnretained(ctx).toOpaque())
            guard get(ctxPtr, user, &request, &bytes) == 1 else { return nil }
            if let request {
                let snap = Unmanaged<RequestSnapshot>.fromOpaque(UnsafeRawPointer(request)).takeUnretainedValue()
                return ScriptMessage(sip: snap.message, origin: snap.origin)
            }
            guard let p = bytes.s, bytes.len > 0 else { return nil }
            // Several reads of one reply (`$(<reply>rs) $(<reply>rr)`) parse it, and log a failure, once.
            if let memo = ctx.pvContextMemo, memo.bytes == UnsafeRawPointer(p), memo.count == bytes.len {
                return memo.message
            }
            let copy = Array(UnsafeRawBufferPointer(start: p, count: bytes.len))
            var parsed: ScriptMessage? = nil
            do {
                parsed = ScriptMessage(sip: try SIPMessage.parse(copy), origin: nil)
            } catch {
                ctx.engine.log.error("$(<\(name)>...): module \(module) handed over a message that does not parse: \(error)")
            }
            ctx.pvContextMemo = (UnsafeRawPointer(p), bytes.len, parsed)
            return parsed
        }
    }
}

/// `$(<ctx>pv[index]{trans})`: the inner variable (with its index and transformations) read with the context's
/// message in place of the route's; null, transformations not run, when the context has no message. Read-only.
final class ContextPVAccessor: PVAccessor, @unchecked Sendable {
    // @unchecked: both fields are `let`, set at resolve time before any worker runs, and only read afterwards;
    // a subclass of the (unchecked) PVAccessor must restate it; this subclass adds no mutable state.
    let context: PVContext
    let inner: ResolvedPV

    init(context: PVContext, inner: ResolvedPV) {
        self.context = context
        self.inner = inner
    }

    /// Runs `body` on ctx with the context's message swapped in (put back after, also for nested contexts).
    private func withMessage<R>(_ ctx: ScriptContext, _ none: R, _ body: () -> R) -> R {
        guard let m = context.message(ctx) else { return none }
        var saved = m
        swap(&saved, &ctx.message)
        defer { swap(&saved, &ctx.message) }
        return body()
    }

    override func get(_ ctx: ScriptContext) -> Value {
        withMessage(ctx, .null) { inner.get(ctx) }
    }

    override func all(_ ctx: ScriptContext) -> [Value] {
        withMessage(ctx, []) { inner.values(ctx) }
    }
}
