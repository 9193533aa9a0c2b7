// Pseudo-variable contexts (ABI 1.10): `$(<name>pv)` reads any pseudo-variable against a message the module supplies.
import SwitchyardABI

/// What a context answers for one `$(<name>pv)` read.
public enum PVContextMessage {
    /// No message: the variable reads NULL (tm's `<reply>` for a locally generated 408).
    case none
    /// A request kept with `sip_snapshot` (read as received).
    case request(OpaquePointer)
    /// A whole SIP message as received. The bytes must stay valid until the route run on the context ends.
    case message(UnsafeRawBufferPointer)
}

struct PVContextDecl {
    let name: String
    let get: @Sendable (SYContext) -> PVContextMessage

    final class Box: Sendable {
        let get: @Sendable (SYContext) -> PVContextMessage
        init(_ get: @escaping @Sendable (SYContext) -> PVContextMessage) { self.get = get }
    }

    func export() -> sy_pv_context_export {
        var item = sy_pv_context_export()
        item.name = CMemory.string(name)
        item.user = CMemory.retain(Box(get))
        item.get = { ctx, user, request, message in
            guard let ctx, let user else { return -1 }
            let box = Unmanaged<Box>.fromOpaque(user).takeUnretainedValue()
            switch box.get(SYContext(ctx)) {
            case .none:
                return 0
            case .request(let snap):
                request?.pointee = snap
                return 1
            case .message(let bytes):
                message?.pointee = sy_str(s: bytes.baseAddress?.assumingMemoryBound(to: CChar.self), len: bytes.count)
                return 1
            }
        }
        return item
    }
}

extension ModuleExportsBuilder {
    /// A pseudo-variable context `<name>`: `$(<name>pv)` in the script reads `pv` against the message `get` gives
    /// (on the calling context's thread). ABI 1.10: a core older than that refuses a plugin built with it anyway.
    public mutating func pseudoVariableContext(_ name: String, get: @escaping @Sendable (SYContext) -> PVContextMessage) {
        contextDecls.append(PVContextDecl(name: name, get: get))
    }
}
